// A private PostgreSQL cluster for tests (Debian `postgresql`, 15): initdb in a temp dir, pg_ctl
// on a free 127.0.0.1 port with its socket in that dir, stopped and removed after. initdb refuses
// to run as root, so as root the cluster is made and run by the unprivileged `postgres` user.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

export const PG_BIN = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PostgresServer { url: string; port: number; stop(): Promise<void> }

function asUser(): string[] {
  return typeof process.getuid === 'function' && process.getuid() === 0 ? ['runuser', '-u', 'postgres', '--'] : [];
}

function run(cmd: string[]): void {
  const [bin, ...args] = [...asUser(), ...cmd];
  execFileSync(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

export async function startPostgres(): Promise<PostgresServer> {
  if (!fs.existsSync(path.join(PG_BIN, 'initdb'))) {
    throw new Error(`PostgreSQL 15 is not installed (${PG_BIN}/initdb): the tests need a real server. Install it with: apt-get install postgresql (npm test does this when run as root)`);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-'));
  fs.chmodSync(dir, 0o777);
  if (asUser().length) execFileSync('chown', ['postgres', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  run([path.join(PG_BIN, 'initdb'), '-D', data, '-U', 'busking', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  run([path.join(PG_BIN, 'pg_ctl'), '-D', data, '-l', path.join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start']);
  return {
    port, url: `postgres://busking@127.0.0.1:${port}/postgres`,
    async stop() {
      try { run([path.join(PG_BIN, 'pg_ctl'), '-D', data, '-m', 'fast', '-w', 'stop']); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
    },
  };
}
