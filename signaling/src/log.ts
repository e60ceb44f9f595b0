// Minimal leveled logger: one JSON object per line on stderr. LOG_LEVEL picks the threshold.
// JSON because log lines carry user text (busk titles, session ids, error messages from clients):
// JSON.stringify escapes newlines and every control character, so a title with "\n" stays inside
// its own line's "msg" and cannot forge a second log line (issue 17). Collectors (journald, Loki,
// CloudWatch) read the fields as they are.
type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };
let threshold: number = ORDER.info;

/** What `extra` becomes in the line: an error's stack, a string as it is, anything else as data. */
function detail(extra: unknown): unknown {
  if (extra instanceof Error) return extra.stack ?? extra.message;
  return extra;
}

/** One log line: {time, level, scope, msg, extra?}, newline-terminated, never more than one line. */
export function formatLine(level: Level, scope: string, msg: string, extra?: unknown, now = new Date()): string {
  const entry: Record<string, unknown> = { time: now.toISOString(), level, scope, msg };
  if (extra !== undefined) entry.extra = detail(extra);
  let line: string;
  try {
    line = JSON.stringify(entry);
  } catch {
    // A cycle or a BigInt in `extra`: its text form rather than no line.
    line = JSON.stringify({ ...entry, extra: String(extra) });
  }
  return `${line}\n`;
}

function write(level: Level, scope: string, msg: string, extra?: unknown) {
  if (ORDER[level] < threshold) return;
  process.stderr.write(formatLine(level, scope, msg, extra));
}

export const log = {
  setLevel(l: Level) { threshold = ORDER[l]; },
  debug: (scope: string, msg: string, extra?: unknown) => write('debug', scope, msg, extra),
  info: (scope: string, msg: string, extra?: unknown) => write('info', scope, msg, extra),
  warn: (scope: string, msg: string, extra?: unknown) => write('warn', scope, msg, extra),
  error: (scope: string, msg: string, extra?: unknown) => write('error', scope, msg, extra),
};
