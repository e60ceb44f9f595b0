// Who a STOMP session or an HTTP request acts as. The type is the broker's own Principal (a
// type-only import: auth/ has no runtime dependency on the broker).
import crypto from 'node:crypto';
import type { Principal } from '../stomp';

export type { Principal };
// moderator: may delete any comment on shorts (docs/PROTOCOL.md, After the show).
// turn-sidecar: may only SEND TURN events to /app/ops.turn.events (auth/stomp-auth.ts), so the
// token stored next to coturn is worth nothing else to whoever reads it.
export type Role = 'busker' | 'ops' | 'moderator' | 'turn-sidecar';
export const ROLES: readonly Role[] = ['busker', 'ops', 'moderator', 'turn-sidecar'];

/**
 * An anonymous audience member. The label is random per session and then stable for that session:
 * chat shows the same `guest-4821` for every message of one viewer, and nothing links two sessions.
 */
export function anonymousPrincipal(): Principal {
  const n = crypto.randomInt(1000, 10000);
  const id = `anon-${crypto.randomBytes(6).toString('hex')}`;
  return { id, name: `guest-${n}`, roles: [], anonymous: true };
}

export function hasRole(p: Principal | null | undefined, role: Role): boolean {
  return !!p && !p.anonymous && p.roles.includes(role);
}
