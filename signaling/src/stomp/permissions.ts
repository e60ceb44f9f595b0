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

const ACTIONS: ReadonlySet<string> = new Set(['send', 'subscribe']);

/**
 * Validates rules given as data (a JSON rules file): an array of {pattern, allow, roles?,
 * authenticated?}, or {rules: [...]}. Throws an Error naming the bad entry.
 */
export function parsePermissionRules(data: unknown): PermissionRule[] {
  const list = Array.isArray(data) ? data : data && typeof data === 'object' && Array.isArray((data as { rules?: unknown }).rules) ? (data as { rules: unknown[] }).rules : null;
  if (!list) throw new Error('permission rules must be an array of {pattern, allow, roles?, authenticated?} (or {"rules": [...]})');
  return list.map((r, i) => {
    const at = `rule ${i}`;
    if (!r || typeof r !== 'object' || Array.isArray(r)) throw new Error(`${at}: must be an object`);
    const o = r as Record<string, unknown>;
    for (const k of Object.keys(o)) if (!['pattern', 'allow', 'roles', 'authenticated', 'comment'].includes(k)) throw new Error(`${at}: unknown field "${k}"`);
    if (typeof o.pattern !== 'string' || !o.pattern.startsWith('/')) throw new Error(`${at}: pattern must be a string starting with /`);
    if (!Array.isArray(o.allow) || o.allow.some((a) => typeof a !== 'string' || !ACTIONS.has(a))) throw new Error(`${at}: allow must be a list of "send" and/or "subscribe" ([] denies)`);
    if (o.roles !== undefined && (!Array.isArray(o.roles) || o.roles.some((x) => typeof x !== 'string'))) throw new Error(`${at}: roles must be a list of strings`);
    if (o.authenticated !== undefined && typeof o.authenticated !== 'boolean') throw new Error(`${at}: authenticated must be true or false`);
    const rule: PermissionRule = { pattern: o.pattern, allow: o.allow as PermissionAction[] };
    if (o.roles !== undefined) rule.roles = o.roles as string[];
    if (o.authenticated !== undefined) rule.authenticated = o.authenticated;
    return rule;
  });
}
