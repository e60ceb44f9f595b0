// Who a STOMP session or an HTTP request acts as. Structurally the broker's Principal
// (signaling/src/stomp), kept here too so auth/ does not depend on the broker's module.
import crypto from 'node:crypto';

export type Role = 'busker' | 'ops';
export const ROLES: readonly Role[] = ['busker', 'ops'];

export interface Principal {
  id: string;
  name: string;
  roles: string[];
  anonymous: boolean;
  /** Epoch ms; the session ends at this time unless /app/auth.refresh replaced the token. */
  expiresAt?: number;
}

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
