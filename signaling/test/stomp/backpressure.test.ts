// Inbound rate limit as backpressure: a session over STOMP_RATE_LIMIT is slowed down (its frames wait,
// its socket is paused), never refused; only a flood past maxBufferedFrames gets ERROR.
import WebSocket from 'ws';
import { Client, IMessage } from '@stomp/stompjs';
import { startBroker, Running, connectedTcp, rawTcp, rawWs, frame, waitFor, sleep } from './helpers';
import { openPermissions } from '../../src/stomp';
import type { Session } from '../../src/stomp/session';

const N = 2000;
const RATE = { count: 200, windowMs: 250 }; // 800 frames/s: 2,000 frames need at least 9 window turns

let r: Running;
const closeReasons: string[] = [];

beforeAll(async () => {
  r = await startBroker({ permissions: openPermissions, heartbeat: 0, limits: { rateLimit: RATE } });
  r.broker.on('session-close', (_s, reason) => closeReasons.push(reason));
});
afterAll(() => r.close());

/** Largest number of frames one session held back, sampled while `p` runs. */
async function sampleWaiting<T>(p: Promise<T>): Promise<{ value: T; maxWaiting: number }> {
  let maxWaiting = 0;
  let done = false;
  const sampler = (async () => {
    while (!done) {
      for (const id of sessionIds()) {
        const s = r.broker.session(id) as Session | undefined;
        if (s) maxWaiting = Math.max(maxWaiting, s.waitingFrames);
      }
      await sleep(5);
    }
  })();
  try {
    const value = await p;
    return { value, maxWaiting };
  } finally {
    done = true;
    await sampler;
  }
}

const opened: string[] = [];
beforeAll(() => { r.broker.on('session-open', (s) => opened.push(s.id)); });
function sessionIds(): string[] {
  return opened;
}

test(`TCP: ${N} SENDs written at once all arrive, in order, just slower`, async () => {
  const sub = await connectedTcp(r.tcpPort);
  sub.send(frame('SUBSCRIBE', { id: 's', destination: '/topic/bp.tcp', receipt: 'sub' }));
  await sub.next('RECEIPT');
  const pub = await connectedTcp(r.tcpPort);
  let burst = '';
  for (let i = 0; i < N; i++) burst += frame('SEND', { destination: '/topic/bp.tcp', 'content-type': 'text/plain' }, `m${i}`);
  const t0 = Date.now();
  pub.send(burst + frame('SEND', { destination: '/topic/bp.tcp', receipt: 'done' }, 'end'));
  const { maxWaiting } = await sampleWaiting((async () => {
    await pub.next('RECEIPT', 30000);
    await waitFor(() => sub.frames.filter((f) => f.command === 'MESSAGE').length === N + 1, 30000, 'all messages');
  })());
  const elapsed = Date.now() - t0;
  const bodies = sub.frames.filter((f) => f.command === 'MESSAGE').map((f) => f.body.toString());
  expect(bodies.slice(0, N)).toEqual(Array.from({ length: N }, (_, i) => `m${i}`));
  expect(bodies[N]).toBe('end');
  // Lower bound only: the limiter guarantees it (a fixed window of 200 frames per 250 ms).
  expect(elapsed).toBeGreaterThanOrEqual(Math.floor(N / RATE.count - 1) * RATE.windowMs);
  expect(maxWaiting).toBeGreaterThan(0); // frames did wait
  expect(pub.frames.some((f) => f.command === 'ERROR')).toBe(false);
  expect(pub.isClosed()).toBe(false);
  expect(closeReasons).not.toContain('rate-limited');
  pub.close();
  sub.close();
});

