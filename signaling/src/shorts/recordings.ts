// Recording rows. The recording leg (it joins a busk like one more viewer and writes the
// presenter's streams, fragmented, under DATA_DIR/recordings) registers a file here when it starts
// and finishes or fails it when the busk ends; shorts are cut from these files.
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../stomp/errors';
import type { Principal } from '../auth';
import type { Location } from '../state';
import type { Store } from '../store';
import type { Clipper } from './clip';
import { ensureUser, iso, newId, notFound } from './common';

export type RecordingState = 'recording' | 'ready' | 'failed';

export interface RecordingRow {
  id: string; busk_id: string; owner_id: string; owner_name: string; file: string; content_type: string;
  state: RecordingState; started_at: Date; ended_at: Date | null; duration_s: number | null;
  lat: number | null; lng: number | null;
}

export interface PublicRecording {
  id: string; buskId: string; owner: { id: string; name: string }; startedAt: string; endedAt: string | null;
  durationS: number | null; state: RecordingState; videoUrl: string;
}

export interface NewRecording {
  id?: string;
  buskId: string;
  owner: Principal;
  /** Path relative to DATA_DIR/recordings. */
  file: string;
  contentType: 'video/mp4' | 'video/webm';
  location?: Location | null;
  /** The node whose recorder leg writes it (crash recovery finishes only its own). */
  nodeId?: string;
}

const SELECT = `SELECT r.*, u.name AS owner_name FROM recordings r JOIN users u ON u.id = r.owner_id`;

export class Recordings {
  /**
   * How far the recordings this process is writing have got, from their writers. A running
   * recording's file has no duration in its header; reading it from the file means reading every
   * packet (1.8 s for an hour of WebM), which "Clip the last 30 s" would pay on every click.
   */
  private readonly writing = new Map<string, () => number>();

  constructor(private readonly store: Store, private readonly clipper: Clipper) {}

  /** The writer of recording `id` reports its duration here until the returned function is called. */
  writtenBy(id: string, seconds: () => number): () => void {
    this.writing.set(id, seconds);
    return () => { if (this.writing.get(id) === seconds) this.writing.delete(id); };
  }

  /** Seconds recorded: the row's duration when finished, the writer's while this process records, else the file's. */
  async recordedSeconds(r: RecordingRow): Promise<number> {
    if (r.state === 'ready' && r.duration_s !== null) return Number(r.duration_s);
    const live = r.state === 'recording' ? this.writing.get(r.id)?.() : undefined;
    return live !== undefined && live > 0 ? live : this.clipper.duration(this.path(r));
  }

  async create(n: NewRecording): Promise<PublicRecording> {
    const file = path.normalize(n.file);
    if (path.isAbsolute(file) || file.startsWith('..')) throw new AppError('bad-request', 'a recording file is a path under DATA_DIR/recordings');
    const db = await this.store.db();
    const id = n.id ?? newId();
    await db.transaction(async (tx) => {
      await ensureUser(tx, n.owner);
      await tx.query(
        `INSERT INTO recordings (id, busk_id, owner_id, file, content_type, state, lat, lng, node_id) VALUES ($1, $2, $3, $4, $5, 'recording', $6, $7, $8)`,
        [id, n.buskId, n.owner.id, file, n.contentType, n.location?.lat ?? null, n.location?.lng ?? null, n.nodeId ?? null],
      );
    });
    return this.toPublic((await this.row(id))!);
  }

  /** The recording ended with a playable file; its duration is read from the file when not given. */
  async finish(id: string, durationS?: number): Promise<PublicRecording> {
    const r = await this.row(id);
    if (!r) throw notFound('recording', id);
    const d = durationS ?? await this.clipper.duration(this.path(r));
    const db = await this.store.db();
    await db.query(`UPDATE recordings SET state = 'ready', ended_at = now(), duration_s = $2 WHERE id = $1`, [id, d]);
    return this.toPublic((await this.row(id))!);
  }

  async fail(id: string): Promise<void> {
    const db = await this.store.db();
    await db.query(`UPDATE recordings SET state = 'failed', ended_at = now() WHERE id = $1`, [id]);
  }

  /**
   * A WebM recording is written append-only (crash-safe, but without Duration and Cues); once it is
   * complete it is copied into a sealed file that has both, and swapped in. On failure the
   * append-only file stays: it plays, it only seeks slowly.
   */
  async seal(id: string): Promise<void> {
    const r = await this.row(id);
    if (!r || r.content_type !== 'video/webm') return;
    const file = this.path(r);
    const sealed = `${file}.sealing.webm`;
    try {
      await this.clipper.sealWebm(file, sealed);
      await fs.promises.rename(sealed, file);
    } finally {
      await fs.promises.rm(sealed, { force: true });
    }
  }

  /**
   * At start: recordings left 'recording' by a process that died (SIGKILL, power loss) are finished
   * with the real duration of what reached their file, or failed when nothing playable did. Only
   * this node's (`nodeId`), or every one when `allNodes` (an embedded database belongs to one process).
   */
  async recover(nodeId: string, allNodes: boolean): Promise<{ finished: string[]; failed: string[] }> {
    const db = await this.store.db();
    const rows = await db.query<RecordingRow>(`${SELECT} WHERE r.state = 'recording' AND ($2 OR r.node_id = $1)`, [nodeId, allNodes]);
    const done = { finished: [] as string[], failed: [] as string[] };
    for (const r of rows) {
      try {
        const d = await this.clipper.duration(this.path(r));
        await db.query(`UPDATE recordings SET state = 'ready', ended_at = started_at + make_interval(secs => $2), duration_s = $2 WHERE id = $1 AND state = 'recording'`, [r.id, d]);
        done.finished.push(r.id);
      } catch {
        await db.query(`UPDATE recordings SET state = 'failed', ended_at = now() WHERE id = $1 AND state = 'recording'`, [r.id]);
        done.failed.push(r.id);
      }
    }
    return done;
  }

  async row(id: string): Promise<RecordingRow | null> {
    const db = await this.store.db();
    return (await db.query<RecordingRow>(`${SELECT} WHERE r.id = $1`, [id]))[0] ?? null;
  }

  async mine(p: Principal): Promise<PublicRecording[]> {
    const db = await this.store.db();
    return (await db.query<RecordingRow>(`${SELECT} WHERE r.owner_id = $1 ORDER BY r.started_at DESC LIMIT 200`, [p.id])).map((r) => this.toPublic(r));
  }

  /** Absolute path of the recording's file. */
  path(r: RecordingRow): string {
    return path.join(this.store.recordingsDir, r.file);
  }

  toPublic(r: RecordingRow): PublicRecording {
    return {
      id: r.id, buskId: r.busk_id, owner: { id: r.owner_id, name: r.owner_name }, startedAt: iso(r.started_at),
      endedAt: r.ended_at ? iso(r.ended_at) : null, durationS: r.duration_s === null ? null : Number(r.duration_s),
      state: r.state, videoUrl: `/api/recordings/${r.id}/video`,
    };
  }
}
