// A real coturn (Debian `coturn`) for tests and for the lead's relay-only browser test: started on
// 127.0.0.1 with a free port, from turn/coturn/turnserver.local.conf with the per-run settings
// replaced (coturn lets its config file win over the command line for log-file, so the settings
// go into a generated copy of the file instead of argv).
import { spawn, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpUdpPort, tcpOpen, waitFor } from './ports';
import { requireProgram, stopProcess } from './processes';

export interface CoturnOptions {
  secret?: string;
  realm?: string;
  /** Fixed log file name (default). false: coturn's own dated naming, `<dir>/turn_<date>.log`. */
  simpleLog?: boolean;
  /** coturn's `new-log-timestamp` (ISO wall-clock times instead of seconds since start). */
  newLogTimestamp?: boolean;
  userQuota?: number;
  totalQuota?: number;
  /** More turnserver.conf lines. */
  extraConfig?: string[];
}

export interface StartedCoturn {
  port: number;
  host: string;
  realm: string;
  secret: string;
  /** The log-file setting; with simpleLog false coturn writes a dated file next to it. */
  logFile: string;
  dir: string;
  /** turn:127.0.0.1:PORT?transport=udp and tcp, for RTCIceServer.urls / TURN_URLS. */
  urls: string[];
  proc: ChildProcess;
  /** Sends SIGHUP: coturn reopens its log file (what logrotate's postrotate does). */
  reopenLog(): void;
  stop(): Promise<void>;
}

const REPLACED = new Set(['listening-port', 'listening-ip', 'relay-ip', 'log-file', 'pidfile', 'realm', 'static-auth-secret',
  'simple-log', 'new-log-timestamp', 'user-quota', 'total-quota']);

export const LOCAL_CONF = path.resolve(__dirname, '..', 'turn', 'coturn', 'turnserver.local.conf');

export async function startCoturn(opts: CoturnOptions = {}): Promise<StartedCoturn> {
  const bin = requireProgram('turnserver', 'coturn');
  const port = await freeTcpUdpPort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'coturn-'));
  const realm = opts.realm ?? 'busking.local';
  const secret = opts.secret ?? 'test-turn-secret';
  const logFile = path.join(dir, 'turn.log');
  const base = fs.readFileSync(LOCAL_CONF, 'utf8').split('\n')
    .filter((l) => !REPLACED.has(l.trim().split(/[=\s]/)[0]));
  const conf = [
    ...base,
    'listening-ip=127.0.0.1', 'relay-ip=127.0.0.1', `listening-port=${port}`,
    `realm=${realm}`, `static-auth-secret=${secret}`,
    `log-file=${logFile}`, `pidfile=${path.join(dir, 'turnserver.pid')}`,
    ...(opts.simpleLog === false ? [] : ['simple-log']),
    ...(opts.newLogTimestamp ? ['new-log-timestamp'] : []),
    `user-quota=${opts.userQuota ?? 12}`, `total-quota=${opts.totalQuota ?? 200}`,
    ...(opts.extraConfig ?? []),
  ];
  const confFile = path.join(dir, 'turnserver.conf');
  fs.writeFileSync(confFile, conf.join('\n') + '\n');
  const proc = spawn(bin, ['-c', confFile], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
  let stderr = '';
  proc.stderr?.on('data', (d) => { stderr += String(d); });
  try {
    await waitFor(async () => {
      if (proc.exitCode !== null) throw new Error(`turnserver exited (${proc.exitCode}): ${stderr.slice(-500)}`);
      return tcpOpen(port);
    }, 10000, `coturn on 127.0.0.1:${port}`);
  } catch (e) {
    await stopProcess(proc);
    throw e;
  }
  return {
    port, host: '127.0.0.1', realm, secret, logFile, dir, proc,
    urls: [`turn:127.0.0.1:${port}?transport=udp`, `turn:127.0.0.1:${port}?transport=tcp`],
    reopenLog() { proc.kill('SIGHUP'); },
    async stop() {
      await stopProcess(proc);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
