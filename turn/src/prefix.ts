// Strips the prefixes in front of a coturn message and keeps what they say (time, level, host).
// Shapes seen in the wild:
//   coturn 4.5/4.6.1 log-file/stdout   `31: : msg`, `31: : ERROR: msg`
//   ... with new-log-timestamp          `2026-11-22T01:38:55+0000: msg`, `...+0000: ERROR: msg`
//   coturn 4.6.2/4.6.3                  `31: (292618): INFO: msg` (thread id, level word, opt. `file.c(12):`)
//   coturn 4.7+                         `31 INFO msg`, `2026-02-10T09:11:45.123+0100 ERROR msg`
//   syslog (RFC 3164) / journalctl -o short(-precise|-iso) in front of any of these:
//                                       `Feb 10 09:11:45 host turnserver[292618]: `
import { LineMeta, LogLevel } from './events';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const SYSLOG_BSD = /^(?:<\d{1,3}>)?([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d+))? (\S+) ([^\s:[]+)(?:\[(\d+)\])?: /;
const SYSLOG_ISO = /^(?:<\d{1,3}>)?(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) (\S+) ([^\s:[]+)(?:\[(\d+)\])?: /;
// coturn's own timestamp: seconds since start, or an ISO-8601 time (new-log-timestamp default format).
const COTURN_TIME = /^(?:(\d+)|(\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?))(?:: ?| )/;
const THREAD_ID = /^\(\d+\): /;
const FILE_LINE = /^[\w./-]+\.c\(\d+\):? ?/;
const LEVEL = /^(DEBUG|INFO|WARNING|ERROR|CONTROL)(?:: | )/;
const EMPTY_LEVEL = /^: /; // 4.6.1 writes ": " for every level but ERROR

export function parseIsoTime(s: string): number | undefined {
  // `+0000` is not accepted by every Date parser; `+00:00` is.
  const norm = s.replace(' ', 'T').replace(',', '.').replace(/([+-]\d\d)(\d\d)$/, '$1:$2');
  const t = Date.parse(norm);
  return Number.isFinite(t) ? t : undefined;
}

/** Syslog's BSD time has no year: take the one that puts the line closest to `nowMs`. */
function bsdTime(mon: string, day: string, h: string, m: string, s: string, frac: string | undefined, nowMs: number): number | undefined {
  const month = MONTHS.indexOf(mon);
  if (month < 0) return undefined;
  const year = new Date(nowMs).getFullYear();
  const ms = frac ? Math.round(Number(`0.${frac}`) * 1000) : 0;
  const make = (y: number) => new Date(y, month, Number(day), Number(h), Number(m), Number(s), ms).getTime();
  let t = make(year);
  if (t - nowMs > 2 * 86400_000) t = make(year - 1); // a December line read in January
  return t;
}

export interface Stripped { meta: LineMeta; body: string }

export function stripPrefixes(line: string, nowMs: number = Date.now()): Stripped {
  const meta: LineMeta = {};
  let rest = line.replace(/[\r\n]+$/, '');

  let m = SYSLOG_BSD.exec(rest);
  if (m) {
    meta.at = bsdTime(m[1], m[2], m[3], m[4], m[5], m[6], nowMs);
    meta.host = m[7];
    if (m[9]) meta.pid = Number(m[9]);
    rest = rest.slice(m[0].length);
  } else if ((m = SYSLOG_ISO.exec(rest))) {
    meta.at = parseIsoTime(m[1]);
    meta.host = m[2];
    if (m[4]) meta.pid = Number(m[4]);
    rest = rest.slice(m[0].length);
  }

  m = COTURN_TIME.exec(rest);
  if (m) {
    if (m[1] !== undefined) meta.uptime = Number(m[1]);
    else {
      const t = parseIsoTime(m[2]);
      // coturn's own wall-clock time wins over syslog's reception time.
      if (t !== undefined) meta.at = t;
    }
    rest = rest.slice(m[0].length);
    if ((m = THREAD_ID.exec(rest))) rest = rest.slice(m[0].length);
    if ((m = FILE_LINE.exec(rest))) rest = rest.slice(m[0].length);
    if ((m = EMPTY_LEVEL.exec(rest))) rest = rest.slice(m[0].length);
    if ((m = LEVEL.exec(rest))) {
      meta.level = m[1].toLowerCase() as LogLevel;
      rest = rest.slice(m[0].length);
    } else if (!meta.level) meta.level = 'info';
  }
  return { meta, body: rest.trimEnd() };
}
