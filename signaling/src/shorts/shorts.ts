// Shorts: up to 60 s cut from a recording (stream copy), a poster, a feed (newest, by tag, by
// busker, near a place) and view counts. A failed cut leaves no row and no file; a deleted short
// leaves no file.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppError } from '../stomp/errors';
import type { Principal } from '../auth';
import { parseStart } from '../busk/validate';
import type { Store } from '../store';
import { log } from '../log';
import type { Clipper } from './clip';
import type { Recordings } from './recordings';
import { ensureUser, iso, newId, notFound, page, signedIn } from './common';
import type { Page, PageQuery } from './common';

export const SHORT_MAX_S = 60;
/** Shortest short: under a second there is hardly a frame to show. */
export const SHORT_MIN_S = 1;

export interface PublicShort {
  id: string; owner: { id: string; name: string }; title: string; hashtags: string[]; durationS: number;
  createdAt: string; views: number; comments: number; videoUrl: string; posterUrl: string;
  location: { lat: number; lng: number } | null; recordingId: string | null;
}

interface ShortRow {
  seq: string | number; id: string; owner_id: string; owner_name: string; recording_id: string | null; title: string;
  hashtags: string[]; duration_s: number; video_key: string; poster_key: string; views: string | number;
  comments: number; lat: number | null; lng: number | null; created_at: Date;
}

export interface FeedQuery extends PageQuery {
  tag?: string;
  by?: string;
  near?: { lat: number; lng: number; radiusM: number };
}

const SELECT = `SELECT s.seq, s.id, s.owner_id, u.name AS owner_name, s.recording_id, s.title, s.hashtags, s.duration_s,
  s.video_key, s.poster_key, s.views, s.comments, s.lat, s.lng, s.created_at FROM shorts s JOIN users u ON u.id = s.owner_id`;
const EARTH_M = 6371008.8;

export class Shorts {
  constructor(private readonly store: Store, private readonly recordings: Recordings, private readonly clipper: Clipper) {}

