// Who is using this browser: a JWT kept in localStorage, its claims read (not verified: the
// service verifies) to label the UI and to know when it expires.
import { devToken } from './api';

const KEY = 'busking.token';

export interface Identity { token: string; id: string; name: string; roles: string[]; expiresAt: number | null }

function decodeClaims(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '=');
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

export function identityOf(token: string): Identity | null {
  const c = decodeClaims(token.trim());
  if (!c || typeof c.sub !== 'string') return null;
  const exp = typeof c.exp === 'number' ? c.exp * 1000 : null;
  if (exp !== null && exp <= Date.now()) return null;
  return {
    token: token.trim(),
    id: c.sub,
    name: typeof c.name === 'string' && c.name ? c.name : c.sub,
    roles: Array.isArray(c.roles) ? c.roles.filter((r): r is string => typeof r === 'string') : [],
    expiresAt: exp,
  };
}

export function currentIdentity(): Identity | null {
  let token: string | null = null;
  try { token = localStorage.getItem(KEY); } catch { /* storage blocked: stay anonymous */ }
  const id = token ? identityOf(token) : null;
  if (token && !id) signOut(); // expired or garbage: forget it rather than fail every connect
  return id;
}

/** Keeps a pasted token (from the identity provider). Null when it is not a usable JWT. */
export function useToken(token: string): Identity | null {
  const id = identityOf(token);
  if (id) localStorage.setItem(KEY, id.token);
  return id;
}

/** The embedded development setup's token issuer. */
export async function devSignIn(name: string, roles: string[]): Promise<Identity> {
  const { token } = await devToken(name, roles);
  const id = useToken(token);
  if (!id) throw new Error('the service issued a token this page cannot read');
  return id;
}

export function signOut(): void {
  try { localStorage.removeItem(KEY); } catch { /* ignore */ }
}

export function hasRole(id: Identity | null, role: string): boolean {
  return !!id && id.roles.includes(role);
}
