/**
 * Starts a private RabbitMQ node (Debian rabbitmq-server) with only Web-STOMP enabled, on free
 * 127.0.0.1 ports, with its own node name, epmd port, cookie (HOME), mnesia and log dirs; stops it after.
 * Never touches a system RabbitMQ that may be running.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { alive as pidAlive } from './procstat';
import { freePort, tcpOpen } from '../../test-support/ports';

const SBIN = '/usr/lib/rabbitmq/bin';

export interface RabbitNode {
  wsUrl: string;
  wsPort: number;
  pid: number;              // beam.smp
  version: string;
  rabbitmqctl(args: string[], timeoutMs?: number): { status: number | null; stdout: string; stderr: string };
  gc(): void;
  stop(): Promise<void>;
}



/** Why RabbitMQ cannot be used here, or null when it looks installed. */
export function rabbitMissing(): string | null {
  const bin = path.join(SBIN, 'rabbitmq-server');
  if (!fs.existsSync(bin) && spawnSync('sh', ['-c', 'command -v rabbitmq-server'], { stdio: 'ignore' }).status !== 0) {
    return 'RabbitMQ not installed: apt-get install rabbitmq-server';
  }
  const lib = '/usr/lib/rabbitmq/lib';
  const dirs = fs.existsSync(lib) ? fs.readdirSync(lib) : [];
  const hasWebStomp = dirs.some((d) => fs.existsSync(path.join(lib, d, 'plugins')) &&
    fs.readdirSync(path.join(lib, d, 'plugins')).some((p) => p.startsWith('rabbitmq_web_stomp-')));
  if (!hasWebStomp) return 'RabbitMQ installed without the rabbitmq_web_stomp plugin';
  return null;
}

export async function startRabbit(log: (s: string) => void): Promise<RabbitNode> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-rabbit-'));
  const [nodePort, distPort, epmdPort, wsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const nodename = `benchstomp${process.pid}@localhost`;
  fs.writeFileSync(path.join(dir, 'rabbitmq.conf'), [
    `listeners.tcp.1 = 127.0.0.1:${nodePort}`,
    `web_stomp.tcp.port = ${wsPort}`,
    `web_stomp.tcp.ip = 127.0.0.1`,
    `web_stomp.max_connections = infinity`,
    `web_stomp.num_acceptors.tcp = 10`,
    `stomp.listeners.tcp = none`,
    `loopback_users.guest = true`,
    `log.console = false`,
    `log.file.level = warning`,
    `vm_memory_high_watermark.relative = 0.6`,
    `disk_free_limit.absolute = 50MB`,
    '',
  ].join('\n'));
  fs.writeFileSync(path.join(dir, 'enabled_plugins'), '[rabbitmq_web_stomp].\n');
  fs.writeFileSync(path.join(dir, 'rabbitmq-env.conf'), '');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: dir, // the Erlang cookie lives here, shared by server and CLI
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(nodePort),
    RABBITMQ_DIST_PORT: String(distPort),
    ERL_EPMD_PORT: String(epmdPort),
    ERL_EPMD_ADDRESS: '127.0.0.1',
    RABBITMQ_CONFIG_FILE: path.join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: path.join(dir, 'advanced.config'),
    RABBITMQ_CONF_ENV_FILE: path.join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_ENABLED_PLUGINS_FILE: path.join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: path.join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: path.join(dir, 'log'),
    RABBITMQ_PID_FILE: path.join(dir, 'beam.pid'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RABBITMQ_CTL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const out = fs.openSync(path.join(dir, 'server.out'), 'w');
  const proc = spawn(path.join(SBIN, 'rabbitmq-server'), [], { env, stdio: ['ignore', out, out], cwd: dir });
  let exited = false;
  proc.on('exit', () => { exited = true; });

  const rabbitmqctl = (args: string[], timeoutMs = 60000) => {
    const r = spawnSync(path.join(SBIN, 'rabbitmqctl'), ['-n', nodename, ...args], { env, encoding: 'utf8', timeout: timeoutMs, cwd: dir });
    return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
  };

  const cleanupDir = () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* ignore */ } };
  const killEpmd = () => { spawnSync('epmd', ['-port', String(epmdPort), '-kill'], { env, stdio: 'ignore', timeout: 5000 }); };

  const t0 = Date.now();
  let pid = 0;
  try {
    for (;;) {
      if (exited) throw new Error(`rabbitmq-server exited: ${fs.readFileSync(path.join(dir, 'server.out'), 'utf8').slice(-2000)}`);
      if (Date.now() - t0 > 90000) throw new Error('RabbitMQ did not open Web-STOMP within 90 s');
      if (await tcpOpen(wsPort)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const aw = rabbitmqctl(['await_startup', '--timeout', '60']);
    if (aw.status !== 0) throw new Error(`rabbitmqctl await_startup failed: ${aw.stderr || aw.stdout}`);
    pid = Number(fs.readFileSync(path.join(dir, 'beam.pid'), 'utf8').trim());
    if (!pid || !pidAlive(pid)) throw new Error('no beam.smp pid');
  } catch (e) {
    try { proc.kill('SIGKILL'); } catch { /* ignore */ }
    const p = Number(fs.existsSync(path.join(dir, 'beam.pid')) ? fs.readFileSync(path.join(dir, 'beam.pid'), 'utf8').trim() : 0);
    if (p && pidAlive(p)) process.kill(p, 'SIGKILL');
    killEpmd();
    cleanupDir();
    throw e;
  }
  const vr = rabbitmqctl(['eval', 'rabbit_misc:version().'], 20000);
  const version = vr.stdout.trim().replace(/"/g, '') || 'unknown';
  log(`RabbitMQ ${version} up in ${Date.now() - t0} ms (beam.smp pid ${pid}, Web-STOMP ws://127.0.0.1:${wsPort}/ws)`);

  return {
    wsUrl: `ws://127.0.0.1:${wsPort}/ws`,
    wsPort,
    pid,
    version,
    rabbitmqctl,
    gc() { rabbitmqctl(['eval', '[erlang:garbage_collect(P) || P <- erlang:processes()], ok.'], 60000); },
    async stop() {
      rabbitmqctl(['stop'], 60000);
      const deadline = Date.now() + 20000;
      while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      if (pidAlive(pid)) process.kill(pid, 'SIGKILL');
      if (!exited) try { proc.kill('SIGKILL'); } catch { /* ignore */ }
      killEpmd();
      cleanupDir();
    },
  };
}
