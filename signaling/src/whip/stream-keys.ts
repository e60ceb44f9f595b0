// Per-busker stream keys: what OBS keeps in its "Bearer Token" field, which a JWT that expires in
// hours cannot be. A key is 32 random bytes shown once (`bsk_` + base64url); the store keeps only its
// SHA-256, so a leaked database gives no working key. A key stands for its busker with the busker
// role and nothing else: it opens WHIP, not the studio or the REST API.
import crypto from 'node:crypto';
import type { Principal } from '../stomp';
import type { Store } from '../store';
import { ensureUser, iso, signedIn } from '../shorts/common';
import { AppError } from '../stomp';
import { hasRole } from '../auth';

export const STREAM_KEY_PREFIX = 'bsk_';

const digest = (key: string) => crypto.createHash('sha256').update(key).digest('hex');

export class StreamKeys {
  constructor(private readonly store: Store) {}

  static looksLikeKey(token: string): boolean {
    return token.startsWith(STREAM_KEY_PREFIX);
  }

  /** A new key for the signed-in busker (the old one, if any, stops working). Shown once. */
  async rotate(who: Principal | null): Promise<{ key: string; createdAt: string }> {
    const p = signedIn(who);
    if (!hasRole(p, 'busker')) throw new AppError('forbidden', 'stream keys are for buskers');
    const key = STREAM_KEY_PREFIX + crypto.randomBytes(32).toString('base64url');
    const db = await this.store.db();
    const row = await db.transaction(async (tx) => {
      await ensureUser(tx, p);
      return (await tx.query<{ created_at: Date }>(
        `INSERT INTO stream_keys (user_id, key_hash) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET key_hash = EXCLUDED.key_hash, created_at = now() RETURNING created_at`,
        [p.id, digest(key)],
      ))[0];
    });
    return { key, createdAt: iso(row.created_at) };
  }

  /** Whether the busker has a key, and since when (the key itself is not kept). */
  async status(who: Principal | null): Promise<{ exists: boolean; createdAt: string | null }> {
    const p = signedIn(who);
    const db = await this.store.db();
    const row = (await db.query<{ created_at: Date }>('SELECT created_at FROM stream_keys WHERE user_id = $1', [p.id]))[0];
    return { exists: !!row, createdAt: row ? iso(row.created_at) : null };
  }

  async revoke(who: Principal | null): Promise<void> {
    const p = signedIn(who);
    const db = await this.store.db();
    await db.query('DELETE FROM stream_keys WHERE user_id = $1', [p.id]);
  }

  /** The busker a key stands for; null when it is unknown (never made, or rotated away). */
  async principal(key: string): Promise<Principal | null> {
    const db = await this.store.db();
    const row = (await db.query<{ id: string; name: string }>(
      'SELECT u.id, u.name FROM stream_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = $1', [digest(key)],
    ))[0];
    return row ? { id: row.id, name: row.name, roles: ['busker'], anonymous: false } : null;
  }
}
