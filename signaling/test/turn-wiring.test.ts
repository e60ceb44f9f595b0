// The signaling service's TURN wiring, end to end with a real coturn:
// - TURN_LOG set: the service follows coturn's log (LogFollower + TurnMonitor); an allocation made
//   with the credentials GET /api/ice-servers handed out shows in GET /api/ops/turn (role ops only),
//   in /metrics, and as events on /topic/ops.turn;
// - the TURN sidecar (startSidecar) publishing to the service's STOMP TCP port: its batches to
//   /app/ops.turn.events reach an ops subscriber on /topic/ops.turn (registerTurnEventRelay in
//   service.ts); a viewer (no role ops) may neither subscribe to the topic nor publish events.
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import { runUclient } from '../../turn/test/uclient';
import { startSidecar, Sidecar } from '../../turn/src/sidecar';
import type { TurnSnapshot } from '../../turn/src/monitor';
import { startTestService, devToken, connect } from './support/service';
import type { StompTestClient } from './support/stomp-client';
import type { Service } from '../src/service';

jest.setTimeout(120000);

const SECRET = 'turn-wiring-secret';

let coturn: StartedCoturn;
let svc: Service;
let sidecar: Sidecar | undefined;
const clients: StompTestClient[] = [];

beforeAll(async () => {
  coturn = await startCoturn({ secret: SECRET, newLogTimestamp: true });
  svc = await startTestService({ TURN_SECRET: SECRET, TURN_URLS: coturn.urls.join(','), TURN_LOG: coturn.logFile, TURN_TTL_S: '600' });
});
afterAll(async () => {
  await sidecar?.stop();
  for (const c of clients) await c.close().catch(() => undefined);
  await svc?.close();
  await coturn?.stop();
});

async function getJson(path: string, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${svc.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  let body: unknown = text;
  try { body = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, body };
}

async function client(token?: string): Promise<StompTestClient> {
  const c = await connect(svc, token);
  clients.push(c);
  return c;
}

test('an allocation with /api/ice-servers credentials shows in /api/ops/turn, /metrics and on /topic/ops.turn', async () => {
  const opsToken = await devToken(svc, 'operator', ['ops']);
  const aliceToken = await devToken(svc, 'alice');
  const ops = await client(opsToken);
  const events = await ops.subscribeSync('/topic/ops.turn');

  const ice = await getJson('/api/ice-servers', aliceToken);
  expect(ice.status).toBe(200);
  const turn = (ice.body as Array<{ urls: string | string[]; username?: string; credential?: string }>).find((s) => s.username);
  expect(turn).toBeDefined();
  expect([turn!.urls].flat().join(',')).toContain(`127.0.0.1:${coturn.port}`);

  const run = await runUclient({ port: coturn.port, username: turn!.username!, password: turn!.credential!, messages: 5 });
  expect([run.code, run.stderr.slice(-300)]).toEqual([0, expect.any(String)]);

  // The service's own monitor read coturn's log.
  const snap = await waitFor(async () => {
    const r = await getJson('/api/ops/turn', opsToken);
    const s = r.body as TurnSnapshot;
    return r.status === 200 && s.totals.sessionsStarted >= 1 && s.totals.sessionsEnded >= 1 ? s : undefined;
  }, 20000, 'allocation in /api/ops/turn');
  expect(snap.authFailures.byUser[turn!.username!] ?? 0).toBe(0);
  expect(snap.totals.relayedBytes).toBeGreaterThan(0);

  // The same events, live, from the in-service monitor (no `source`: not relayed from a sidecar).
  const started = await events.next((m) => m.body?.type === 'session-started' && m.body?.user === turn!.username && !('source' in m.body), 20000);
  expect(started.headers['content-type']).toBe('application/json');

  // Role ops only.
  expect((await getJson('/api/ops/turn')).status).toBe(401);
  expect((await getJson('/api/ops/turn', aliceToken)).status).toBe(403);

  const metrics = await getJson('/metrics');
  expect(metrics.status).toBe(200);
  const m = /^turn_sessions_started_total (\d+)$/m.exec(metrics.body as string);
  expect(m).not.toBeNull();
  expect(Number(m![1])).toBeGreaterThanOrEqual(1);
});

test('the sidecar publishing to the STOMP TCP port reaches an ops subscriber; a viewer can neither subscribe nor publish', async () => {
  expect(svc.stompTcpPort).not.toBeNull();
  const opsToken = await devToken(svc, 'ops subscriber', ['ops']);
  const sidecarToken = await devToken(svc, 'turn sidecar', ['ops']);
  const viewerToken = await devToken(svc, 'viewer');
  const ops = await client(opsToken);
  const events = await ops.subscribeSync('/topic/ops.turn');

  // A viewer: SUBSCRIBE refused (forbidden on /user/queue/errors, the session stays), nothing delivered.
  const viewer = await client(viewerToken);
  const refused = viewer.subscribe('/topic/ops.turn');
  const denied = await viewer.errors.next((e) => e.body?.code === 'forbidden' && e.body?.destination === '/topic/ops.turn');
  expect(denied.body.code).toBe('forbidden');
  // Nor may it publish events through the relay.
  const forged = await viewer.request('/app/ops.turn.events', { source: 'forged', events: [{ type: 'session-started', user: 'forged' }] });
  expect(forged).toMatchObject({ code: 'forbidden' });

  sidecar = startSidecar({
    log: coturn.logFile, host: '127.0.0.1', port: svc.stompTcpPort!, token: sidecarToken,
    fromStart: true, pollMs: 50, tickMs: 200, summaryMs: 0, ttlSeconds: 600,
  });
  await waitFor(() => sidecar!.publisher.stats().connected || undefined, 20000, 'sidecar connected');

  const bob = (await getJson('/api/ice-servers', viewerToken)).body.find((s: { username?: string }) => s.username);
  const run = await runUclient({ port: coturn.port, username: bob.username, password: bob.credential, messages: 5 });
  expect(run.code).toBe(0);

  const relayed = await events.next((m) => m.body?.type === 'session-ended' && m.body?.user === bob.username && typeof m.body?.source === 'string' && m.body.source.length > 0, 30000);
  expect(relayed.body.source).toMatch(/:\d+$/);
  expect(events.messages.some((m) => m.body?.user === 'forged')).toBe(false);
  expect(refused.messages).toHaveLength(0);
  expect(viewer.closed).toBe(false);
});
