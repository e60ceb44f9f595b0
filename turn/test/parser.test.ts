// The parser against real coturn output (Debian coturn 4.6.1, recorded by fixtures/capture.sh:
// uptime prefixes and new-log-timestamp), the same lines behind syslog/journald prefixes, and the
// prefixes of newer coturn versions (from their format strings in coturn's sources).
import fs from 'node:fs';
import path from 'node:path';
import { parseCoturnLine } from '../src/parser';
import { CoturnEvent } from '../src/events';

const fixture = (name: string) => fs.readFileSync(path.join(__dirname, 'fixtures', name), 'utf8').split('\n').filter(Boolean);
// Every line coturn writes about a session or its authentication must be understood.
const SESSIONISH = /session \d+:|Cannot find credentials|credentials are incorrect|A peer IP|connected to:|relay addr/;

describe.each(['coturn-4.6.1.log', 'coturn-4.6.1-timestamps.log'])('real coturn output %s', (name) => {
  const lines = fixture(name);

  test('never throws, knows every session line', () => {
    const unknownSession: string[] = [];
    for (const l of lines) {
      const ev = parseCoturnLine(l);
      if (SESSIONISH.test(l) && (!ev || ev.kind === 'unknown')) unknownSession.push(l);
    }
    expect(unknownSession).toEqual([]);
  });

  test('the kinds coturn wrote are all there', () => {
    const kinds = new Set(lines.map((l) => parseCoturnLine(l)?.kind));
    for (const k of ['session-new', 'session-refreshed', 'session-delete', 'session-closed', 'usage', 'request', 'auth-problem', 'peer', 'peer-denied', 'socket', 'client-connected', 'relay-addr', 'unknown']) {
      expect(kinds).toContain(k);
    }
  });

  test('fields', () => {
    const evs = lines.map((l) => parseCoturnLine(l)).filter(Boolean) as CoturnEvent[];
    const nw = evs.find((e) => e.kind === 'session-new');
    expect(nw).toMatchObject({ kind: 'session-new', realm: 'busking.local', lifetime: 777 });
    expect((nw as { user: string }).user).toMatch(/^\d{10}:alice$/);
    const usage = evs.find((e) => e.kind === 'usage' && e.side === 'peer' && e.rp > 0);
    expect(usage).toMatchObject({ rp: 10, rb: 1000, sp: 10, sb: 1000 });
    const closed = evs.find((e) => e.kind === 'session-closed' && e.reason.startsWith('TCP'));
    expect(closed).toMatchObject({ stage: 2, origin: '', reason: 'TCP connection closed by client (callback)' });
    expect((closed as { remote: string }).remote).toMatch(/^127\.0\.0\.1:\d+$/);
    const quota = evs.find((e) => e.kind === 'request' && e.code === 486);
    expect(quota).toMatchObject({ method: 'ALLOCATE', success: false, reason: 'Allocation Quota Reached' });
    const challenge = evs.find((e) => e.kind === 'request' && e.code === 401);
    expect(challenge).toMatchObject({ method: 'message', user: '', success: false, reason: 'Unauthorized' });
    const expired = evs.find((e) => e.kind === 'auth-problem' && /bob/.test(e.user ?? ''));
    expect(expired).toMatchObject({ problem: 'no-credentials', level: 'error' });
    expect(evs.find((e) => e.kind === 'peer' && e.action === 'updated')).toMatchObject({ lifetime: 600 });
    expect(evs.find((e) => e.kind === 'peer-denied')).toMatchObject({ peer: '127.0.0.2', rule: '127.0.0.2', level: 'error' });
    expect(evs.find((e) => e.kind === 'socket')).toMatchObject({ transport: 'TCP', event: 'closed-remotely' });
    expect(evs.find((e) => e.kind === 'request' && e.method === 'CHANNEL_BIND' && !e.success)).toMatchObject({ code: 403, reason: 'Forbidden IP' });
  });

  test.each([
    ['syslog', 'Feb 10 09:11:45 turnhost turnserver[292618]: ', { host: 'turnhost', pid: 292618 }],
    ['syslog with priority, one-digit day', '<30>Feb  3 09:11:45 turnhost turnserver[7]: ', { host: 'turnhost', pid: 7 }],
    ['journalctl -o short-iso', '2026-02-10T09:11:45+0100 turnhost turnserver[292618]: ', { host: 'turnhost', pid: 292618 }],
    ['journalctl -o short-precise', 'Feb 10 09:11:45.123456 turnhost turnserver[292618]: ', { host: 'turnhost', pid: 292618 }],
  ])('the same lines behind a %s prefix parse the same', (_n, prefix, meta) => {
    for (const l of lines) {
      const plain = parseCoturnLine(l)!;
      const wrapped = parseCoturnLine(prefix + l)!;
      const { raw: _r1, at: at1, ...a } = plain as CoturnEvent & { at?: number };
      const { raw: _r2, at: at2, host, pid, ...b } = wrapped as CoturnEvent & { at?: number; host?: string; pid?: number };
      expect(b).toEqual(a);
      expect({ host, pid }).toEqual(meta);
      // coturn's own timestamp wins; otherwise the syslog time is the line's time.
      expect(at2).toBe(at1 ?? at2);
      expect(typeof at2).toBe('number');
    }
  });
});

