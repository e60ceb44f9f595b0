// Sidecar mode: runs next to coturn, follows its log and publishes the monitor's events to the
// signaling broker over STOMP TCP (`npm run turn:sidecar -- [LOGFILE|-] --broker host:port`).
// Authenticates with an ops token (TURN_SIDECAR_TOKEN, or --token-file). Starts at the end of the
// log by default so a restart does not replay old events; --from-start rebuilds state first.
import fs from 'node:fs';
import { LogFollower } from './follower';
import { TurnMonitor, TurnEvent } from './monitor';
import { StompPublisher, PublisherStats, DEFAULT_DESTINATION } from './publisher';
import { parseArgs, str } from './cli-args';

export interface SidecarOptions {
  log: string;
  host: string;
  port: number;
  token?: string;
  destination?: string;
  fromStart?: boolean;
  maxBuffer?: number;
  ttlSeconds?: number;
  /** How often diagnoses are re-evaluated (and new ones published). */
  tickMs?: number;
  /** How often a `summary` event (snapshot totals) is published; 0: never. */
  summaryMs?: number;
  pollMs?: number;
}

export type SidecarEvent = TurnEvent | { type: 'summary'; at: string; totals: ReturnType<TurnMonitor['snapshot']>['totals']; activeSessions: number; authFailures: number; publisher: PublisherStats };

export interface Sidecar {
  follower: LogFollower;
  monitor: TurnMonitor;
  publisher: StompPublisher<SidecarEvent>;
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
  return {
    follower, monitor, publisher,
    async stop(drainMs = 0) {
      clearInterval(tick);
      if (summary) clearInterval(summary);
      await follower.stop();
      await publisher.stop(drainMs);
    },
  };
}

const USAGE = `usage: npm run turn:sidecar -- [LOGFILE|-] [--broker host:port] [--token-file FILE] [--destination D] [--from-start] [--max-buffer N]
  LOGFILE   coturn's log (a file, a glob, or coturn's log-file setting; default TURN_LOG); '-' reads stdin
  --broker  the signaling service's STOMP TCP listener (default TURN_SIDECAR_BROKER, 127.0.0.1:61613)
  token     TURN_SIDECAR_TOKEN (a JWT with role ops) or --token-file
  --destination  default ${DEFAULT_DESTINATION} (the signaling service republishes on /topic/ops.turn)`;

function main(argv: string[]): void {
  const { flags, positional } = parseArgs(argv);
  if (flags.help) { process.stdout.write(USAGE + '\n'); return; }
  const env = process.env;
  const log = positional[0] ?? env.TURN_LOG;
  if (!log) { process.stderr.write(USAGE + '\n'); process.exit(2); }
  const broker = str(flags.broker) ?? (env.TURN_SIDECAR_BROKER || '127.0.0.1:61613');
  const m = /^(.*):(\d+)$/.exec(broker);
  if (!m) { process.stderr.write(`--broker must be host:port, got ${broker}\n`); process.exit(2); }
  const tokenFile = str(flags['token-file']);
  const token = tokenFile ? fs.readFileSync(tokenFile, 'utf8').trim() : env.TURN_SIDECAR_TOKEN;
  if (!token) process.stderr.write('[turn-sidecar] no ops token (TURN_SIDECAR_TOKEN or --token-file): the broker will refuse the events\n');
  const sc = startSidecar({
    log, host: m[1] === '0.0.0.0' ? '127.0.0.1' : m[1], port: Number(m[2]), token, destination: str(flags.destination),
    fromStart: !!flags['from-start'], maxBuffer: Number(str(flags['max-buffer']) ?? 10000),
    ttlSeconds: Number(env.TURN_TTL_S || 3600),
  });
  sc.publisher.on('connect', () => process.stderr.write(`[turn-sidecar] connected to ${broker}\n`));
  sc.publisher.on('disconnect', (e: Error) => process.stderr.write(`[turn-sidecar] broker lost (${e.message}); buffering, reconnecting\n`));
  const shutdown = () => { void sc.stop(2000).then(() => process.exit(0)); };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  if (log === '-') sc.follower.on('end', shutdown);
}

if (require.main === module) main(process.argv.slice(2));
