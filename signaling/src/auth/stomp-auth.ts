// The STOMP side of auth: the broker's Authenticator (CONNECT headers → Principal) and the
// destination rules (PermissionCheck) that decide who may SEND and SUBSCRIBE where.
import type { PermissionCheck } from '../stomp';
import { TURN_EVENTS_APP_DESTINATION } from '../../../turn/src/relay';
import { AuthError, TokenVerifier } from './jwt';
import { Principal, anonymousPrincipal, hasRole } from './principal';

/** `Authorization: Bearer x` (any case) or `passcode: x` (what browser stompjs can send). */
export function tokenFromHeaders(headers: Record<string, string>): string | null {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === 'authorization' && typeof v === 'string') {
      const m = /^Bearer\s+(.+)$/i.exec(v.trim());
      if (m) return m[1].trim();
      throw new AuthError('Authorization header must be "Bearer <jwt>"');
    }
  }
  const pass = headers.passcode;
  return typeof pass === 'string' && pass.trim() ? pass.trim() : null;
}

export function makeAuthenticator(verifier: TokenVerifier, opts: { anonymousViewing: boolean }) {
  return (headers: Record<string, string>): Principal | null => {
    const token = tokenFromHeaders(headers);
    if (!token) {
      if (!opts.anonymousViewing) throw new AuthError('a token is required');
      return anonymousPrincipal();
    }
    return verifier.verify(token);
  };
}

/** Wildcard match for dotted destinations: `*` one segment, `**` the rest. */
export function destinationMatches(pattern: string, destination: string): boolean {
  if (pattern.endsWith('.**')) return destination === pattern.slice(0, -3) || destination.startsWith(pattern.slice(0, -2));
  const p = pattern.split('.');
  const d = destination.split('.');
  if (p.length !== d.length) return false;
  return p.every((seg, i) => seg === '*' || seg === d[i]);
}

/**
 * SEND only to /app/**; SUBSCRIBE to /topic/** and /user/**; /topic/ops.** only for role ops.
 * Anything else (subscribing to /queue/x, sending to /topic/x) is refused: clients talk to the
 * application, never straight to each other.
 */
export const permissions: PermissionCheck = withTurnSidecarRole(productPermissions);

function productPermissions(principal: Principal | null, action: 'send' | 'subscribe', destination: string): boolean {
  if (destination.includes('..') || /[\s\0]/.test(destination)) return false;
  if (action === 'send') return destination.startsWith('/app/');
  if (destination === '/topic/ops' || destination.startsWith('/topic/ops.')) return hasRole(principal, 'ops');
  return destination.startsWith('/topic/') || destination.startsWith('/user/');
}

/**
 * Whatever the policy, a session with role turn-sidecar may SEND only to the TURN events
 * destination and SUBSCRIBE only to its own error queue: the sidecar's token lives next to coturn,
 * and reading it must not give ops's view of the service (or anything else).
 */
export function withTurnSidecarRole(check: PermissionCheck): PermissionCheck {
  return (principal, action, destination) => {
    if (!hasRole(principal, 'turn-sidecar')) return check(principal, action, destination);
    return action === 'send' ? destination === TURN_EVENTS_APP_DESTINATION : destination === '/user/queue/errors';
  };
}
