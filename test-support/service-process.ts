// The product's processes started from the source tree in children (test-support/run-ts.js), so that
// a test or `npm run chaos` can SIGKILL them as a crash would: the service (signaling/src/main.ts) and
// the media engine as `npm run kms` runs it (kurento/src/cli.ts). Neither depends on `npm run build`.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, tcpOpen, waitFor } from './ports';

// From the sources (tests) or from dist/ (npm run chaos runs compiled): the repository either way.
const REPO = path.resolve(__dirname, __dirname.split(path.sep).includes('dist') ? '../..' : '..');
const RUN_TS = path.join(REPO, 'test-support', 'run-ts.js');

export interface ChildService {
  proc: ChildProcess;
  /** Its output so far (the last 6,000 characters): shown when a step times out. */
  output(): string;
  /** SIGKILL, resolved once it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (the service's clean shutdown), resolved once it is gone. */
  stop(): Promise<void>;
}

function child(entry: string, env: NodeJS.ProcessEnv): ChildService {
  const proc = spawn(process.execPath, [RUN_TS, path.join(REPO, entry)], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (b: Buffer) => { out = (out + b.toString()).slice(-6000); };
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const alive = () => proc.exitCode === null && proc.signalCode === null;
  return {
    proc,
    output: () => out,
    async kill() { if (alive()) proc.kill('SIGKILL'); await gone; },
    async stop() { if (alive()) proc.kill('SIGTERM'); await gone; },
  };
}

/**
 * The service in a child; resolves once it printed its URL. `env` is added to this process's; without
 * a DATA_DIR it gets a fresh one (removed when it stops), never the repository's data/.
 */
export async function spawnService(env: Record<string, string>): Promise<ChildService & { url: string; stompUrl: string }> {
  const own = env.DATA_DIR ? null : fs.mkdtempSync(path.join(os.tmpdir(), 'busking-svc-'));
  const svc = child('signaling/src/main.ts', { ...process.env, HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'info', ...(own ? { DATA_DIR: own } : {}), ...env });
  if (own) void svc.proc.once('exit', () => fs.rmSync(own, { recursive: true, force: true }));
  const url = await waitFor(() => {
    if (svc.proc.exitCode !== null) throw new Error(`service exited ${svc.proc.exitCode}: ${svc.output()}`);
    return /Open (http:\/\/\S+?)\/?\n/.exec(svc.output())?.[1] ?? null;
  }, 60000, 'the service started');
  return { ...svc, url, stompUrl: `${url.replace(/^http/, 'ws')}/stomp` };
}

/** The embedded engine in a child, on `port` (a free one by default); resolves once it listens. */
export async function spawnEngine(port?: number, env: Record<string, string> = {}): Promise<ChildService & { port: number; url: string }> {
  const p = port ?? (await freePort());
  const engine = child('kurento/src/cli.ts', { ...process.env, KMS_PORT: String(p), KMS_HOST: '127.0.0.1', ...env });
  await waitFor(() => {
    if (engine.proc.exitCode !== null) throw new Error(`engine exited ${engine.proc.exitCode}: ${engine.output()}`);
    return tcpOpen(p);
  }, 30000, `the engine on ${p}`);
  return { ...engine, port: p, url: `ws://127.0.0.1:${p}/kurento` };
}
