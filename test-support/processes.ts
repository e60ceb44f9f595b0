import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, tcpOpen, waitFor } from './ports';

/** Fails loudly (never skips) when a program the tests drive for real is missing. */
export function requireProgram(bin: string, debianPackage: string): string {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`${bin} is not installed: the tests need it for real. Install it with: apt-get install ${debianPackage} (npm test does this when run as root)`);
  }
  return r.stdout.trim();
}

export interface Started {
  proc: ChildProcess;
  stop(): Promise<void>;
}

export function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('exit', () => { clearTimeout(t); resolve(); });
    proc.kill(signal);
  });
}

export interface RedisServer extends Started { url: string; port: number }

/** A throwaway redis-server on a free 127.0.0.1 port, no persistence. */
export async function startRedis(port?: number): Promise<RedisServer> {
  const bin = requireProgram('redis-server', 'redis-server');
  const p = port ?? (await freePort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'redis-'));
  const proc = spawn(bin, ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  await waitFor(() => tcpOpen(p), 10000, `redis-server on ${p}`);
  return {
    proc, port: p, url: `redis://127.0.0.1:${p}`,
    async stop() { await stopProcess(proc); fs.rmSync(dir, { recursive: true, force: true }); },
  };
}
