// Real coturn (Debian) on 127.0.0.1, real allocations from turnutils_uclient with good, expired,
// wrong and missing credentials and over the quota; the monitor follows coturn's log file as it is
// written and its counts must match what the clients did. Then a log rotation mid-run loses nothing.
import fs from 'node:fs';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import { turnCredentials } from '../src/credentials';
import { LogFollower } from '../src/follower';
import { TurnMonitor, TurnEvent } from '../src/monitor';
import { runUclient } from './uclient';

jest.setTimeout(120000);

const SECRET = 'coturn-test-secret';
let coturn: StartedCoturn;
let follower: LogFollower;
let monitor: TurnMonitor;
let events: TurnEvent[];

beforeAll(async () => {
  coturn = await startCoturn({ secret: SECRET, realm: 'busking.local', userQuota: 4, newLogTimestamp: true });
  monitor = new TurnMonitor({ ttlSeconds: 600, challengeGraceMs: 2000 });
  events = [];
  monitor.on('event', (e) => events.push(e));
  follower = new LogFollower(coturn.logFile, { pollMs: 50 });
  follower.on('line', (l) => monitor.feed(l));
  follower.start();
});

afterAll(async () => {
  await follower?.stop();
  await coturn?.stop();
});

const logLines = () => fs.readFileSync(coturn.logFile, 'utf8').split('\n');

// turnutils_uclient -y -c makes three allocations: two that relay to each other and release at the
// end, and a first one it never releases (it stays until its 777 s lifetime runs out).
test('good credentials: allocations seen live, then closed with bytes and client address', async () => {
  const c = turnCredentials(SECRET, 'alice', 600);
  const run = runUclient({ port: coturn.port, username: c.username, password: c.credential, messages: 10 });
  // While the client runs: the two allocations are active sessions.
  const active = await waitFor(() => {
    const a = monitor.snapshot().activeSessions.filter((s) => s.user === c.username);
    return a.length >= 2 ? a : null;
  }, 20000, 'active sessions');
  for (const s of active) expect(s).toMatchObject({ realm: 'busking.local', ageSeconds: expect.any(Number) });
  expect((await run).code).toBe(0);
  await waitFor(() => events.filter((e) => e.type === 'session-ended' && e.user === c.username).length === 2, 20000, 'both sessions closed');
  const s = monitor.snapshot();
  expect(s.totals.sessionsStarted).toBe(3);
  expect(s.totals.sessionsStarted).toBe(logLines().filter((l) => l.includes(`: new, realm=<busking.local>, username=<${c.username}>`)).length);
  expect(s.activeSessions).toHaveLength(1);
  expect(s.activeSessions[0]).toMatchObject({ user: c.username, peers: 0, relayedBytes: 0, lifetimeSeconds: 777 });
  // uclient sent 10 messages of 100 bytes through each relay, and received as many.
  expect(s.totals.peer).toEqual({ rp: 20, rb: 2000, sp: 20, sb: 2000 });
  expect(s.totals.relayedBytes).toBe(4000);
  for (const e of events) {
    if (e.type !== 'session-ended') continue;
    expect(e.clientAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(e.relayedBytes).toBe(2000);
  }
  expect(s.authFailures.total).toBe(0);
  expect(s.diagnoses).toEqual([]);
});

test('expired credentials: failures by user with the expiry gap, no session', async () => {
  const c = turnCredentials(SECRET, 'bob', 600, Date.now() - 700_000); // expired 100 s ago
  const r = await runUclient({ port: coturn.port, username: c.username, password: c.credential, messages: 1, timeoutMs: 15000 });
  expect(r.code).not.toBe(0);
  const inLog = () => logLines().filter((l) => l.includes(`Cannot find credentials of user <${c.username}>`)).length;
  await waitFor(() => inLog() > 0 && monitor.snapshot().authFailures.byUser[c.username] === inLog(), 10000, 'failures counted');
  const s = monitor.snapshot();
  expect(s.authFailures.byProblem['expired-credentials']).toBe(inLog());
  expect(s.totals.sessionsStarted).toBe(3);
  const d = s.diagnoses.find((x) => x.id === 'expired-credentials')!;
  expect(d.details.minExpiredForSeconds).toBeGreaterThanOrEqual(95);
  expect(d.details.minExpiredForSeconds).toBeLessThan(160);
  expect(d.message).toContain(c.username);
});

test('wrong credentials: a password from another secret is "wrong-secret"', async () => {
  const c = turnCredentials('not-the-secret', 'carol', 600);
  const r = await runUclient({ port: coturn.port, username: c.username, password: c.credential, messages: 1, timeoutMs: 15000 });
  expect(r.code).not.toBe(0);
  const inLog = () => logLines().filter((l) => new RegExp(`user <${c.username}>: incoming packet \\S+ processed, error 401`).test(l)).length;
  await waitFor(() => inLog() > 0 && monitor.snapshot().authFailures.byUser[c.username] === inLog(), 10000, 'failures counted');
  const s = monitor.snapshot();
  expect(s.authFailures.byProblem['wrong-secret']).toBe(inLog());
  expect(s.diagnoses.map((x) => x.id)).toContain('wrong-secret');
  expect(s.authFailures.recent.at(-1)).toMatchObject({ user: c.username, realm: 'busking.local', code: 401, problem: 'wrong-secret' });
  expect(s.authFailures.total).toBe(s.authFailures.byUser[c.username] + s.authFailures.byProblem['expired-credentials']);
});

test('no credentials at all: unanswered 401s with an empty user', async () => {
  const r = await runUclient({ port: coturn.port, username: '', password: '', messages: 1, timeoutMs: 15000 }).catch(() => null);
  expect(r?.code).not.toBe(0);
  await waitFor(() => monitor.tick().find((d) => d.id === 'no-credentials-sent'), 15000, 'the diagnosis');
});

test('allocation quota: 486 counted per user and explained', async () => {
  const c = turnCredentials(SECRET, 'dave', 600);
  await runUclient({ port: coturn.port, username: c.username, password: c.credential, clients: 3, messages: 2, timeoutMs: 20000 });
  await waitFor(() => monitor.snapshot().totals.quotaRejections > 0, 10000, 'a quota rejection');
  const s = monitor.snapshot();
  expect(s.totals.quotaRejections).toBe(logLines().filter((l) => /error 486/.test(l)).length);
  expect(events.some((e) => e.type === 'quota-reached' && e.user === c.username)).toBe(true);
  expect(s.diagnoses.find((d) => d.id === 'quota-reached')!.message).toContain(c.username);
});
