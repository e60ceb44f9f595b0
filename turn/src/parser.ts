// coturn log line → typed event. Never throws: a line it does not know (startup banner, a future
// coturn's new message) becomes `{kind: 'unknown'}`, which the monitor counts. Empty lines → null.
import { CoturnEvent, LineMeta } from './events';
import { stripPrefixes } from './prefix';

const SID = '(\\d+)';
const num = (s: string) => Number(s);

// `<...>` fields are matched lazily and anchored by the literal that follows them in coturn's
// format strings, so a realm or user containing spaces still parses.
const RULES: Array<[RegExp, (m: RegExpExecArray, base: LineMeta & { raw: string }) => CoturnEvent]> = [
  [new RegExp(`^session ${SID}: (new|refreshed), realm=<(.*?)>, username=<(.*?)>, lifetime=(\\d+)(?:, cipher=(.*?), method=(.*))?$`),
    (m, b) => ({ ...b, kind: m[2] === 'new' ? 'session-new' : 'session-refreshed', session: m[1], realm: m[3], user: m[4], lifetime: num(m[5]),
      ...(m[6] !== undefined ? { cipher: m[6], tlsMethod: m[7] } : {}) })],
  [new RegExp(`^session ${SID}: (peer )?usage: realm=<(.*?)>, username=<(.*?)>, rp=(\\d+), rb=(\\d+), sp=(\\d+), sb=(\\d+)$`),
    (m, b) => ({ ...b, kind: 'usage', session: m[1], side: m[2] ? 'peer' : 'client', realm: m[3], user: m[4],
      rp: num(m[5]), rb: num(m[6]), sp: num(m[7]), sb: num(m[8]) })],
  [new RegExp(`^session ${SID}: (?:origin <(.*?)> )?realm <(.*?)> user <(.*?)>: incoming packet (\\S+) processed, (?:(success)|error (\\d+): ?(.*))$`),
    (m, b) => ({ ...b, kind: 'request', session: m[1], ...(m[2] ? { origin: m[2] } : {}), realm: m[3], user: m[4], method: m[5],
      success: m[6] === 'success', ...(m[6] ? {} : { code: num(m[7]), reason: m[8] }) })],
  [new RegExp(`^session ${SID}: closed \\((1st|2nd) stage\\), user <(.*?)> realm <(.*?)> origin <(.*?)>, local (\\S+), remote (\\S+), reason: ?(.*)$`),
    (m, b) => ({ ...b, kind: 'session-closed', session: m[1], stage: m[2] === '1st' ? 1 : 2, user: m[3], realm: m[4], origin: m[5],
      local: m[6], remote: m[7], reason: m[8] })],
  [new RegExp(`^session ${SID}: delete: realm=<(.*?)>, username=<(.*)>$`),
    (m, b) => ({ ...b, kind: 'session-delete', session: m[1], realm: m[2], user: m[3] })],
  [new RegExp(`^session ${SID}: peer (\\S+) lifetime updated: (\\d+)$`),
    (m, b) => ({ ...b, kind: 'peer', session: m[1], peer: m[2], action: 'updated', lifetime: num(m[3]) })],
  [new RegExp(`^session ${SID}: peer (\\S+) deleted$`),
    (m, b) => ({ ...b, kind: 'peer', session: m[1], peer: m[2], action: 'deleted' })],
  // Authentication: 4.6.1 writes `check_stun_auth: ...` (no session id); newer ones prefix `session N: `.
  [new RegExp(`^(?:session ${SID}: )?(?:\\w+: )?Cannot find credentials of user <(.*)>$`),
    (m, b) => ({ ...b, kind: 'auth-problem', ...(m[1] ? { session: m[1] } : {}), problem: 'no-credentials', user: m[2] })],
  [new RegExp(`^(?:session ${SID}: )?(?:\\w+: )?user (.*) credentials are incorrect$`),
    (m, b) => ({ ...b, kind: 'auth-problem', ...(m[1] ? { session: m[1] } : {}), problem: 'incorrect-credentials', user: m[2] })],
  [new RegExp(`^(?:session ${SID}: )?(?:\\w+: )?wrong realm: (.*)$`),
    (m, b) => ({ ...b, kind: 'auth-problem', ...(m[1] ? { session: m[1] } : {}), problem: 'wrong-realm', realm: m[2] })],
  [new RegExp(`^(?:session ${SID}: )?(?:\\w+: )?wrong username: (.*)$`),
    (m, b) => ({ ...b, kind: 'auth-problem', ...(m[1] ? { session: m[1] } : {}), problem: 'wrong-username', user: m[2] })],
  [new RegExp(`^(?:session ${SID}: )?A peer IP (\\S+) denied(?: in the range[:=] ?|: )(.*?)(?: in server \\d+)?$`),
    (m, b) => ({ ...b, kind: 'peer-denied', ...(m[1] ? { session: m[1] } : {}), peer: m[2], rule: m[3] })],
  [new RegExp(`^session ${SID}: (.+?) socket closed remotely (\\S+)$`),
    (m, b) => ({ ...b, kind: 'socket', session: m[1], transport: m[2], event: 'closed-remotely', remote: m[3] })],
  [new RegExp(`^session ${SID}: (.+?) socket error: (.*) (\\S+)$`),
    (m, b) => ({ ...b, kind: 'socket', session: m[1], transport: m[2], event: 'error', detail: m[3], remote: m[4] })],
  [new RegExp(`^session ${SID}: (.+?) socket disconnected: (\\S+)$`),
    (m, b) => ({ ...b, kind: 'socket', session: m[1], transport: m[2], event: 'disconnected', remote: m[3] })],
  [new RegExp(`^session ${SID}: (.*) \\(local (\\S+), remote (\\S+)\\)$`),
    (m, b) => ({ ...b, kind: 'socket', session: m[1], event: 'other', detail: m[2], local: m[3], remote: m[4] })],
  [/^IPv[46]\. (tcp|sctp) or tls(?:\/sctp)? connected to:? (\S+)$/,
    (m, b) => ({ ...b, kind: 'client-connected', transport: m[1] === 'tcp' ? 'TCP' : 'SCTP', remote: m[2] })],
  [/^IPv[46]\. Local (reserved )?relay addr( \(RTCP\))?:? (\S+)$/,
    (m, b) => ({ ...b, kind: 'relay-addr', relay: m[3], reserved: !!m[1], rtcp: !!m[2] })],
];

