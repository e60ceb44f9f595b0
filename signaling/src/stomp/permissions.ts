// Who may SEND or SUBSCRIBE where. A PermissionCheck is a plain function; permissionRules() builds
// one from an ordered rule list so a deployment can describe its policy as data.
import { PermissionAction, PermissionCheck, Principal } from './types';

export interface PermissionRule {
  /** Destination pattern: `*` matches within one segment (no '/' or '.'), `**` matches anything. */
  pattern: string;
  /** Actions the rule allows; an empty list makes it a deny rule. */
  allow: PermissionAction[];
  /** When given, the rule applies only to principals with one of these roles. */
  roles?: string[];
  /** When true, the rule applies only to authenticated (non-anonymous) principals. */
  authenticated?: boolean;
}

/** Compiles a destination pattern to a RegExp. */
export function compilePattern(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/.]*';
    else re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$');
}

/** Destinations no rule may allow: path tricks, control characters. */
function malformed(destination: string): boolean {
  return destination.length === 0 || destination[0] !== '/' || destination.includes('..') || /[\0-\x1f\x7f]/.test(destination);
}

/** First matching rule decides; no matching rule denies. */
export function permissionRules(rules: PermissionRule[]): PermissionCheck {
  const compiled = rules.map((r) => ({ ...r, re: compilePattern(r.pattern) }));
  return (principal: Principal | null, action: PermissionAction, destination: string): boolean => {
    if (malformed(destination)) return false;
    for (const r of compiled) {
      if (!r.re.test(destination)) continue;
      if (r.authenticated && (!principal || principal.anonymous)) continue;
      if (r.roles && !(principal && r.roles.some((x) => principal.roles.includes(x)))) continue;
      return r.allow.includes(action);
    }
    return false;
  };
}

/**
 * The default policy: clients SEND only to the application (/app/**) and may SUBSCRIBE to topics,
 * queues and their own /user/** destinations. Talking to each other directly (SEND /topic) needs an
 * explicit rule.
 */
export const DEFAULT_RULES: PermissionRule[] = [
  { pattern: '/app/**', allow: ['send'] },
  { pattern: '/topic/**', allow: ['subscribe'] },
  { pattern: '/queue/**', allow: ['subscribe'] },
  { pattern: '/user/**', allow: ['subscribe'] },
];

export const defaultPermissions: PermissionCheck = permissionRules(DEFAULT_RULES);

/** Everything allowed (tests, trusted backends). */
export const openPermissions: PermissionCheck = (_p, _a, d) => !malformed(d);
