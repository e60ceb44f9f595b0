// `npm run turn:watch -- LOGFILE` — a live terminal summary of coturn from its log: sessions,
// traffic, authentication failures and diagnoses, redrawn every second. LOGFILE may be a file, a
// glob, coturn's log-file setting (it finds the dated files), or '-' for stdin:
//   journalctl -fu coturn -o short | npm run turn:watch -- -
// --once prints one summary after reading what is there and exits; --json prints the snapshot.
import { LogFollower } from './follower';
import { TurnMonitor } from './monitor';
import { renderSummary } from './render';
import { parseArgs, str } from './cli-args';

const USAGE = 'usage: npm run turn:watch -- LOGFILE|- [--interval MS] [--ttl SECONDS] [--once] [--json]';

function main(argv: string[]): void {
  const { flags, positional } = parseArgs(argv);
  const target = positional[0] ?? process.env.TURN_LOG;
  if (flags.help || !target) { process.stderr.write(USAGE + '\n'); process.exit(target ? 0 : 2); }
  const interval = Number(str(flags.interval) ?? 1000);
  const monitor = new TurnMonitor({ ttlSeconds: Number(str(flags.ttl) ?? process.env.TURN_TTL_S ?? 3600) });
  const follower = new LogFollower(target, { fromStart: !flags['from-end'], pollMs: Math.min(250, interval) });
  follower.on('line', (l: string) => monitor.feed(l));
  const tty = process.stdout.isTTY && !flags.json;
  const draw = () => {
    monitor.tick();
    const s = monitor.snapshot();
    if (flags.json) { process.stdout.write(JSON.stringify(s) + '\n'); return; }
    // Clear screen + home, then the summary: a redraw, not a scroll.
    process.stdout.write((tty ? '\x1b[2J\x1b[H' : '') + renderSummary(s, target === '-' ? 'stdin' : target, { color: !!tty }));
  };
  if (flags.once) {
    if (target === '-') {
      follower.on('end', () => { draw(); process.exit(0); });
      follower.start();
      return;
    }
    void follower.poll().then(() => { draw(); return follower.stop(); });
    return;
  }
  follower.start();
  const timer = setInterval(draw, interval);
  const stop = () => { clearInterval(timer); void follower.stop().then(() => process.exit(0)); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (target === '-') follower.on('end', () => { draw(); stop(); });
}

main(process.argv.slice(2));