test(`WebSocket (stompjs): ${N} publishes as fast as it can all arrive, in order`, async () => {
  const mk = () => new Promise<Client>((resolve, reject) => {
    const c = new Client({
      webSocketFactory: () => new WebSocket(r.wsUrl, ['v12.stomp']),
      reconnectDelay: 0, heartbeatIncoming: 0, heartbeatOutgoing: 0,
      onConnect: () => resolve(c),
      onStompError: (f) => reject(new Error(f.headers.message)),
    });
    c.activate();
  });
  const a = await mk();
  const b = await mk();
  const got: string[] = [];
  let errors = 0;
  b.onStompError = () => errors++;
  a.onStompError = () => errors++;
  await new Promise<void>((resolve) => {
    a.watchForReceipt('sub', () => resolve());
    a.subscribe('/topic/bp.ws', (m: IMessage) => got.push(m.body), { receipt: 'sub' });
  });
  const t0 = Date.now();
  for (let i = 0; i < N; i++) b.publish({ destination: '/topic/bp.ws', body: `w${i}` });
  await waitFor(() => got.length === N, 30000, 'all messages');
  expect(got).toEqual(Array.from({ length: N }, (_, i) => `w${i}`));
  expect(Date.now() - t0).toBeGreaterThanOrEqual(Math.floor(N / RATE.count - 1) * RATE.windowMs);
  expect(errors).toBe(0);
  expect(b.connected).toBe(true);
  await a.deactivate();
  await b.deactivate();
});

test('receipts of waiting frames come in order; heart-beats are not missed while the broker holds the client back', async () => {
  const slow = await startBroker({ permissions: openPermissions, heartbeat: { sendMs: 0, receiveMs: 200 }, limits: { rateLimit: { count: 10, windowMs: 500 } } });
  const reasons: string[] = [];
  slow.broker.on('session-close', (_s, reason) => reasons.push(reason));
  try {
    const c = await rawTcp(slow.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '200,0' }));
    await c.next('CONNECTED');
    let burst = '';
    for (let i = 0; i < 40; i++) burst += frame('SEND', { destination: '/queue/slow', receipt: `r${i}` }, `${i}`);
    c.send(burst);
    // ~2 s held back (4 windows), far past the 400 ms heart-beat window the client agreed to.
    const beat = setInterval(() => c.send('\n'), 150);
    try {
      for (let i = 0; i < 40; i++) expect((await c.next('RECEIPT', 15000)).headers['receipt-id']).toBe(`r${i}`);
    } finally {
      clearInterval(beat);
    }
    expect(c.frames.some((f) => f.command === 'ERROR')).toBe(false);
    expect(reasons).toEqual([]);
    expect(slow.broker.queueDepth('/queue/slow')).toBe(40);
    c.close();
  } finally {
    await slow.close();
  }
});

test('frames pipelined behind CONNECT wait for the authenticator (no cap of a few frames), then flow', async () => {
  const auth = await startBroker({
    permissions: openPermissions, heartbeat: 0,
    authenticator: async () => { await sleep(200); return { id: 'u', name: 'u', roles: [], anonymous: false }; },
  });
  try {
    const c = await rawTcp(auth.tcpPort);
    let s = frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' });
    for (let i = 0; i < 150; i++) s += frame('SEND', { destination: '/queue/early' }, `${i}`);
    c.send(s + frame('SEND', { destination: '/queue/early', receipt: 'last' }, 'last'));
    await c.next('CONNECTED');
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('last');
    expect(auth.broker.queueDepth('/queue/early')).toBe(151);
    c.close();
  } finally {
    await auth.close();
  }
});

test('abusive: one WebSocket message packing more frames than maxBufferedFrames → ERROR, close reason rate-limited', async () => {
  // Default maxBufferedFrames here: max(10 × 200, 4096) = 4096.
  const c = await rawWs(r.wsUrl);
  c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }));
  await c.next('CONNECTED');
  c.send(frame('SEND', { destination: '/queue/abuse' }, 'x').repeat(6000));
  const e = await c.next('ERROR');
  expect(e.headers.message).toBe('rate limit exceeded');
  await c.closed();
  await waitFor(() => closeReasons.includes('rate-limited'));
});

test('abusive over TCP: a flood past a small maxBufferedFrames → ERROR', async () => {
  const tight = await startBroker({ permissions: openPermissions, heartbeat: 0, limits: { rateLimit: { count: 20, windowMs: 1000 }, maxBufferedFrames: 100 } });
  try {
    const c = await connectedTcp(tight.tcpPort);
    // 200 KB: whatever the broker pauses, one socket read already holds far more than 120 frames.
    c.send(frame('SEND', { destination: '/queue/abuse' }, 'x').repeat(6000));
    expect((await c.next('ERROR')).headers.message).toBe('rate limit exceeded');
    await c.closed();
  } finally {
    await tight.close();
  }
});