describe('prefixes', () => {
  const body = 'session 001000000000000001: new, realm=<busking.local>, username=<1795313143:alice>, lifetime=777';
  test.each([
    ['4.6.1 uptime', `12: : ${body}`, { uptime: 12, level: 'info' }],
    ['4.6.1 new-log-timestamp', `2026-11-22T01:38:55+0000: ${body}`, { at: Date.parse('2026-11-22T01:38:55Z'), level: 'info' }],
    ['4.6.2+ thread id and level', `12: (292618): INFO: ${body}`, { uptime: 12, level: 'info' }],
    ['4.6.2+ with file:line', `12: (292618): ns_turn_server.c(4190):INFO: ${body}`, { uptime: 12, level: 'info' }],
    ['4.7+ space separated', `2026-02-10T09:11:45.123+0100 INFO ${body}`, { at: Date.parse('2026-02-10T08:11:45.123Z'), level: 'info' }],
    ['4.7+ uptime', `12 INFO ${body}`, { uptime: 12, level: 'info' }],
    ['bare', body, {}],
  ])('%s', (_n, line, meta) => {
    const ev = parseCoturnLine(line);
    expect(ev).toMatchObject({ kind: 'session-new', session: '001000000000000001', user: '1795313143:alice', ...meta });
  });

  test('error levels and the session-id form of newer coturn auth lines', () => {
    expect(parseCoturnLine('3: : ERROR: check_stun_auth: Cannot find credentials of user <1795313143:bob>'))
      .toMatchObject({ kind: 'auth-problem', problem: 'no-credentials', user: '1795313143:bob', level: 'error' });
    expect(parseCoturnLine('3 ERROR session 000000000000000002: check_stun_auth: Cannot find credentials of user <1:x>'))
      .toMatchObject({ kind: 'auth-problem', session: '000000000000000002', user: '1:x', level: 'error' });
    expect(parseCoturnLine('3: (1): ERROR: session 000000000000000002: check_stun_auth: user 1795313143:bob credentials are incorrect'))
      .toMatchObject({ kind: 'auth-problem', problem: 'incorrect-credentials', user: '1795313143:bob' });
    expect(parseCoturnLine('3: : ERROR: check_stun_auth: wrong realm: other.realm')).toMatchObject({ kind: 'auth-problem', problem: 'wrong-realm', realm: 'other.realm' });
    expect(parseCoturnLine('3 ERROR session 000000000000000002: A peer IP 10.0.0.5 denied in the range= 10.0.0.0-10.255.255.255 in server 1 '))
      .toMatchObject({ kind: 'peer-denied', session: '000000000000000002', peer: '10.0.0.5', rule: '10.0.0.0-10.255.255.255' });
    expect(parseCoturnLine('3: : session 000000000000000002: origin <https://busking.example.org> realm <r> user <1:u>: incoming packet SEND processed, success'))
      .toMatchObject({ kind: 'request', origin: 'https://busking.example.org', method: 'SEND', success: true });
    expect(parseCoturnLine('3: : session 000000000000000002: new, realm=<r>, username=<1:u>, lifetime=600, cipher=TLS_AES_256_GCM_SHA384, method=TLSv1.3'))
      .toMatchObject({ kind: 'session-new', cipher: 'TLS_AES_256_GCM_SHA384', tlsMethod: 'TLSv1.3' });
    expect(parseCoturnLine('3: : session 000000000000000002: UDP socket error: Connection refused 10.1.2.3:5000'))
      .toMatchObject({ kind: 'socket', transport: 'UDP', event: 'error', detail: 'Connection refused', remote: '10.1.2.3:5000' });
  });

  test('never throws, empty → null, garbage → unknown', () => {
    expect(parseCoturnLine('')).toBeNull();
    expect(parseCoturnLine('   ')).toBeNull();
    expect(parseCoturnLine(undefined as unknown as string)).toBeNull();
    for (const junk of ['\u0000\u0001', 'session x: new', 'session 1: usage: realm=<', '0: : ', 'x'.repeat(100000), '<<<>>>', 'Feb 30 99:99:99 h t[1]: 1: : ERROR: ']) {
      const ev = parseCoturnLine(junk);
      expect(ev === null || ev.kind === 'unknown' || ev.kind === 'unreadable').toBe(true);
    }
  });
});
