// Sidecar mode: runs next to coturn, follows its log and publishes the monitor's events to the
// signaling broker over STOMP TCP (`npm run turn:sidecar -- [LOGFILE|-] --broker host:port`).
// Authenticates with a short-lived token of role turn-sidecar (TURN_SIDECAR_TOKEN, or --token-file,
// which is read again at every reconnect so that a renewed token is picked up). Starts at the end of the
// log by default so a restart does not replay old events; --from-start rebuilds state first.
import fs from 'node:fs';
import http from 'node:http';
import { LogFollower } from './follower';
import { TurnMonitor, TurnEvent } from './monitor';
import { StompPublisher, PublisherStats, DEFAULT_DESTINATION } from './publisher';
import { parseArgs, str } from './cli-args';

export interface SidecarOptions {
  log: string;
  host: string;
  port: number;
  /** A token, or where to read the current one at each (re)connect. */
  token?: string | (() => string | undefined);
  destination?: string;
  fromStart?: boolean;
  maxBuffer?: number;
  ttlSeconds?: number;
  /** How often diagnoses are re-evaluated (and new ones published). */
  tickMs?: number;
  /** How often a `summary` event (snapshot totals) is published; 0: never. */
  summaryMs?: number;
  pollMs?: number;
  /** Serve the monitor's Prometheus text at http://host:port/metrics (Prometheus scrapes the sidecar). */
  metrics?: { host: string; port: number };
}

export type SidecarEvent = TurnEvent | { type: 'summary'; at: string; totals: ReturnType<TurnMonitor['snapshot']>['totals']; activeSessions: number; authFailures: number; publisher: PublisherStats };

export interface Sidecar {
  follower: LogFollower;
  monitor: TurnMonitor;
  publisher: StompPublisher<SidecarEvent>;
  /** The /metrics listener, when asked for (port 0: a free one). */
  metricsServer: http.Server | null;
  stop(drainMs?: number): Promise<void>;
}

export function startSidecar(o: SidecarOptions): Sidecar {
  const monitor = new TurnMonitor({ ttlSeconds: o.ttlSeconds });
  const publisher = new StompPublisher<SidecarEvent>({ host: o.host, port: o.port, token: o.token, destination: o.destination, maxBuffer: o.maxBuffer });
  const follower = new LogFollower(o.log, { fromStart: o.fromStart ?? false, pollMs: o.pollMs });
  monitor.on('event', (e: TurnEvent) => publisher.publish(e));
  follower.on('line', (l: string) => monitor.feed(l));
  follower.on('warning', (e: Error) => process.stderr.write(`[turn-sidecar] log: ${e.message}\n`));
  publisher.start();
  follower.start();
  const tick = setInterval(() => monitor.tick(), o.tickMs ?? 5000);
  const summaryMs = o.summaryMs ?? 30000;
  const summary = summaryMs > 0 ? setInterval(() => {
    const s = monitor.snapshot();
    publisher.publish({ type: 'summary', at: s.at, totals: s.totals, activeSessions: s.totals.activeSessions, authFailures: s.authFailures.total, publisher: publisher.stats() });
  }, summaryMs) : null;
  const metricsServer = o.metrics ? serveMetrics(monitor, o.metrics.host, o.metrics.port) : null;
  return {
    follower, monitor, publisher, metricsServer,
    async stop(drainMs = 0) {
      clearInterval(tick);
      if (metricsServer) await new Promise<void>((resolve) => { metricsServer.closeAllConnections?.(); metricsServer.close(() => resolve()); });
      if (summary) clearInterval(summary);
      await follower.stop();
      await publisher.stop(drainMs);
    },
  };
}

function serveMetrics(monitor: TurnMonitor, host: string, port: number): http.Server {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && (req.url ?? '').split('?')[0] === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(monitor.metrics());
    } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: GET /metrics\n');
  });
  server.on('error', (e) => process.stderr.write(`[turn-sidecar] metrics listener: ${e.message}\n`));
  server.listen(port, host);
  return server;
}

/** The token in `file` as it is now (the file is renewed in place); undefined while unreadable. */
export function tokenFileReader(file: string): () => string | undefined {
  return () => {
    try {
      return fs.readFileSync(file, 'utf8').trim() || undefined;
    } catch (e) {
      process.stderr.write(`[turn-sidecar] token file: ${(e as Error).message}\n`);
      return undefined;
    }
  };
}

const USAGE = `usage: npm run turn:sidecar -- [LOGFILE|-] [--broker host:port] [--token-file FILE] [--destination D] [--from-start] [--max-buffer N]
  LOGFILE   coturn's log (a file, a glob, or coturn's log-file setting; default TURN_LOG); '-' reads stdin
  --broker  the signaling service's STOMP TCP listener (default TURN_SIDECAR_BROKER, 127.0.0.1:61613)
  token     TURN_SIDECAR_TOKEN (a short-lived JWT with role turn-sidecar) or --token-file (read again
            at every reconnect: renew the file before the token expires)
  --destination  default ${DEFAULT_DESTINATION} (the signaling service republishes on /topic/ops.turn)
  --metrics host:port  serve Prometheus text at /metrics (default TURN_SIDECAR_METRICS; empty: off)`;

function main(argv: string[]): void {
  const { flags, positional } = parseArgs(argv);
  if (flags.help) { process.stdout.write(USAGE + '\n'); return; }
  const env = process.env;
  const log = positional[0] ?? env.TURN_LOG;
  if (!log) { process.stderr.write(USAGE + '\n'); process.exit(2); }
  const broker = str(flags.broker) ?? (env.TURN_SIDECAR_BROKER || '127.0.0.1:61613');
  const m = /^(.*):(\d+)$/.exec(broker);
  if (!m) { process.stderr.write(`--broker must be host:port, got ${broker}\n`); process.exit(2); }
  const metricsAt = str(flags.metrics) ?? env.TURN_SIDECAR_METRICS ?? '';
  const mm = metricsAt ? /^(.*):(\d+)$/.exec(metricsAt) : null;
  if (metricsAt && !mm) { process.stderr.write(`--metrics must be host:port, got ${metricsAt}\n`); process.exit(2); }
  const tokenFile = str(flags['token-file']);
  const token = tokenFile ? tokenFileReader(tokenFile) : env.TURN_SIDECAR_TOKEN;
  if (!(typeof token === 'function' ? token() : token)) process.stderr.write('[turn-sidecar] no token (TURN_SIDECAR_TOKEN or --token-file): the broker will refuse the events\n');
  const sc = startSidecar({
    log, host: m[1] === '0.0.0.0' ? '127.0.0.1' : m[1], port: Number(m[2]), token, destination: str(flags.destination),
    fromStart: !!flags['from-start'], maxBuffer: Number(str(flags['max-buffer']) ?? 10000),
    ttlSeconds: Number(env.TURN_TTL_S || 3600),
    metrics: mm ? { host: mm[1], port: Number(mm[2]) } : undefined,
  });
  sc.publisher.on('connect', () => process.stderr.write(`[turn-sidecar] connected to ${broker}\n`));
  sc.publisher.on('disconnect', (e: Error) => process.stderr.write(`[turn-sidecar] broker lost (${e.message}); buffering, reconnecting\n`));
  const shutdown = () => { void sc.stop(2000).then(() => process.exit(0)); };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  if (log === '-') sc.follower.on('end', shutdown);
}

if (require.main === module) main(process.argv.slice(2));