// ─── Lines cut by a terminal ───
// `systemctl status coturn` and `journalctl` in a pager cut long lines at the terminal width and
// mark the cut (`>` from less -S, `…` from systemd's ellipsizing, `...` without UTF-8); scrollback
// copied from a narrow pane or a `tail -c` can also start mid-word. What survives the cut is read
// when the fields that matter are all before it; otherwise the line is `unreadable`.
const CUT_MARK = /(?:>|…|\.\.\.)$/;
/** Words only session and authentication lines contain: such a line that does not parse was cut. */
const SESSIONISH = /session \d|incoming packet|realm[ =]<|user <|username=<|usage: |Cannot find credentials|credentials are incorrect|A peer IP/;
/** How coturn's session and authentication messages begin; anything else was cut at the start. */
const WHOLE_START = /^(?:session \d+: |\w+: (?:Cannot|user|wrong)|Cannot|A peer IP|IPv[46]\.)/;
/** coturn's default allocation lifetime, for a `new` line whose lifetime was cut off. */
const DEFAULT_LIFETIME_S = 600;

// Prefixes of the full rules, for a body cut at its end: each needs only what comes before the cut,
// and a number is only trusted when something follows it (a cut can shorten `600` to `60`).
const CUT_RULES: Array<[RegExp, (m: RegExpExecArray, base: LineMeta & { raw: string }) => CoturnEvent]> = [
  [new RegExp(`^session ${SID}: (?:origin <(.*?)> )?realm <(.*?)> user <(.*?)>: incoming packet (\\S+) processed, (?:(success)|error (\\d{3})(?=:|$))`),
    (m, b) => ({ ...b, kind: 'request', session: m[1], ...(m[2] ? { origin: m[2] } : {}), realm: m[3], user: m[4], method: m[5],
      success: m[6] === 'success', ...(m[6] ? {} : { code: num(m[7]), reason: '' }) })],
  [new RegExp(`^session ${SID}: new, realm=<(.*?)>, username=<(.*?)>(?:, lifetime=(\\d+)(?=,))?`),
    (m, b) => ({ ...b, kind: 'session-new', session: m[1], realm: m[2], user: m[3], lifetime: m[4] ? num(m[4]) : DEFAULT_LIFETIME_S })],
  [new RegExp(`^session ${SID}: closed \\((1st|2nd) stage\\), user <(.*?)>(?: realm <(.*?)>)?`),
    (m, b) => ({ ...b, kind: 'session-closed', session: m[1], stage: m[2] === '1st' ? 1 : 2, user: m[3], realm: m[4] ?? '', origin: '',
      local: '', remote: '', reason: '(cut)' })],
  [new RegExp(`^session ${SID}: delete: `),
    (m, b) => ({ ...b, kind: 'session-delete', session: m[1], realm: '', user: '' })],
  [new RegExp(`^(?:session ${SID}: )?A peer IP (\\S+) denied`),
    (m, b) => ({ ...b, kind: 'peer-denied', ...(m[1] ? { session: m[1] } : {}), peer: m[2], rule: '(cut)' })],
];

