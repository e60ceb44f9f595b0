// The monitor replaying recorded real coturn output (absolute times: new-log-timestamp), counts
// checked against what the log itself says, plus the diagnoses on synthetic but coturn-shaped lines.
import fs from 'node:fs';
import path from 'node:path';
import { TurnMonitor, TurnEvent } from '../src/monitor';

const lines = fs.readFileSync(path.join(__dirname, 'fixtures', 'coturn-4.6.1-timestamps.log'), 'utf8').split('\n').filter(Boolean);
const count = (re: RegExp) => lines.filter((l) => re.test(l)).length;
const lastTime = Date.parse(/^(\S+?): /.exec(lines[lines.length - 1])![1].replace(/(\d\d)(\d\d)$/, '$1:$2'));

function replay(opts: ConstructorParameters<typeof TurnMonitor>[0] = {}) {
  const m = new TurnMonitor({ now: () => lastTime + 1000, ttlSeconds: 600, ...opts });
  const events: TurnEvent[] = [];
  m.on('event', (e) => events.push(e));
  for (const l of lines) m.feed(l);
  return { m, events };
}

test('counts match the log', () => {
  const { m, events } = replay();
  const s = m.snapshot();
  expect(s.totals.sessionsStarted).toBe(count(/: new, realm=/));
  expect(s.totals.lines).toEqual({ total: lines.length, parsed: expect.any(Number), unknown: expect.any(Number), unreadable: 0, cut: 0 });
  expect(s.totals.lines.parsed + s.totals.lines.unknown).toBe(lines.length);
  // A failure is a 401 to a request that carried a username; empty-user 401s are challenges.
  expect(s.authFailures.total).toBe(count(/user <[^>]+>: incoming packet \S+ processed, error 401/));
  expect(s.authFailures.byProblem['expired-credentials']).toBe(count(/Cannot find credentials of user <\d+:bob>/));
  expect(s.authFailures.byProblem['wrong-secret']).toBe(count(/Cannot find credentials of user <\d+:carol>/));
  const bob = Object.keys(s.authFailures.byUser).find((u) => u.endsWith(':bob'))!;
  expect(s.authFailures.byUser[bob]).toBe(count(new RegExp(`user <${bob}>: incoming packet \\S+ processed, error 401`)));
  expect(Object.values(s.authFailures.byClientAddress).reduce((a, b) => a + b, 0)).toBe(s.authFailures.total);
  expect(s.authFailures.byRealm).toEqual({ 'busking.local': s.authFailures.total });
  expect(s.totals.quotaRejections).toBe(count(/error 486/));
  expect(s.totals.peersDenied).toBe(count(/A peer IP .* denied/));
  // Usage lines are deltas: the totals are their sums.
  const sum = (re: RegExp, field: string) => lines.filter((l) => re.test(l)).reduce((n, l) => n + Number(new RegExp(`${field}=(\\d+)`).exec(l)![1]), 0);
  expect(s.totals.peer.rb).toBe(sum(/peer usage:/, 'rb'));
  expect(s.totals.client.sb).toBe(sum(/: usage:/, 'sb'));
  expect(s.totals.relayedBytes).toBe(sum(/peer usage:/, 'rb') + sum(/peer usage:/, 'sb'));
  // Ended sessions carry the client address from coturn's "closed" line.
  const ended = events.filter((e) => e.type === 'session-ended');
  expect(ended.length).toBe(s.totals.sessionsEnded);
  expect(ended.length).toBeGreaterThan(0);
  for (const e of ended) if (e.type === 'session-ended') expect(e.clientAddress).toMatch(/^127\.0\.0\.1:\d+$/);
  // What is still allocated at the end of the recording.
  expect(s.totals.activeSessions).toBe(s.totals.sessionsStarted - s.totals.sessionsEnded);
  for (const a of s.activeSessions) expect(a).toMatchObject({ realm: 'busking.local', user: expect.stringMatching(/^\d+:\w+$/), ageSeconds: expect.any(Number) });
  // The per-minute series adds up.
  expect(s.authFailures.perMinute.reduce((n, x) => n + x.count, 0)).toBe(s.authFailures.total);
});

