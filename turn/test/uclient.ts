// Drives turnutils_uclient (Debian coturn) for the tests: real allocations against a real coturn.
import { spawn } from 'node:child_process';
import { requireProgram } from '../../test-support/processes';

export interface UclientRun { code: number | null; stdout: string; stderr: string }

export interface UclientOptions {
  port: number;
  username: string;
  password: string;
  /** -t: TCP to coturn. */
  tcp?: boolean;
  /** -m: clients (with -y each client makes two allocations that relay to each other). */
  clients?: number;
  /** -n: messages each client sends through its relay. */
  messages?: number;
  timeoutMs?: number;
}

/**
 * `-y -c`: client-to-client through two relays, no RTCP allocation, so one client makes exactly two
 * allocations and relays `messages` packets each way — no separate peer process needed.
 */
export function runUclient(o: UclientOptions): Promise<UclientRun> {
  const bin = requireProgram('turnutils_uclient', 'coturn');
  const args = ['-y', '-c', '-n', String(o.messages ?? 5), '-m', String(o.clients ?? 1), '-u', o.username, '-w', o.password, '-p', String(o.port)];
  if (o.tcp) args.unshift('-t');
  args.push('127.0.0.1');
  return new Promise((resolve) => {
    const p = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += String(d); });
    p.stderr.on('data', (d) => { stderr += String(d); });
    // uclient retries failed authentication for a while; the tests only need its first attempts.
    const t = setTimeout(() => p.kill('SIGKILL'), o.timeoutMs ?? 20000);
    p.on('exit', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}