function match(rules: typeof RULES, body: string, base: LineMeta & { raw: string }): CoturnEvent | null {
  for (const [re, make] of rules) {
    const m = re.exec(body);
    if (m) return make(m, base);
  }
  return null;
}

// The same rules unanchored at the start, for a line whose beginning (prefix, maybe more) was cut.
const UNANCHORED = (rules: typeof RULES) => rules.map(([re, make]) => [new RegExp(re.source.replace(/^\^/, '(?:^|(?<=[\\s:\\]]))')), make] as (typeof RULES)[number]);
const RULES_START_CUT = UNANCHORED(RULES);
const CUT_RULES_START_CUT = UNANCHORED(CUT_RULES);

export function parseCoturnLine(line: string, nowMs?: number): CoturnEvent | null {
  try {
    if (typeof line !== 'string' || !line.trim()) return null;
    const raw = line.replace(/[\r\n]+$/, '');
    const { meta, body } = stripPrefixes(raw, nowMs);
    const base = { ...meta, raw };
    const whole = match(RULES, body, base);
    // A free-text reason never ends in `>`: there the line was cut (`error 401: Unauth>`).
    if (whole && 'reason' in whole && whole.reason && CUT_MARK.test(whole.reason)) return { ...whole, reason: whole.reason.replace(CUT_MARK, ''), cut: 'end' };
    if (whole) return whole;
    // Not a whole line. Its start may have been cut (and a prefix with it: what the prefix parser
    // took for one, e.g. `45:` from a cut `09:11:45`, is dropped), its end, or both.
    const start = { ...base, cut: 'start' as const };
    delete start.uptime; delete start.level;
    const e1 = match(RULES_START_CUT, body, start);
    if (e1) return e1;
    const endCut = CUT_MARK.test(body);
    if (endCut) {
      const kept = body.replace(CUT_MARK, '');
      const e2 = match(CUT_RULES, kept, { ...base, cut: 'end' }) ?? match(CUT_RULES_START_CUT, kept, { ...start, cut: 'both' });
      if (e2) return e2;
    }
    // A session or authentication line that none of that reads: cut where it mattered.
    if (SESSIONISH.test(body)) {
      const startCut = !WHOLE_START.test(body);
      return { ...base, kind: 'unreadable', body, cut: startCut && endCut ? 'both' : endCut ? 'end' : 'start' };
    }
    return { ...base, kind: 'unknown', body };
  } catch {
    // A parser bug must not take the monitor (or the signaling service) down with it.
    return { raw: String(line), kind: 'unknown', body: String(line) };
  }
}