  async create(who: Principal | null, body: unknown): Promise<PublicShort> {
    const p = signedIn(who);
    const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
    const { title, hashtags } = parseStart({ title: b.title, hashtags: b.hashtags });
    if (typeof b.recordingId !== 'string' || !b.recordingId) throw new AppError('bad-request', 'recordingId is required');
    // `lastS` instead of startS/endS: the last seconds of what is recorded so far (the studio's live
    // "clip the last 30 s"; only the service knows how far the file has got).
    const live = b.lastS !== undefined;
    if (live && (typeof b.lastS !== 'number' || !Number.isFinite(b.lastS) || b.lastS < SHORT_MIN_S || b.lastS > SHORT_MAX_S)) {
      throw new AppError('bad-request', `lastS must be ${SHORT_MIN_S} to ${SHORT_MAX_S} seconds`);
    }
    let startS = Number(b.startS);
    let endS = Number(b.endS);
    if (live) { startS = 0; endS = b.lastS as number; } // checked against the recording below
    else if (typeof b.startS !== 'number' || typeof b.endS !== 'number' || !Number.isFinite(startS) || !Number.isFinite(endS)) throw new AppError('bad-request', 'startS and endS must be numbers of seconds');
    if (startS < 0 || endS <= startS) throw new AppError('bad-request', 'the clip must have 0 <= startS < endS');
    if (endS - startS > SHORT_MAX_S) throw new AppError('bad-request', `a short is at most ${SHORT_MAX_S} s (endS - startS = ${(endS - startS).toFixed(1)})`);
    if (endS - startS < SHORT_MIN_S) throw new AppError('bad-request', `a short is at least ${SHORT_MIN_S} s`);
    const rec = await this.recordings.row(b.recordingId);
    if (!rec) throw notFound('recording', b.recordingId);
    if (rec.owner_id !== p.id) throw new AppError('forbidden', 'only the recording\'s owner can cut shorts from it');
    if (rec.state === 'failed') throw new AppError('conflict', 'the recording failed; it has no playable file');
    const input = this.recordings.path(rec);
    // A finished recording knows its length; a running one, as far as its writer has got (the
    // fragment being written is not on disk yet: the cut ends at the file's end, the short says its
    // real duration).
    const recordedS = await this.recordings.recordedSeconds(rec);
    if (live) {
      if (recordedS < SHORT_MIN_S) throw new AppError('bad-request', `the recording is only ${recordedS.toFixed(1)} s long so far`);
      endS = recordedS;
      startS = Math.max(0, recordedS - (b.lastS as number));
    }
    if (endS > recordedS + 0.05) throw new AppError('bad-request', `the clip ends at ${endS} s but the recording is ${recordedS.toFixed(1)} s long`);

    const id = newId();
    const container = rec.content_type === 'video/webm' ? 'webm' : 'mp4';
    const videoKey = `shorts/${id}.${container}`;
    const posterKey = `posters/${id}.jpg`;
    const tmp = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'short-'));
    const stored: string[] = [];
    try {
      const video = path.join(tmp, `short.${container}`);
      const poster = path.join(tmp, 'poster.jpg');
      const { durationS } = await this.clipper.cut(input, startS, endS, video, container);
      await this.clipper.poster(video, 0, poster);
      await this.store.media.putFile(videoKey, video, `video/${container}`);
      stored.push(videoKey);
      await this.store.media.putFile(posterKey, poster, 'image/jpeg');
      stored.push(posterKey);
      const db = await this.store.db();
      await db.transaction(async (tx) => {
        await ensureUser(tx, p);
        const [{ seq }] = await tx.query<{ seq: string }>(
          `INSERT INTO shorts (id, owner_id, recording_id, title, hashtags, duration_s, video_key, poster_key, lat, lng)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING seq`,
          [id, p.id, rec.id, title, hashtags, durationS, videoKey, posterKey, rec.lat, rec.lng],
        );
        for (const tag of hashtags) await tx.query('INSERT INTO short_tags (tag, seq, short_id) VALUES ($1, $2, $3)', [tag, seq, id]);
      });
    } catch (e) {
      await Promise.all(stored.map((k) => this.store.media.delete(k).catch((err) => log.warn('shorts', `could not remove ${k} after a failed cut`, err))));
      throw e;
    } finally {
      await fs.promises.rm(tmp, { recursive: true, force: true });
    }
    return (await this.get(id))!;
  }

  async get(id: string): Promise<PublicShort | null> {
    const db = await this.store.db();
    const r = (await db.query<ShortRow>(`${SELECT} WHERE s.id = $1`, [id]))[0];
    return r ? this.toPublic(r) : null;
  }

  async feed(q: FeedQuery): Promise<Page<PublicShort>> {
    const db = await this.store.db();
    const params: unknown[] = [];
    const arg = (v: unknown) => { params.push(v); return `$${params.length}`; };
    let rows: ShortRow[];
    if (q.tag !== undefined) {
      // The tag index gives the page; the shorts are joined by primary key.
      const where = [`t.tag = ${arg(q.tag)}`];
      if (q.before !== null) where.push(`t.seq < ${arg(q.before)}`);
      rows = await db.query<ShortRow>(`${SELECT} JOIN short_tags t ON t.short_id = s.id WHERE ${where.join(' AND ')} ORDER BY t.seq DESC LIMIT ${arg(q.limit)}`, params);
    } else {
      const where: string[] = [];
      if (q.by !== undefined) where.push(`s.owner_id = ${arg(q.by)}`);
      if (q.near) {
        // A box on the lat index first, then the exact great-circle distance.
        const { lat, lng, radiusM } = q.near;
        const dLat = (radiusM / EARTH_M) * (180 / Math.PI);
        const dLng = dLat / Math.max(Math.cos((lat * Math.PI) / 180), 0.01);
        const la = arg(lat);
        const ln = arg(lng);
        where.push(`s.lat BETWEEN ${arg(lat - dLat)} AND ${arg(lat + dLat)}`);
        if (dLng < 180) where.push(`s.lng BETWEEN ${arg(lng - dLng)} AND ${arg(lng + dLng)}`);
        where.push(`${EARTH_M} * 2 * asin(sqrt(power(sin(radians(s.lat - ${la}) / 2), 2) + cos(radians(${la})) * cos(radians(s.lat)) * power(sin(radians(s.lng - ${ln}) / 2), 2))) <= ${arg(radiusM)}`);
      }
      if (q.before !== null) where.push(`s.seq < ${arg(q.before)}`);
      rows = await db.query<ShortRow>(`${SELECT}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY s.seq DESC LIMIT ${arg(q.limit)}`, params);
    }
    return page(rows, q.limit, (r) => this.toPublic(r));
  }

  /** Counts one view (the player calls it when playback starts). */
  async view(id: string): Promise<number> {
    const db = await this.store.db();
    const r = await db.query<{ views: string }>('UPDATE shorts SET views = views + 1 WHERE id = $1 RETURNING views', [id]);
    if (!r.length) throw notFound('short', id);
    return Number(r[0].views);
  }

  /** Owner only; the row, its comments and tags go in one transaction, then the files. */
  async delete(who: Principal | null, id: string): Promise<void> {
    const p = signedIn(who);
    const db = await this.store.db();
    const keys = await db.transaction(async (tx) => {
      const r = (await tx.query<{ owner_id: string; video_key: string; poster_key: string }>('SELECT owner_id, video_key, poster_key FROM shorts WHERE id = $1 FOR UPDATE', [id]))[0];
      if (!r) throw notFound('short', id);
      if (r.owner_id !== p.id) throw new AppError('forbidden', 'only the short\'s owner can delete it');
      await tx.query('DELETE FROM shorts WHERE id = $1', [id]);
      return [r.video_key, r.poster_key];
    });
    await Promise.all(keys.map((k) => this.store.media.delete(k)));
  }

  async countBy(ownerId: string): Promise<number> {
    const db = await this.store.db();
    return Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM shorts WHERE owner_id = $1', [ownerId]))[0].n);
  }

  private toPublic(r: ShortRow): PublicShort {
    return {
      id: r.id, owner: { id: r.owner_id, name: r.owner_name }, title: r.title, hashtags: r.hashtags ?? [],
      durationS: Math.round(Number(r.duration_s) * 1000) / 1000, createdAt: iso(r.created_at), views: Number(r.views),
      comments: Number(r.comments), videoUrl: this.store.media.url(r.video_key), posterUrl: this.store.media.url(r.poster_key),
      location: r.lat === null || r.lng === null ? null : { lat: Number(r.lat), lng: Number(r.lng) }, recordingId: r.recording_id,
    };
  }
}
