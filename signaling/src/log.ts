// Minimal leveled logger (stderr, one line per event). LOG_LEVEL picks the threshold.
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: number = ORDER.info;

function write(level: Level, scope: string, msg: string, extra?: unknown) {
  if (ORDER[level] < threshold) return;
  const tail = extra === undefined ? '' : ` ${extra instanceof Error ? extra.stack ?? extra.message : typeof extra === 'string' ? extra : JSON.stringify(extra)}`;
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} [${scope}] ${msg}${tail}\n`);
}

export const log = {
  setLevel(l: Level) { threshold = ORDER[l]; },
  debug: (scope: string, msg: string, extra?: unknown) => write('debug', scope, msg, extra),
  info: (scope: string, msg: string, extra?: unknown) => write('info', scope, msg, extra),
  warn: (scope: string, msg: string, extra?: unknown) => write('warn', scope, msg, extra),
  error: (scope: string, msg: string, extra?: unknown) => write('error', scope, msg, extra),
};