test('diagnoses: expired credentials with the expiry gap, wrong secret, quota, denied peer', () => {
  const { m, events } = replay();
  const ds = m.tick();
  const byId = Object.fromEntries(ds.map((d) => [d.id, d]));
  expect(Object.keys(byId).sort()).toEqual(['expired-credentials', 'peer-denied', 'quota-reached', 'wrong-secret']);
  // capture.sh issued bob's credentials 120 s expired.
  expect(byId['expired-credentials'].details.minExpiredForSeconds).toBeGreaterThanOrEqual(119);
  expect(byId['expired-credentials'].details.minExpiredForSeconds).toBeLessThan(140);
  expect(byId['expired-credentials'].message).toMatch(/expired/);
  expect(byId['wrong-secret'].message).toMatch(/TURN_SECRET differs from coturn's static-auth-secret/);
  expect(byId['quota-reached'].message).toMatch(/486 Allocation Quota Reached/);
  expect(events.filter((e) => e.type === 'diagnosis').length).toBe(4);
  m.tick(); // unchanged: no repeated events
  expect(events.filter((e) => e.type === 'diagnosis').length).toBe(4);
});

test('many 401s with an empty user: no credentials or a realm mismatch', () => {
  let now = Date.parse('2026-02-10T09:00:00Z');
  const m = new TurnMonitor({ now: () => now, challengeGraceMs: 5000 });
  // A normal allocation: one challenge, then the authenticated request. Not a problem.
  m.feed('1: : session 000000000000000001: realm <busking.local> user <>: incoming packet message processed, error 401: Unauthorized');
  m.feed('1: : session 000000000000000001: new, realm=<busking.local>, username=<1770714000:alice>, lifetime=600');
  // Clients without credentials: 401s with an empty user and nothing else, on many sessions.
  for (let i = 2; i < 8; i++) {
    m.feed(`1: : session 00000000000000000${i}: realm <busking.local> user <>: incoming packet message processed, error 401: Unauthorized`);
  }
  expect(m.tick().find((d) => d.id === 'no-credentials-sent')).toBeUndefined(); // still within the grace period
  now += 6000;
  const d = m.tick().find((x) => x.id === 'no-credentials-sent');
  expect(d).toMatchObject({ count: 6, details: { unansweredSessions: 6, authenticatedSessions: 1 } });
  expect(d!.message).toMatch(/no TURN credentials|realm/);
  expect(m.snapshot().authFailures.total).toBe(0); // challenges are not failures
});

test('clock skew: credentials arriving with more life than the TTL', () => {
  const now = Date.parse('2026-02-10T09:00:00Z');
  const m = new TurnMonitor({ now: () => now, ttlSeconds: 600 });
  const expiry = Math.floor(now / 1000) + 600 + 300; // issuer's clock 300 s ahead
  m.feed(`2026-02-10T09:00:00+0000: session 000000000000000001: new, realm=<r>, username=<${expiry}:alice>, lifetime=600`);
  const s = m.snapshot();
  expect(s.clockSkewSeconds).toBe(300);
  expect(s.diagnoses.map((d) => d.id)).toContain('clock-skew');
});

test('metrics: Prometheus text with bounded labels', () => {
  const { m } = replay();
  const text = m.metrics();
  expect(text).toMatch(/^# HELP turn_sessions_active /m);
  expect(text).toMatch(/^turn_sessions_started_total \d+$/m);
  expect(text).toMatch(/^turn_auth_failures_total\{problem="expired-credentials"\} \d+$/m);
  expect(text).toMatch(/^turn_requests_total\{method="ALLOCATE",result="success"\} \d+$/m);
  expect(text).not.toMatch(/alice|bob/); // no per-user series
  for (const l of text.trim().split('\n')) expect(l).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? -?\d+(\.\d+)?)$/);
});

test('never throws on garbage and counts it', () => {
  const m = new TurnMonitor();
  for (const l of ['', 'garbage', '0: : session 1: usage: realm=<x', '\u0000']) m.feed(l);
  const s = m.snapshot();
  expect(s.totals.lines.unknown + s.totals.lines.unreadable).toBeGreaterThanOrEqual(3);
});
