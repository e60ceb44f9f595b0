// coturn lines as an operator copies them from `systemctl status coturn` or a pager: journald's short
// and short-iso prefixes (and their -precise forms), cut at the terminal's width with `>` (less -S),
// `…` (systemd's ellipsis in a UTF-8 terminal) or `...` (without UTF-8), and scrollback cut at the
// start. fixtures/journal-cut.log is generated from whole coturn 4.6.1 lines (the same shapes as
// coturn-4.6.1.log) cut at 150 columns; the counts below are what a person reading it would count.
import fs from 'node:fs';
import path from 'node:path';
import { parseCoturnLine } from '../src/parser';
import { TurnMonitor } from '../src/monitor';
import { renderMetrics } from '../src/metrics';

const lines = fs.readFileSync(path.join(__dirname, 'fixtures', 'journal-cut.log'), 'utf8').split('\n').filter(Boolean);

test('every line gets a kind: read although cut, unreadable, or not about sessions', () => {
  const evs = lines.map((l) => parseCoturnLine(l, Date.UTC(2026, 1, 10, 12))!);
  expect(evs.map((e) => [e.kind, e.cut ?? null])).toEqual([
    ['unknown', null],
    ['request', 'end'], // ...error 401: Unauth>
    ['unreadable', 'end'], // ...processed, >   (the outcome is lost)
    ['unreadable', 'end'], // ...error 40>      (401? 403? not known)
    ['unreadable', 'end'], // ...ALLOCATE pr>
    ['session-new', 'end'], // lifetime cut: coturn's default assumed
    ['unreadable', 'end'], // the method is lost
    ['unreadable', 'end'], // usage with its byte counts cut: never read as zero
    ['unreadable', 'end'],
    ['session-closed', 'end'],
    ['session-delete', null],
    ['auth-problem', null],
    ['request', 'start'], // the syslog prefix half gone
    ['unreadable', 'both'], // the session id cut at the start, the code at the end
    ['unreadable', 'start'], // `ion 0010...`: which session is not known
    ['unknown', null],
    ['request', 'end'], // systemctl status: ...error 401: Unauth…
    ['session-new', 'end'], // short-precise, `lifetim…`
    ['unreadable', 'end'], // short-iso-precise, usage cut with `...`: never read as zero
    ['peer', null], // short-iso-precise, whole
  ]);
  expect(evs[1]).toMatchObject({ session: '001000000000000001', realm: '', user: '', code: 401, host: 'turnhost', pid: 292618 });
  expect(evs[5]).toMatchObject({ session: '001000000000000003', realm: 'busking.local', user: '1795313143:bob', lifetime: 600 });
  // short-iso's time with its offset
  expect(evs[5].at).toBe(Date.UTC(2026, 1, 10, 8, 11, 46));
  expect(evs[9]).toMatchObject({ stage: 2, user: '1795313143:bob', realm: 'busking.local' });
  expect(evs[12]).toMatchObject({ session: '001000000000000001', code: 401, realm: '' });
  expect(evs[16]).toMatchObject({ session: '001000000000000005', realm: '', user: '', code: 401, reason: 'Unauth' });
  expect(evs[17]).toMatchObject({ session: '001000000000000005', user: '1795313143:dave', lifetime: 600 });
  // -precise: microseconds (kept to the millisecond), short-iso-precise with its offset
  expect(evs[17].at! % 1000).toBe(205);
  expect(evs[19]).toMatchObject({ at: Date.UTC(2026, 1, 10, 8, 11, 47, 204), peer: '127.0.0.1:49191', action: 'deleted' });
});

test('the monitor counts them exactly and diagnoses the missing realm', () => {
  const now = Date.UTC(2026, 1, 10, 9, 12);
  const m = new TurnMonitor({ now: () => now });
  for (const l of lines) m.feed(l);
  const s = m.snapshot();
  expect(s.totals.lines).toEqual({ total: 20, parsed: 9, unknown: 2, unreadable: 9, cut: 6 });
  expect(s.totals.sessionsStarted).toBe(2);
  expect(s.totals.sessionsEnded).toBe(1);
  const d = s.diagnoses.find((x) => x.id === 'realm-missing-or-wrong');
  expect(d).toMatchObject({ severity: 'error', count: 3 });
  expect(d!.message).toMatch(/realm <>/);
  expect(d!.message).toMatch(/Fix: add realm=/);
  const text = renderMetrics(s);
  expect(text).toContain('turn_log_lines_total{outcome="unreadable"} 9');
  expect(text).toContain('turn_log_lines_cut_total 6');
});

test('a 401 in another realm than the configured one is a wrong realm', () => {
  const m = new TurnMonitor({ now: () => Date.UTC(2026, 1, 10, 9, 12), realm: 'busking.example' });
  m.feed('Feb 10 09:11:45 turnhost turnserver[1]: 31: : session 001000000000000009: realm <old.example> user <1795313143:alice>: incoming packet ALLOCATE processed, error 401: Unauthorized');
  const d = m.diagnoses().find((x) => x.id === 'realm-missing-or-wrong');
  expect(d).toMatchObject({ count: 1, details: { realms: ['old.example'], expected: 'busking.example' } });
  expect(d!.message).toMatch(/Wrong realm.*"old\.example".*not the configured "busking\.example"/);
});
