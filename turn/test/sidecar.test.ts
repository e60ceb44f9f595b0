// The sidecar against the real signaling broker over STOMP TCP: it follows a real coturn's log,
// SENDs batches to /app/ops.turn.events with an ops token, the relay republishes them on
// /topic/ops.turn to an ops subscriber; the broker restarts and nothing is lost; the buffer is
// bounded and counts what it drops.
import { Broker } from '../../signaling/src/stomp';
import { DevTokenIssuer, TokenVerifier, makeAuthenticator, permissions } from '../../signaling/src/auth';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import { turnCredentials } from '../src/credentials';
import { registerTurnEventRelay, TURN_EVENTS_TOPIC } from '../src/relay';
import { startSidecar, Sidecar } from '../src/sidecar';
import { StompPublisher } from '../src/publisher';
import { TurnEvent } from '../src/monitor';
import { runUclient } from './uclient';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const stompit = require('stompit'); // untyped package

jest.setTimeout(120000);

const jwtCfg = { secret: 'sidecar-test-secret-0123456789abcdef', publicKey: '', algorithm: 'HS256' as const, issuer: '', audience: '', devSecret: 'sidecar-test-dev-key-0123456789abcdef' };
const issuer = new DevTokenIssuer(jwtCfg);
const opsToken = issuer.issue('turn sidecar', ['ops']);
const viewerToken = issuer.issue('viewer', []);

type Relayed = { seq: number; type: string; source: string; user?: string; [k: string]: unknown };

async function startBroker(port = 0) {
  const broker = new Broker({ authenticator: makeAuthenticator(new TokenVerifier(jwtCfg), { anonymousViewing: true }), permissions, heartbeat: 0 });
  const relayed: Relayed[] = [];
  registerTurnEventRelay(broker, { publish: (d, b, h) => { relayed.push(JSON.parse(b)); broker.publish(d, b, h); } });
  const bound = await broker.listenTcp(port, '127.0.0.1');
  return { broker, port: bound, relayed };
}

function subscribe(port: number, token: string): Promise<{ messages: Relayed[]; errors: string[]; close(): void }> {
  return new Promise((resolve, reject) => {
    stompit.connect({ host: '127.0.0.1', port, connectHeaders: { host: '/', 'heart-beat': '0,0', passcode: token } }, (err: Error | null, c: any) => {
      if (err) return reject(err);
      const messages: Relayed[] = [];
      const errors: string[] = [];
      c.on('error', (e: Error) => errors.push(e.message));
      c.subscribe({ destination: TURN_EVENTS_TOPIC, ack: 'auto' }, (e: Error | null, msg: any) => {
        if (e) { errors.push(e.message); return; }
        msg.readString('utf-8', (e2: Error | null, body: string) => { if (!e2) messages.push(JSON.parse(body)); });
      });
      // A SUBSCRIBE is confirmed by nothing in STOMP but a later frame; a round trip through a
      // receipt makes sure it is registered before the test goes on.
      const f = c.send({ destination: '/app/ops.turn.events', 'content-type': 'application/json' }, { onReceipt: () => resolve({ messages, errors, close: () => c.destroy() }) });
      f.end(JSON.stringify({ source: 'test', events: [] }));
    });
  });
}

let coturn: StartedCoturn | undefined;
let sidecar: Sidecar | undefined;
const brokers: Broker[] = [];
afterAll(async () => {
  await sidecar?.stop();
  for (const b of brokers) await b.close().catch(() => undefined);
  await coturn?.stop();
});

