/**
 * Our STOMP broker alone in its own process for bench/stomp.ts: an HTTP server on a free 127.0.0.1
 * port with the broker attached at /stomp (and its TCP transport on another free port). Talks to the
 * parent over IPC: 'ready' {wsPort, tcpPort}; requests 'mem' (after a full GC when run with
 * --expose-gc) and 'stop'.
 */
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';

interface BrokerLike {
  attachTo(server: http.Server, path?: string): void;
  listenTcp(port: number, host: string): Promise<number>;
  stats(): unknown;
  close(): Promise<void>;
}

// Loaded at run time so the bench still compiles while the broker is being written.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const stomp = require(path.join(__dirname, '..', 'signaling', 'src', 'stomp')) as { Broker: new (opts: object) => BrokerLike };

async function main(): Promise<void> {
  const broker = new stomp.Broker({
    // Anonymous principals, everything allowed: the bench measures the broker, not the rules.
    authenticator: () => ({ id: 'bench', name: 'bench', roles: [], anonymous: true }),
    permissions: () => true,
    limits: { rateLimit: { count: 1_000_000_000, windowMs: 1000 }, maxSubscriptions: 1000 },
    heartbeat: { sendMs: 10000, receiveMs: 10000 },
    sessionIdPrefix: 'bench',
    logger: { debug() {}, info() {}, warn(m: string) { process.stderr.write(`[stomp-server] ${m}\n`); }, error(m: string, meta?: unknown) { process.stderr.write(`[stomp-server] ${m} ${meta ? JSON.stringify(meta) : ''}\n`); } },
  });
  const server = http.createServer((_req, res) => { res.statusCode = 404; res.end(); });
  broker.attachTo(server, '/stomp');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const wsPort = (server.address() as net.AddressInfo).port;
  let tcpPort = 0;
  try { tcpPort = await broker.listenTcp(0, '127.0.0.1'); } catch { /* TCP transport not needed by the bench */ }
  process.send!({ event: 'ready', wsPort, tcpPort, pid: process.pid });

  process.on('message', async (m: { id: number; cmd: string }) => {
    if (m.cmd === 'mem') {
      const g = (globalThis as { gc?: () => void }).gc;
      if (g) { g(); g(); }
      process.send!({ id: m.id, mem: process.memoryUsage(), stats: broker.stats() });
    } else if (m.cmd === 'stats') {
      process.send!({ id: m.id, stats: broker.stats() });
    } else if (m.cmd === 'stop') {
      const t = setTimeout(() => process.exit(0), 5000);
      try { await broker.close(); } catch { /* ignore */ }
      server.close();
      clearTimeout(t);
      process.send!({ id: m.id });
      setTimeout(() => process.exit(0), 50);
    }
  });
  process.on('disconnect', () => process.exit(0));
}

main().catch((e) => { process.stderr.write(`[stomp-server] ${(e as Error).stack}\n`); process.exit(1); });
