// Random and mutated frames thrown at the running broker over TCP and WebSocket (seeded, bounded
// in count and time): the process stays up, broken sessions get ERROR, and a fresh client is
// served normally afterwards.
import { startBroker, Running, rawTcp, rawWs, connectedTcp, frame, waitFor, sleep, RawClient } from './helpers';
import { openPermissions } from '../../src/stomp';
import { prng } from './prng';

let r: Running;
const uncaught: unknown[] = [];
const onUncaught = (e: unknown) => uncaught.push(e);

beforeAll(async () => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
  r = await startBroker({
    permissions: openPermissions,
    limits: { maxFrameBytes: 8192, maxHeaders: 16, maxHeaderLineBytes: 512, partialFrameTimeoutMs: 500, connectTimeoutMs: 1000 },
  });
  r.broker.app('/app/**', (req) => {
    req.json();
  });
});
afterAll(async () => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
  await r.close();
});

const TEMPLATES = [
  frame('SUBSCRIBE', { id: 's1', destination: '/topic/f', ack: 'client', receipt: 'r1' }),
  frame('SUBSCRIBE', { id: 's2', destination: '/queue/f', ack: 'client-individual' }),
  frame('SEND', { destination: '/topic/f', 'content-type': 'text/plain' }, 'hello'),
  frame('SEND', { destination: '/queue/f', 'content-length': 4 }, 'a\0bc'),
  frame('SEND', { destination: '/app/x', receipt: 'r2' }, '{"a":1}'),
  frame('SEND', { destination: '/user/u/queue/f' }, 'direct'),
  frame('ACK', { id: '1' }),
  frame('NACK', { id: '2', transaction: 't' }),
  frame('BEGIN', { transaction: 't' }),
  frame('COMMIT', { transaction: 't' }),
  frame('ABORT', { transaction: 't' }),
  frame('UNSUBSCRIBE', { id: 's1' }),
  'SEND\ndestination:/topic/f\\c\\n\n\n\0',
  '\n\r\n',
];

function mutate(rnd: () => number, s: string): Buffer {
  let b = Buffer.from(s, 'binary');
  const edits = Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const pos = Math.floor(rnd() * Math.max(1, b.length));
    const byte = [0, 10, 13, 58, 92, 45, 49, Math.floor(rnd() * 256)][Math.floor(rnd() * 8)];
    const k = rnd();
    if (k < 0.4) b[pos] = byte;
    else if (k < 0.7) b = Buffer.concat([b.subarray(0, pos), Buffer.from([byte]), b.subarray(pos)]);
    else if (k < 0.9) b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1)]);
    else b = Buffer.concat([b.subarray(0, pos), Buffer.alloc(Math.floor(rnd() * 10000), 65), b.subarray(pos)]);
  }
  return b;
}

async function oneSession(rnd: () => number, useWs: boolean): Promise<'error' | 'closed' | 'alive'> {
  const c: RawClient = useWs ? await rawWs(r.wsUrl) : await rawTcp(r.tcpPort);
  try {
    if (rnd() < 0.85) c.send(frame('CONNECT', { 'accept-version': ['1.2', '1.1', '1.0', '1.2,1.1', '9.9'][Math.floor(rnd() * 5)], 'heart-beat': '0,0' }));
    const n = 1 + Math.floor(rnd() * 12);
    const parts: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      if (rnd() < 0.1) {
        const junk = Buffer.alloc(Math.floor(rnd() * 300));
        for (let j = 0; j < junk.length; j++) junk[j] = Math.floor(rnd() * 256);
        parts.push(junk);
      } else parts.push(mutate(rnd, TEMPLATES[Math.floor(rnd() * TEMPLATES.length)]));
    }
    const all = Buffer.concat(parts);
    // Random chunking (several frames per chunk, frames split over chunks).
    let i = 0;
    while (i < all.length) {
      const k = 1 + Math.floor(rnd() * 600);
      c.send(all.subarray(i, i + k));
      i += k;
    }
    await Promise.race([c.closed(), sleep(150)]);
    if (c.frames.some((f) => f.command === 'ERROR')) return 'error';
    return c.isClosed() ? 'closed' : 'alive';
  } finally {
    c.close();
  }
}

test('fuzzing the running broker', async () => {
  const rnd = prng(20240601);
  const outcomes = { error: 0, closed: 0, alive: 0 };
  const deadline = Date.now() + 20000;
  let runs = 0;
  while (runs < 400 && Date.now() < deadline) {
    const batch = await Promise.all(Array.from({ length: 10 }, () => oneSession(rnd, rnd() < 0.4)));
    for (const o of batch) outcomes[o]++;
    runs += batch.length;
  }
  expect(runs).toBeGreaterThanOrEqual(50);
  expect(outcomes.error).toBeGreaterThan(0);
  expect(uncaught).toEqual([]);
  // Every fuzzed session is gone, and the broker's books balance.
  await waitFor(() => r.broker.stats().sessions === 0, 10000, 'sessions to drain');
  expect(r.broker.stats().subscriptions).toBe(0);
  expect(r.broker.stats().unacked).toBe(0);

  // A fresh, well-behaved client is served as usual.
  const c = await connectedTcp(r.tcpPort);
  c.send(frame('SUBSCRIBE', { id: 'ok', destination: '/topic/after' }));
  c.send(frame('SEND', { destination: '/topic/after', receipt: 'r' }, 'still fine'));
  expect((await c.next('MESSAGE')).body.toString()).toBe('still fine');
  await c.next('RECEIPT');
  c.close();
}, 60000);
