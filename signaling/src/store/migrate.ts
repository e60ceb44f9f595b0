// Versioned migrations: migrations/NNN_name.sql, applied in order, each once, each in its own
// transaction together with its row in schema_migrations. Several nodes starting at once on one
// PostgreSQL serialise on a table lock and re-check, so each file runs exactly once.
import fs from 'node:fs';
import path from 'node:path';
import type { Db } from './db';

export interface Migration { version: number; name: string; sql: string }

/** The SQL files: next to this module (dist/, copied by the build) or in the sources. */
export function migrationsDir(): string {
  const here = path.join(__dirname, 'migrations');
  if (fs.existsSync(here)) return here;
  return path.resolve(__dirname, '..', '..', '..', '..', 'signaling', 'src', 'store', 'migrations');
}

export function loadMigrations(dir = migrationsDir()): Migration[] {
  const out: Migration[] = [];
  for (const f of fs.readdirSync(dir).sort()) {
    const m = /^(\d+)_([\w-]+)\.sql$/.exec(f);
    if (!m) continue;
    out.push({ version: Number(m[1]), name: m[2], sql: fs.readFileSync(path.join(dir, f), 'utf8') });
  }
  const versions = out.map((x) => x.version);
  if (new Set(versions).size !== versions.length) throw new Error(`duplicate migration version in ${dir}`);
  return out;
}

/** Applies the missing migrations; returns the versions it applied. */
export async function migrate(db: Db, migrations = loadMigrations()): Promise<number[]> {
  await db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
  const applied: number[] = [];
  for (const m of migrations) {
    const done = await db.transaction(async (tx) => {
      await tx.exec('LOCK TABLE schema_migrations IN EXCLUSIVE MODE');
      const have = await tx.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (have.length) return false;
      await tx.exec(m.sql);
      await tx.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
      return true;
    });
    if (done) applied.push(m.version);
  }
  return applied;
}
