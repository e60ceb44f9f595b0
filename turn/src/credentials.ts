// Short-lived TURN credentials in coturn's shared-secret scheme (use-auth-secret, the "TURN REST
// API"): username "<unix expiry>:<user>", password base64(HMAC-SHA1(secret, username)). coturn
// recomputes the password from the username, so no per-user state exists anywhere, and a leaked
// credential dies at its expiry. The secret itself never leaves the server.
import crypto from 'node:crypto';

export interface TurnCredential {
  username: string;
  credential: string;
}

/** ':' separates expiry and user in coturn's scheme (its default rest-api-separator). */
const SEPARATOR = ':';

export function turnCredentials(secret: string, user: string, ttlSeconds: number, nowMs: number = Date.now()): TurnCredential {
  if (!secret) throw new Error('turnCredentials: empty secret');
  if (!(ttlSeconds > 0)) throw new Error(`turnCredentials: ttlSeconds must be > 0, got ${ttlSeconds}`);
  const expiry = Math.floor(nowMs / 1000) + Math.floor(ttlSeconds);
  // The user label is informational for coturn (it shows up in its logs, which the monitor reads),
  // so keep it short and free of the separator and of coturn's log delimiters.
  const label = user.replace(/[:<>\s]/g, '_').slice(0, 64) || 'anonymous';
  const username = `${expiry}${SEPARATOR}${label}`;
  const credential = crypto.createHmac('sha1', secret).update(username).digest('base64');
  return { username, credential };
}

/** Splits a shared-secret username back into expiry (epoch seconds) and user, or null if it is not one. */
export function parseSharedSecretUsername(username: string): { expiry: number; user: string } | null {
  const m = /^(\d{9,11}):(.*)$/.exec(username);
  if (!m) return null;
  return { expiry: Number(m[1]), user: m[2] };
}

/** What browsers get as RTCConfiguration.iceServers (the DOM type is not in Node's lib). */
export interface IceServer {
  urls: string | string[];
  username?: string;
  credential?: string;
}

export interface IceServerOptions {
  stunUrls: string[];
  turnUrls: string[];
  secret: string;
  ttlSeconds: number;
}

/**
 * STUN entries as they are; TURN entries with one fresh credential for this caller. Without a
 * secret the TURN URLs are left out rather than handed out unusable (every allocation would 401).
 */
export function iceServers(opts: IceServerOptions, userLabel: string, nowMs: number = Date.now()): IceServer[] {
  const out: IceServer[] = [];
  if (opts.stunUrls.length) out.push({ urls: [...opts.stunUrls] });
  if (opts.turnUrls.length && opts.secret) {
    const c = turnCredentials(opts.secret, userLabel, opts.ttlSeconds, nowMs);
    out.push({ urls: [...opts.turnUrls], username: c.username, credential: c.credential });
  }
  return out;
}
