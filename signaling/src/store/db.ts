// One small database interface over PostgreSQL, two backends with the same SQL: a real server
// (DATABASE_URL, the `pg` pool) and embedded PGlite (Postgres compiled to WASM, persisted in a
// directory) so `npm start` keeps its data without installing a database.
import fs from 'node:fs';
import path from 'node:path';
import { PgliteThread } from './pglite-thread';
import { checkParams } from './params';

export interface Queryable {
  /** One statement with $1.. parameters; the rows. */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Db extends Queryable {
  readonly kind: 'pglite' | 'postgres';
  /** BEGIN … COMMIT around `fn`; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A real PostgreSQL server through a `pg` pool. */
export class PostgresDb implements Db {
  readonly kind = 'postgres';

  private constructor(private readonly pool: import('pg').Pool) {}

  static async connect(url: string): Promise<PostgresDb> {
    const { Pool } = await import('pg');
    const pool = new Pool({ connectionString: url, max: 10 });
    // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const db = new PostgresDb(pool);
    await db.query('SELECT 1');
    return db;
  }

  async query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return (await this.pool.query(sql, checkParams(params) as unknown[])).rows as T[];
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx: Queryable = {
      query: async <R>(sql: string, params: unknown[] = []) => (await client.query(sql, checkParams(params) as unknown[])).rows as R[],
      exec: async (sql: string) => { await client.query(sql); },
    };
    try {
      await client.query('BEGIN');
      const out = await fn(tx);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      client.release();
    }
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}

/** Open PGlite databases of this process by directory: services started in one process share one. */
const openPglites = new Map<string, { db: Promise<PgliteThread>; refs: number }>();

/**
 * Embedded PGlite in a directory, run in a worker thread (pglite-thread.ts). PGlite is one Postgres
 * backend inside this process and takes no lock on its directory: services in one process (tests,
 * several nodes in one process) share one instance, and a lock file keeps another process off it
 * (two writers would corrupt it).
 */
export class PgliteDb implements Db {
  readonly kind = 'pglite';
  private closed = false;

  private constructor(private readonly pg: PgliteThread, private readonly dir: string) {}

  static async open(dir: string): Promise<PgliteDb> {
    let entry = openPglites.get(dir);
    if (!entry) {
      const lockFile = `${dir}.lock`;
      const db = (async () => {
        fs.mkdirSync(dir, { recursive: true });
        takeLock(lockFile);
        try {
          return await PgliteThread.open(dir);
        } catch (e) {
          fs.rmSync(lockFile, { force: true });
          throw e;
        }
      })();
      entry = { db, refs: 0 };
      openPglites.set(dir, entry);
      db.catch(() => openPglites.delete(dir));
    }
    entry.refs++;
    try {
      return new PgliteDb(await entry.db, dir);
    } catch (e) {
      entry.refs--;
      throw e;
    }
  }

  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.pg.query<T>(sql, params);
  }

  exec(sql: string): Promise<void> {
    return this.pg.exec(sql);
  }

  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const entry = openPglites.get(this.dir);
    if (!entry || --entry.refs > 0) return;
    openPglites.delete(this.dir);
    try { await this.pg.close(); } finally { fs.rmSync(`${this.dir}.lock`, { force: true }); }
  }
}

/** The pid in the lock file; a lock whose process is gone (killed) is stale and taken over. */
function takeLock(file: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(fs.readFileSync(file, 'utf8'));
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw Object.assign(new Error(`the PGlite database ${file.slice(0, -5)} is in use by process ${pid}; give each service its own DATA_DIR, or use DATABASE_URL`), { code: 'ELOCKED' });
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new Error(`cannot take the lock ${file}`);
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** DATABASE_URL set: that server; empty: PGlite in DATA_DIR/pglite. */
export function openDb(opts: { databaseUrl: string; dataDir: string }): Promise<Db> {
  if (opts.databaseUrl) return PostgresDb.connect(opts.databaseUrl);
  return PgliteDb.open(path.resolve(opts.dataDir, 'pglite'));
}