test('events from a real coturn reach an ops subscriber; a broker restart loses nothing', async () => {
  const b1 = await startBroker();
  brokers.push(b1.broker);
  coturn = await startCoturn({ secret: 'side', newLogTimestamp: true });
  const sub1 = await subscribe(b1.port, opsToken);
  sidecar = startSidecar({ log: coturn.logFile, host: '127.0.0.1', port: b1.port, token: opsToken, fromStart: true, pollMs: 50, tickMs: 200, summaryMs: 0, ttlSeconds: 600 });
  const emitted: TurnEvent[] = [];
  sidecar.monitor.on('event', (e: TurnEvent) => emitted.push(e));

  const alice = turnCredentials('side', 'alice', 600);
  expect((await runUclient({ port: coturn.port, username: alice.username, password: alice.credential, messages: 5 })).code).toBe(0);
  await waitFor(() => sub1.messages.filter((m) => m.type === 'session-ended' && m.user === alice.username).length === 2, 20000, 'session-ended on /topic/ops.turn');
  expect(sub1.messages.filter((m) => m.type === 'session-started' && m.user === alice.username)).toHaveLength(3);
  expect(sub1.messages[0].source).toMatch(/:\d+$/);
  expect(sub1.errors).toEqual([]);

  // The broker goes away; coturn keeps logging (expired credentials → auth failures).
  sub1.close();
  await b1.broker.close();
  await waitFor(() => !sidecar!.publisher.stats().connected, 10000, 'the sidecar notices');
  const bob = turnCredentials('side', 'bob', 600, Date.now() - 700_000);
  await runUclient({ port: coturn.port, username: bob.username, password: bob.credential, messages: 1, timeoutMs: 15000 });
  await waitFor(() => emitted.some((e) => e.type === 'auth-failure' && e.user === bob.username), 10000, 'failures seen by the monitor');
  await waitFor(() => sidecar!.monitor.tick().some((d) => d.id === 'expired-credentials'), 10000, 'the diagnosis');
  expect(sidecar.publisher.stats().buffered).toBeGreaterThan(0);

  // Back on the same port: everything buffered arrives, in order, nothing dropped.
  const b2 = await startBroker(b1.port);
  brokers.push(b2.broker);
  await waitFor(() => sidecar!.publisher.stats().buffered === 0, 20000, 'the buffer drained');
  const st = sidecar.publisher.stats();
  expect(st.dropped).toBe(0);
  expect(st.connects).toBeGreaterThanOrEqual(2);
  const seqs = [...new Set([...b1.relayed, ...b2.relayed].filter((m) => m.source !== 'test').map((m) => m.seq))].sort((a, b) => a - b);
  expect(seqs).toEqual(Array.from({ length: emitted.length }, (_, i) => i + 1));
  const bobFailures = emitted.filter((e) => e.type === 'auth-failure' && e.user === bob.username).length;
  expect(b2.relayed.filter((m) => m.type === 'auth-failure' && m.user === bob.username).length).toBeGreaterThanOrEqual(bobFailures);
  expect(b2.relayed.some((m) => m.type === 'diagnosis')).toBe(true);

  // And a fresh ops subscriber gets live events again.
  const sub2 = await subscribe(b2.port, opsToken);
  const carol = turnCredentials('side', 'carol', 600);
  await runUclient({ port: coturn.port, username: carol.username, password: carol.credential, messages: 2 });
  await waitFor(() => sub2.messages.some((m) => m.type === 'session-started' && m.user === carol.username), 20000, 'live again');
  sub2.close();
});

test('only ops: a viewer token cannot publish TURN events', async () => {
  const b = await startBroker();
  brokers.push(b.broker);
  const pub = new StompPublisher({ host: '127.0.0.1', port: b.port, token: viewerToken, minBackoffMs: 50, maxBackoffMs: 100, receiptTimeoutMs: 2000 }).start();
  pub.publish({ type: 'session-started', user: 'x' });
  await new Promise((r) => setTimeout(r, 800));
  expect(b.relayed).toEqual([]);
  expect(pub.stats().sent).toBe(0);
  await pub.stop();
});

test('the buffer is bounded: oldest dropped and counted, the rest delivered', async () => {
  const b = await startBroker();
  const port = b.port;
  await b.broker.close();
  const pub = new StompPublisher<{ type: string; n: number }>({ host: '127.0.0.1', port, token: opsToken, maxBuffer: 5, minBackoffMs: 50, maxBackoffMs: 200 }).start();
  for (let n = 1; n <= 8; n++) pub.publish({ type: 'test', n });
  expect(pub.stats()).toMatchObject({ buffered: 5, dropped: 3, connected: false });
  const b2 = await startBroker(port);
  brokers.push(b2.broker);
  await waitFor(() => pub.stats().buffered === 0, 10000, 'drained');
  expect(b2.relayed.map((m) => m.n)).toEqual([4, 5, 6, 7, 8]);
  expect(pub.stats()).toMatchObject({ dropped: 3, sent: 5 });
  await pub.stop();
});
