// PGlite in a worker thread. PGlite is Postgres compiled to WASM and runs on the thread that calls
// it: opening a fresh DATA_DIR (initdb) held the service's event loop for 3.2 s and a reopen for
// 0.5 s, and every query ran between two STOMP deliveries. Here the instance lives in a worker;
// this side sends statements and gets rows back (structured clone keeps Dates, BigInts, arrays and
// bytes). One connection, as PGlite has: a transaction holds it until COMMIT or ROLLBACK, and the
// statements of everyone else wait their turn behind it.
import { checkParams } from './params';
import { Worker } from 'node:worker_threads';

type Request = { id: number; op: 'open'; dir: string } | { id: number; op: 'query' | 'exec'; sql: string; params?: unknown[] } | { id: number; op: 'close' };
type Reply = { id: number; rows?: unknown[]; error?: { message: string; props: Record<string, unknown> } };

/**
 * The worker's whole program, run from its source text (eval) so it needs no build step or loader
 * of its own: it may use nothing from this module's scope, only `require` and `workerData`.
 */
function workerMain(): void {
  /* eslint-disable @typescript-eslint/no-var-requires */
  const { parentPort, workerData } = require('node:worker_threads') as typeof import('node:worker_threads');
  const { PGlite } = require(workerData.pglite) as typeof import('@electric-sql/pglite');
  let pg: import('@electric-sql/pglite').PGlite | null = null;
  let chain: Promise<unknown> = Promise.resolve();
  const run = async (r: Request): Promise<unknown[] | undefined> => {
    if (r.op === 'open') { pg = await PGlite.create(r.dir); return undefined; }
    if (!pg) throw new Error('PGlite is not open');
    if (r.op === 'query') return (await pg.query(r.sql, r.params ?? [])).rows;
    if (r.op === 'exec') { await pg.exec(r.sql); return undefined; }
    await pg.close();
    pg = null;
    return undefined;
  };
  parentPort!.on('message', (r: Request) => {
    // In arrival order: the other side already orders transactions.
    chain = chain.then(() => run(r)).then(
      (rows) => parentPort!.postMessage({ id: r.id, rows } satisfies Reply),
      (e: Error & Record<string, unknown>) => {
        const props: Record<string, unknown> = {};
        for (const k of ['code', 'detail', 'hint', 'constraint', 'table', 'column', 'severity', 'schema']) if (typeof e?.[k] === 'string') props[k] = e[k];
        parentPort!.postMessage({ id: r.id, error: { message: String(e?.message ?? e), props } } satisfies Reply);
      },
    );
  });
}

export interface Statements {
  query<T>(sql: string, params?: unknown[]): Promise<T[]>;
  exec(sql: string): Promise<void>;
}

export class PgliteThread implements Statements {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (rows: unknown[] | undefined) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  /** Settles when the transaction holding the connection (if any) is over. */
  private turn: Promise<void> = Promise.resolve();
  private dead: Error | null = null;

  private constructor() {
    this.worker = new Worker(`(${workerMain.toString()})()`, { eval: true, workerData: { pglite: require.resolve('@electric-sql/pglite') } });
    this.worker.unref(); // held (ref) only while a statement is out: an idle database keeps no process alive
    this.worker.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.error) p.reject(Object.assign(new Error(m.error.message), m.error.props));
      else p.resolve(m.rows);
    });
    const fail = (e: Error) => {
      this.dead = e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`the PGlite thread exited (${code})`)));
  }

  static async open(dir: string): Promise<PgliteThread> {
    const t = new PgliteThread();
    try {
      await t.send({ op: 'open', dir });
    } catch (e) {
      await t.worker.terminate();
      throw e;
    }
    return t;
  }

  private send(r: { op: 'open'; dir: string } | { op: 'query' | 'exec'; sql: string; params?: unknown[] } | { op: 'close' }): Promise<unknown[] | undefined> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ ...r, id } as Request);
    });
  }

  /** Runs `fn` when no transaction holds the connection. */
  private async inTurn<T>(fn: () => Promise<T>, exclusive: boolean): Promise<T> {
    const before = this.turn;
    if (!exclusive) { await before; return fn(); }
    let release!: () => void;
    this.turn = before.then(() => new Promise<void>((r) => { release = r; }));
    await before;
    try { return await fn(); } finally { release(); }
  }

  private direct: Statements = {
    query: async <T>(sql: string, params: unknown[] = []) => (await this.send({ op: 'query', sql, params: checkParams(params) as unknown[] })) as T[],
    exec: async (sql: string) => { await this.send({ op: 'exec', sql }); },
  };

  query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.inTurn(() => this.direct.query<T>(sql, params), false);
  }

  exec(sql: string): Promise<void> {
    return this.inTurn(() => this.direct.exec(sql), false);
  }

  /** BEGIN … COMMIT around `fn` with the connection to itself; ROLLBACK when it throws. */
  transaction<T>(fn: (tx: Statements) => Promise<T>): Promise<T> {
    return this.inTurn(async () => {
      await this.direct.exec('BEGIN');
      try {
        const out = await fn(this.direct);
        await this.direct.exec('COMMIT');
        return out;
      } catch (e) {
        await this.direct.exec('ROLLBACK').catch(() => undefined);
        throw e;
      }
    }, true);
  }

  async close(): Promise<void> {
    await this.inTurn(() => this.send({ op: 'close' }), true).catch(() => undefined);
    await this.worker.terminate();
  }
}
