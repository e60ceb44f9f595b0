// The durable store: the database (migrated at start) and the media store, opened together.
// It opens in the background: a fresh PGlite takes seconds to initialise, and the live product
// (broker, busks) must not wait for it; requests that need the store wait for ready().
import { AppError } from '../stomp/errors';
import path from 'node:path';
import { openDb } from './db';
import type { Db } from './db';
import { migrate } from './migrate';
import { openMediaStore } from './media-store';
import type { MediaStore, S3Options } from './media-store';

export type { Db, Queryable } from './db';
export { openDb, PgliteDb, PostgresDb } from './db';
export { migrate, loadMigrations } from './migrate';
export type { MediaStore } from './media-store';
export { LocalMediaStore, S3MediaStore, openMediaStore, MEDIA_PATH } from './media-store';

export interface StoreOptions {
  dataDir: string;
  databaseUrl: string;
  s3: S3Options;
}

export class Store {
  readonly media: MediaStore;
  /** Recording files (written by the recording leg; shorts are cut from them). */
  readonly recordingsDir: string;
  private db_: Db | null = null;
  private error: Error | null = null;
  private readonly opening: Promise<Db>;

  constructor(readonly opts: StoreOptions) {
    this.media = openMediaStore(opts);
    this.recordingsDir = path.resolve(opts.dataDir, 'recordings');
    const media = this.media;
    this.opening = (async () => {
      const db = await openDb(opts);
      try {
        await migrate(db);
        await media.init();
      } catch (e) {
        await db.close().catch(() => undefined);
        throw e;
      }
      this.db_ = db;
      return db;
    })();
    this.opening.catch((e: Error) => { this.error = e; });
  }

  /**
   * The migrated database; rejects with `unavailable` (HTTP 503, not a 500 "internal error": the
   * chaos fuzzer met it as such) when it could not be opened, with the reason.
   */
  db(): Promise<Db> {
    return this.opening.catch((e: Error) => { throw new AppError('unavailable', `the durable store is unavailable: ${e.message}`); });
  }

  /** For /readyz: true, 'opening' or why it failed. */
  status(): true | string {
    if (this.db_) return true;
    return this.error ? `store failed: ${this.error.message}` : 'opening';
  }

  async close(): Promise<void> {
    const db = await this.opening.catch(() => null);
    this.db_ = null;
    this.media.close();
    await db?.close();
  }
}
