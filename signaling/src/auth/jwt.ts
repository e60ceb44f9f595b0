// JWT verification with the algorithm pinned by configuration. jsonwebtoken chooses a default
// algorithm list from the key type when `algorithms` is missing; we never let it: an attacker who
// could pick `none`, or HS256 with our RSA public key as the HMAC secret (key confusion), would
// otherwise mint tokens. Every token is checked against exactly one algorithm and one key.
import crypto from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Config } from '../config';
import { AuthError } from '../stomp';
import { Principal, ROLES } from './principal';

// One AuthError: the broker's. An authenticator that throws it gets the session ERROR "unauthorized";
// REST answers 401 for it.
export { AuthError };

export interface TokenClaims {
  sub: string;
  name?: string;
  roles?: string[];
  exp?: number;
}

/** JWT_MAX_TTL_S's default: a day. Identity providers issue hours; dev tokens 12 h at most. */
export const DEFAULT_MAX_TTL_SECONDS = 86400;

/**
 * Development tokens carry this `kid` and are signed with their own key (Config['jwt'].devSecret),
 * never the production one: a dev token is refused wherever development tokens are off, and a token
 * signed with the production key is never taken for a dev one (issue 17).
 */
export const DEV_TOKEN_KID = 'busking-dev';

export class TokenVerifier {
  /** Null in the development setup without a configured key: only dev tokens are accepted then. */
  private readonly key: string | crypto.KeyObject | null;
  private readonly maxTtlSeconds: number;

  constructor(private readonly cfg: Config['jwt']) {
    this.maxTtlSeconds = cfg.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
    if (!(this.maxTtlSeconds > 0)) throw new Error('JWT_MAX_TTL_S must be a positive number of seconds');
    if (cfg.algorithm === 'HS256') {
      if (!cfg.secret && !cfg.devSecret) throw new Error('HS256 needs JWT_SECRET');
      this.key = cfg.secret || null;
    } else {
      if (!cfg.publicKey) throw new Error(`${cfg.algorithm} needs JWT_PUBLIC_KEY`);
      // A KeyObject of type "public": jsonwebtoken refuses it as an HMAC secret, a second guard against key confusion.
      this.key = crypto.createPublicKey(cfg.publicKey);
    }
  }

  get enabled(): boolean {
    return true;
  }

  /** Verifies `token` and returns its principal; throws AuthError for anything not acceptable. */
  verify(token: string, nowMs = Date.now()): Principal {
    if (typeof token !== 'string' || token.length === 0 || token.length > 8192) throw new AuthError('missing or oversized token');
    let claims: jwt.JwtPayload;
    try {
      // The header's kid picks the key, and only that key is tried: a production token never meets
      // the development key, nor a dev token the production key.
      const dev = jwt.decode(token, { complete: true })?.header.kid === DEV_TOKEN_KID;
      const key = dev ? this.cfg.devSecret || null : this.key;
      if (!key) throw new AuthError(dev ? 'development tokens are off' : 'no JWT key is configured (development tokens only)');
      const opts: jwt.VerifyOptions = { algorithms: [dev ? 'HS256' : this.cfg.algorithm], clockTimestamp: Math.floor(nowMs / 1000) };
      if (this.cfg.issuer) opts.issuer = this.cfg.issuer;
      if (this.cfg.audience) opts.audience = this.cfg.audience;
      const out = jwt.verify(token, key, opts);
      if (typeof out === 'string') throw new AuthError('token payload is not a JSON object');
      claims = out;
    } catch (e) {
      if (e instanceof AuthError) throw e;
      throw new AuthError(e instanceof jwt.TokenExpiredError ? 'token expired' : `invalid token: ${(e as Error).message}`);
    }
    if (typeof claims.sub !== 'string' || !claims.sub) throw new AuthError('token has no sub');
    // A token that never expires cannot be taken back short of changing the key: refuse it, and
    // refuse lifetimes longer than JWT_MAX_TTL_S, counted from `iat` (the issuer's word) and from
    // now (an `iat` in the future must not stretch it).
    if (typeof claims.exp !== 'number') throw new AuthError('token has no exp');
    const nowS = Math.floor(nowMs / 1000);
    const from = typeof claims.iat === 'number' ? Math.min(claims.iat, nowS) : nowS;
    if (claims.exp - from > this.maxTtlSeconds) throw new AuthError(`token lifetime exceeds ${this.maxTtlSeconds} s (JWT_MAX_TTL_S)`);
    const roles = Array.isArray(claims.roles) ? claims.roles.filter((r): r is string => typeof r === 'string' && (ROLES as readonly string[]).includes(r)) : [];
    const name = typeof claims.name === 'string' && claims.name.trim() ? claims.name.trim().slice(0, 64) : claims.sub.slice(0, 64);
    return { id: claims.sub, name, roles, anonymous: false, expiresAt: claims.exp * 1000 };
  }
}

/**
 * Development token issuer (POST /api/dev/token). Exists only when config.devTokens is on, which
 * loadConfig allows by default only in the embedded development setup on a loopback address. It
 * signs with the development key (DEV_TOKEN_KID), never the production secret.
 */
export class DevTokenIssuer {
  private readonly key: string;

  constructor(private readonly cfg: Config['jwt'], private readonly ttlSeconds = 12 * 3600) {
    if (!cfg.devSecret) throw new Error('dev tokens need a development key (config jwt.devSecret)');
    this.key = cfg.devSecret;
  }

  issue(name: string, roles: string[], ttlSeconds = this.ttlSeconds): string {
    const clean = name.trim().slice(0, 64);
    const sub = `dev-${clean.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'user'}`;
    const opts: jwt.SignOptions = { algorithm: 'HS256', expiresIn: ttlSeconds, keyid: DEV_TOKEN_KID };
    if (this.cfg.issuer) opts.issuer = this.cfg.issuer;
    if (this.cfg.audience) opts.audience = this.cfg.audience;
    return jwt.sign({ sub, name: clean, roles: roles.filter((r) => (ROLES as readonly string[]).includes(r)) }, this.key, opts);
  }
}
