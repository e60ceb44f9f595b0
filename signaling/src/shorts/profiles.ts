// Public profiles: name, bio, avatar, tip link, how many shorts, and the live busk when there is one
// (the profile page's Watch and Directions).
import crypto from 'node:crypto';
import { AppError } from '../stomp/errors';
import type { Principal } from '../auth';
import { cleanText } from '../busk/validate';
import { toPublic as publicBusk } from '../state';
import type { PublicBusk, State } from '../state';
import type { Store } from '../store';
import { log } from '../log';
import type { Shorts } from './shorts';
import { ensureUser, notFound, signedIn } from './common';

export interface PublicProfile {
  id: string; name: string; bio: string; avatarUrl: string | null; tipUrl: string | null; live: PublicBusk | null; shorts: number;
}

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024;
export const PROFILE_LIMITS = { name: 64, bio: 1000, tipUrl: 500 };

/** The image type from the first bytes; the name and the Content-Type header are not trusted. */
export function imageType(b: Buffer): { ext: 'jpg' | 'png' | 'webp'; mime: string } | null {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return { ext: 'jpg', mime: 'image/jpeg' };
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return { ext: 'png', mime: 'image/png' };
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return { ext: 'webp', mime: 'image/webp' };
  return null;
}

function tipUrl(v: unknown): string | null | undefined {
  if (v === undefined) return undefined;
  if (v === null || v === '') return null;
  if (typeof v !== 'string' || v.length > PROFILE_LIMITS.tipUrl) throw new AppError('bad-request', `tipUrl must be an https:// link of at most ${PROFILE_LIMITS.tipUrl} characters`);
  let u: URL;
  try { u = new URL(v.trim()); } catch { throw new AppError('bad-request', 'tipUrl is not a URL'); }
  if (u.protocol !== 'https:') throw new AppError('bad-request', 'tipUrl must be an https:// link');
  return u.toString();
}

interface UserRow { id: string; name: string; bio: string; tip_url: string | null; avatar_key: string | null }

export class Profiles {
  constructor(private readonly store: Store, private readonly state: State, private readonly shorts: Shorts) {}

  async get(id: string): Promise<PublicProfile> {
    const db = await this.store.db();
    const u = (await db.query<UserRow>('SELECT id, name, bio, tip_url, avatar_key FROM users WHERE id = $1', [id]))[0];
    const live = await this.liveBusk(id);
    if (!u && !live) throw notFound('user', id);
    return {
      id, name: u?.name ?? live!.owner.name, bio: u?.bio ?? '', avatarUrl: u?.avatar_key ? this.store.media.url(u.avatar_key) : null,
      tipUrl: u?.tip_url ?? null, live, shorts: await this.shorts.countBy(id),
    };
  }

  async update(who: Principal | null, body: unknown): Promise<PublicProfile> {
    const p = signedIn(who);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AppError('bad-request', 'the body must be a JSON object {name?, bio?, tipUrl?}');
    const b = body as Record<string, unknown>;
    // Everything is checked before anything is written.
    const name = b.name === undefined ? undefined : cleanText(b.name, 'name', PROFILE_LIMITS.name, true);
    const bio = b.bio === undefined ? undefined : cleanText(b.bio, 'bio', PROFILE_LIMITS.bio, false, true);
    const tip = tipUrl(b.tipUrl);
    const db = await this.store.db();
    await db.transaction(async (tx) => {
      await ensureUser(tx, p);
      await tx.query(
        `UPDATE users SET name = COALESCE($2, name), bio = COALESCE($3, bio),
           tip_url = CASE WHEN $4::boolean THEN $5 ELSE tip_url END, updated_at = now() WHERE id = $1`,
        [p.id, name ?? null, bio ?? null, tip !== undefined, tip ?? null],
      );
    });
    return this.get(p.id);
  }

  async setAvatar(who: Principal | null, body: unknown): Promise<PublicProfile> {
    const p = signedIn(who);
    if (!Buffer.isBuffer(body) || body.length === 0) throw new AppError('bad-request', 'send the image as the request body (JPEG, PNG or WebP)');
    if (body.length > AVATAR_MAX_BYTES) throw new AppError('too-large', 'an avatar is at most 2 MB');
    const type = imageType(body);
    if (!type) throw new AppError('bad-request', 'an avatar must be a JPEG, PNG or WebP image (checked by its content)');
    const key = `avatars/${crypto.randomBytes(9).toString('base64url')}.${type.ext}`;
    await this.store.media.putBuffer(key, body, type.mime);
    const db = await this.store.db();
    let old: string | null = null;
    try {
      await db.transaction(async (tx) => {
        await ensureUser(tx, p);
        old = (await tx.query<{ avatar_key: string | null }>('SELECT avatar_key FROM users WHERE id = $1 FOR UPDATE', [p.id]))[0].avatar_key;
        await tx.query('UPDATE users SET avatar_key = $2, updated_at = now() WHERE id = $1', [p.id, key]);
      });
    } catch (e) {
      await this.store.media.delete(key).catch(() => undefined);
      throw e;
    }
    if (old) await this.store.media.delete(old).catch((e) => log.warn('profiles', `could not remove the old avatar ${old}`, e));
    return this.get(p.id);
  }

  private async liveBusk(ownerId: string): Promise<PublicBusk | null> {
    const rec = (await this.state.listBusks()).find((b) => b.owner.id === ownerId);
    return rec ? publicBusk(rec, await this.state.viewerCount(rec.id)) : null;
  }
}
