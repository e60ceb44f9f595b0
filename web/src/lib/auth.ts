// Who is using this browser: a JWT kept in localStorage, its claims read (not verified: the
// service verifies) to label the UI and to know when it expires.
import { devToken } from './api';

const KEY = 'busking.token';
const SOURCE_KEY = 'busking.token.source';

/** Where the token came from: the embedded development issuer, or anywhere else (pasted, an embedding app). */
export type TokenSource = 'dev' | 'external';

export interface Identity {
  token: string; id: string; name: string; roles: string[];
  expiresAt: number | null;
  /** `iat`, when the token has one: with expiresAt, the token's lifetime. */
  issuedAt: number | null;
  source: TokenSource;
}

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

export function identityOf(token: string, source: TokenSource = 'external'): Identity | null {
  const c = decodeClaims(token.trim());
  if (!c || typeof c.sub !== 'string') return null;
  const exp = typeof c.exp === 'number' ? c.exp * 1000 : null;
  const iat = typeof c.iat === 'number' ? c.iat * 1000 : null;
  if (exp !== null && exp <= Date.now()) return null;
  return {
    token: token.trim(),
    id: c.sub,
    name: typeof c.name === 'string' && c.name ? c.name : c.sub,
    roles: Array.isArray(c.roles) ? c.roles.filter((r): r is string => typeof r === 'string') : [],
    expiresAt: exp,
    issuedAt: iat,
    source,
  };
}

function storedSource(): TokenSource {
  try { return localStorage.getItem(SOURCE_KEY) === 'dev' ? 'dev' : 'external'; } catch { return 'external'; }
}

export function currentIdentity(): Identity | null {
  let token: string | null = null;
  try { token = localStorage.getItem(KEY); } catch { /* storage blocked: stay anonymous */ }
  const id = token ? identityOf(token, storedSource()) : null;
  if (token && !id) signOut(); // expired or garbage: forget it rather than fail every connect
  return id;
}

/** Keeps a token (pasted, from the identity provider, or a refreshed one). Null when it is not a usable JWT. */
export function useToken(token: string, source: TokenSource = 'external'): Identity | null {
  const id = identityOf(token, source);
  if (id) {
    localStorage.setItem(KEY, id.token);
    localStorage.setItem(SOURCE_KEY, source);
  }
  return id;
}

/** The embedded development setup's token issuer. */
export async function devSignIn(name: string, roles: string[], ttlSeconds?: number): Promise<Identity> {
  const { token } = await devToken(name, roles, ttlSeconds);
  const id = useToken(token, 'dev');
  if (!id) throw new Error('the service issued a token this page cannot read');
  return id;
}

export function signOut(): void {
  try { localStorage.removeItem(KEY); localStorage.removeItem(SOURCE_KEY); } catch { /* ignore */ }
}

export function hasRole(id: Identity | null, role: string): boolean {
  return !!id && id.roles.includes(role);
}
