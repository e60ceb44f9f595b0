// Raw frames for every error path and limit: each gets a clear ERROR frame (message header and a
// body), the connection closes, and the broker keeps serving.
import net from 'node:net';
import { startBroker, Running, rawTcp, rawWs, connectedTcp, frame, waitFor, barrier, RawClient } from './helpers';
import { FakeClock } from './fake-clock';
import { AuthError, openPermissions, permissionRules } from '../../src/stomp';

let r: Running;
const closeReasons: string[] = [];

beforeAll(async () => {
  r = await startBroker({
    permissions: permissionRules([
      { pattern: '/app/**', allow: ['send'] },
      { pattern: '/topic/open.**', allow: ['send', 'subscribe'] },
      { pattern: '/topic/**', allow: ['subscribe'] },
      { pattern: '/queue/**', allow: ['send', 'subscribe'] },
      { pattern: '/user/**', allow: ['subscribe'] },
    ]),
    limits: {
      maxFrameBytes: 4096, maxHeaders: 10, maxHeaderLineBytes: 256, maxSubscriptions: 3, maxPendingAcks: 3,
      rateLimit: { count: 40, windowMs: 1000 }, maxBufferedFrames: 200, partialFrameTimeoutMs: 400, connectTimeoutMs: 600, maxTransactions: 2, maxTransactionFrames: 3,
    },
    heartbeat: 10000,
  });
  r.broker.on('session-close', (_s, reason) => closeReasons.push(reason));
});
afterAll(() => r.close());

async function expectError(c: RawClient, message: RegExp, extra?: (h: Record<string, string>) => void): Promise<void> {
  const e = await c.next('ERROR');
  expect(e.headers.message).toMatch(message);
  expect(e.body.length).toBeGreaterThan(0);
  expect(e.headers['content-type']).toBe('text/plain');
  extra?.(e.headers);
  await c.closed();
}

afterEach(async () => {
  // After every error path the broker still serves a fresh client end to end.
  const c = await connectedTcp(r.tcpPort);
  c.send(frame('SUBSCRIBE', { id: '1', destination: '/topic/open.check' }));
  c.send(frame('SEND', { destination: '/topic/open.check' }, 'alive'));
  expect((await c.next('MESSAGE')).body.toString()).toBe('alive');
  c.close();
});

describe('connection phase', () => {
  test('a first frame other than CONNECT', async () => {
    const c = await rawTcp(r.tcpPort);
    c.send(frame('SEND', { destination: '/app/x' }, 'hi'));
    await expectError(c, /not connected/);
  });

  test('unsupported version → ERROR with the supported versions', async () => {
    const c = await rawTcp(r.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '2.0,3.1', host: 'x' }));
    await expectError(c, /unsupported STOMP version/, (h) => expect(h.version).toBe('1.2,1.1,1.0'));
  });

  test('a malformed heart-beat header', async () => {
    const c = await rawTcp(r.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': 'soon' }));
    await expectError(c, /heart-beat/);
  });

  test('CONNECT twice', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '1.2' }));
    await expectError(c, /already connected/);
  });

  test('no CONNECT in time', async () => {
    const c = await rawTcp(r.tcpPort);
    await expectError(c, /connect timeout/);
  });

  test('1.0 without accept-version; STOMP command accepted as CONNECT', async () => {
    const c = await rawTcp(r.tcpPort);
    c.send(frame('CONNECT', {}));
    const f = await c.next('CONNECTED');
    expect(f.headers.version).toBe('1.0');
    expect(f.headers['heart-beat']).toBeUndefined();
    const d = await rawTcp(r.tcpPort);
    d.send(frame('STOMP', { 'accept-version': '1.1', host: 'h', 'heart-beat': '0,0' }));
    expect((await d.next('CONNECTED')).headers.version).toBe('1.1');
    c.close();
    d.close();
  });
});

describe('framing and limits', () => {
  const cases: Array<[string, string | Buffer, RegExp]> = [
    ['unknown command', frame('HELLO', {}), /unknown command/],
    ['frame too large', frame('SEND', { destination: '/queue/a' }, 'x'.repeat(5000)), /frame too large/],
    ['content-length over the limit', 'SEND\ndestination:/queue/a\ncontent-length:100000\n\n', /frame too large/],
    ['too many headers', frame('SEND', Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`h${i}`, i]))), /too many headers/],
    ['header line too long', frame('SEND', { destination: '/queue/' + 'a'.repeat(400) }), /header too long/],
    ['header without colon', 'SEND\nnocolon\n\n\0', /malformed frame/],
    ['undefined escape', 'SEND\ndestination:/queue/a\\t\n\n\0', /invalid header escape/],
    ['bad content-length', 'SEND\ndestination:/queue/a\ncontent-length:ten\n\n\0', /invalid content-length/],
    ['body longer than content-length', 'SEND\ndestination:/queue/a\ncontent-length:1\n\nabc\0', /not terminated by NUL/],
    ['SEND without destination', frame('SEND', {}, 'x'), /missing header/],
    ['SUBSCRIBE without id (1.2)', frame('SUBSCRIBE', { destination: '/topic/a' }), /missing header/],
    ['bad ack mode', frame('SUBSCRIBE', { id: '1', destination: '/topic/a', ack: 'sometimes' }), /bad ack mode/],
    ['subscribe to an unknown destination type', frame('SUBSCRIBE', { id: '1', destination: '/exchange/a' }), /unknown destination/],
    ['a body on SUBSCRIBE', frame('SUBSCRIBE', { id: '1', destination: '/topic/a' }, 'body'), /body not allowed/],
    ['COMMIT of an unknown transaction', frame('COMMIT', { transaction: 'nope' }), /unknown transaction/],
    ['SEND in an unknown transaction', frame('SEND', { destination: '/queue/a', transaction: 'nope' }), /unknown transaction/],
    ['BEGIN without transaction header', frame('BEGIN', {}), /missing header/],
    ['ACK without id (1.2)', frame('ACK', {}), /missing header/],
    ['SEND where the rules do not allow it', frame('SEND', { destination: '/topic/closed' }, 'x'), /forbidden/],
    ['SUBSCRIBE where the rules do not allow it', frame('SUBSCRIBE', { id: '1', destination: '/elsewhere/x' }), /unknown destination/],
    ['SEND to an unknown destination type', frame('SEND', { destination: '/nowhere' }, 'x'), /forbidden/],
  ];
  test.each(cases)('%s', async (_name, bytes, message) => {
    const c = await connectedTcp(r.tcpPort);
    c.send(bytes);
    await expectError(c, message);
  });

  test('ERROR carries receipt-id of the offending frame', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('SUBSCRIBE', { destination: '/topic/a', receipt: 'rc-9' }));
    await expectError(c, /missing header/, (h) => expect(h['receipt-id']).toBe('rc-9'));
  });

  test('duplicate subscription id and too many subscriptions', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('SUBSCRIBE', { id: 'a', destination: '/topic/a' }));
    c.send(frame('SUBSCRIBE', { id: 'a', destination: '/topic/b' }));
    await expectError(c, /duplicate subscription/);
    const d = await connectedTcp(r.tcpPort);
    for (let i = 0; i < 4; i++) d.send(frame('SUBSCRIBE', { id: `s${i}`, destination: `/topic/t${i}` }));
    await expectError(d, /too many subscriptions/);
  });

  test('duplicate BEGIN, too many transactions, too many frames in a transaction', async () => {
    const a = await connectedTcp(r.tcpPort);
    a.send(frame('BEGIN', { transaction: 't' }) + frame('BEGIN', { transaction: 't' }));
    await expectError(a, /duplicate transaction/);
    const b = await connectedTcp(r.tcpPort);
    b.send(frame('BEGIN', { transaction: '1' }) + frame('BEGIN', { transaction: '2' }) + frame('BEGIN', { transaction: '3' }));
    await expectError(b, /too many transactions/);
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('BEGIN', { transaction: 't' }));
    for (let i = 0; i < 4; i++) c.send(frame('SEND', { destination: '/queue/tx', transaction: 't' }, `${i}`));
    await expectError(c, /transaction too large/);
  });

  test('over the inbound rate: frames wait (backpressure), none is lost, no ERROR', async () => {
    const c = await connectedTcp(r.tcpPort);
    let burst = '';
    for (let i = 0; i < 60; i++) burst += frame('SEND', { destination: '/queue/flood' }, `${i}`);
    c.send(burst + frame('SEND', { destination: '/queue/flood', receipt: 'last' }, 'last'));
    // 40 per second: the last frames go through in the next window.
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('last');
    expect(r.broker.queueDepth('/queue/flood')).toBe(61);
    expect(c.frames.some((f) => f.command === 'ERROR')).toBe(false);
    c.close();
  });

  test('a flood far past the rate (more frames waiting than maxBufferedFrames) gets ERROR', async () => {
    // One WebSocket message carrying 1000 frames is read at once however the broker pauses the
    // socket: more than maxBufferedFrames (200 here) wait, clearly not a client waiting for the broker.
    const c = await rawWs(r.wsUrl);
    c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0' }));
    await c.next('CONNECTED');
    const one = frame('SEND', { destination: '/queue/abuse' }, 'x');
    c.send(one.repeat(1000));
    await expectError(c, /rate limit exceeded/);
    await waitFor(() => closeReasons.includes('rate-limited'));
  });

  test('a partial frame that never completes times out', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send('SEND\ndestination:/queue/slow\n\nhalf a bo');
    await expectError(c, /frame timeout/);
    await waitFor(() => closeReasons.includes('frame-timeout'));
  });

  test('heart-beat EOLs alone are not frames and do not trip the rate limit', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send('\n'.repeat(500) + '\r\n'.repeat(500));
    c.send(frame('SUBSCRIBE', { id: '1', destination: '/topic/open.eol', receipt: 'ok' }));
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('ok');
    c.close();
  });
});

describe('acknowledgements', () => {
  test('topic client-ack subscriber over the unacked cap gets ERROR', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('SUBSCRIBE', { id: '1', destination: '/topic/open.acks', ack: 'client', receipt: 'r' }));
    await c.next('RECEIPT');
    for (let i = 0; i < 5; i++) r.broker.publish('/topic/open.acks', `m${i}`);
    await expectError(c, /too many unacknowledged/);
  });

  test('queue consumer at the cap just stops receiving until it acks (prefetch)', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('SUBSCRIBE', { id: 'q', destination: '/queue/prefetch', ack: 'client-individual', receipt: 'r' }));
    await c.next('RECEIPT');
    for (let i = 0; i < 5; i++) r.broker.publish('/queue/prefetch', `m${i}`);
    const first = await c.next('MESSAGE');
    await c.next('MESSAGE');
    await c.next('MESSAGE');
    await barrier(c);
    expect(c.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(3);
    expect(r.broker.queueDepth('/queue/prefetch')).toBe(2);
    c.send(frame('ACK', { id: first.headers.ack }));
    const fourth = await c.next('MESSAGE');
    expect(fourth.body.toString()).toBe('m3');
    c.close();
  });

  test('unknown ack ids are ignored (RabbitMQ does the same)', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('ACK', { id: 'nope', receipt: 'x' }));
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('x');
    c.close();
  });
});

describe('authentication and session control', () => {
  let a: Running;
  beforeAll(async () => {
    a = await startBroker({
      permissions: openPermissions,
      authenticator: (h) => {
        if (h.passcode === 'bad') throw new AuthError('token rejected');
        if (h.passcode === 'short') return { id: 'u-short', name: 's', roles: [], anonymous: false, expiresAt: Date.now() + 300 };
        if (h.passcode === 'boom') throw new Error('database down');
        return { id: h.login ?? 'anon', name: 'n', roles: [], anonymous: !h.login };
      },
    });
  });
  afterAll(() => a.close());

  test('authenticator throws AuthError → ERROR unauthorized', async () => {
    const c = await rawTcp(a.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '1.2', passcode: 'bad' }));
    await expectError(c, /^unauthorized$/);
  });

  test('authenticator crashes → ERROR internal error', async () => {
    const c = await rawTcp(a.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '1.2', passcode: 'boom' }));
    await expectError(c, /internal error/);
  });

  test('a principal whose token expires is disconnected', async () => {
    const c = await connectedTcp(a.tcpPort, { passcode: 'short' });
    await expectError(c, /unauthorized/);
  });

  test('DISCONNECT with receipt: RECEIPT then close', async () => {
    const c = await connectedTcp(a.tcpPort, { login: 'dee' });
    c.send(frame('DISCONNECT', { receipt: 'bye' }));
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('bye');
    await c.closed();
  });

  test('closeSession(id, message) sends ERROR and closes with reason kicked', async () => {
    const reasons: string[] = [];
    a.broker.on('session-close', (_s, why) => reasons.push(why));
    const c = await connectedTcp(a.tcpPort, { login: 'kickme' });
    const [s] = a.broker.sessionsOf('kickme');
    a.broker.closeSession(s.id, 'go away');
    await expectError(c, /go away/);
    await waitFor(() => reasons.includes('kicked'));
  });
});

describe('heart-beats (fake clock)', () => {
  let h: Running;
  let clock: FakeClock;
  beforeAll(async () => {
    clock = new FakeClock();
    h = await startBroker({ permissions: openPermissions, heartbeat: 100, clock });
  });
  afterAll(() => h.close());

  test('server beats at the negotiated rate and CONNECTED says what it offers', async () => {
    const c = await rawTcp(h.tcpPort);
    c.send(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': '0,150' }));
    const f = await c.next('CONNECTED');
    expect(f.headers['heart-beat']).toBe('100,100');
    await clock.advanceAsync(500, 25);
    await barrier(c);
    expect(c.heartbeats()).toBeGreaterThanOrEqual(3);
    c.close();
  });

  test('a silent client is closed past the window; one that beats is not', async () => {
    const reasons: string[] = [];
    h.broker.on('session-close', (_s, why) => reasons.push(why));
    const silent = await rawTcp(h.tcpPort);
    silent.send(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': '100,0' }));
    await silent.next('CONNECTED');
    const beating = await rawTcp(h.tcpPort);
    beating.send(frame('CONNECT', { 'accept-version': '1.2', 'heart-beat': '100,0' }));
    await beating.next('CONNECTED');
    // 600 ms of fake time (3 windows of 2 × 100 ms); `beating` beats every 50 ms, each read by the broker before time moves.
    for (let t = 0; t < 600; t += 50) {
      const before = h.broker.stats().bytesIn;
      beating.send('\n');
      await waitFor(() => h.broker.stats().bytesIn > before);
      await clock.advanceAsync(50, 25);
    }
    await expectError(silent, /heart-beat timeout/);
    expect(reasons).toEqual(['heartbeat-timeout']);
    await barrier(beating);
    expect(beating.isClosed()).toBe(false);
    beating.close();
  });
});

describe('slow consumers', () => {
  /** A raw TCP subscriber to `destination` that reads up to its RECEIPT and then never again. */
  async function slowReader(port: number, destination: string): Promise<net.Socket> {
    const sock = net.connect(port, '127.0.0.1');
    await new Promise((res) => sock.once('connect', res));
    sock.write(frame('CONNECT', { 'accept-version': '1.2' }) + frame('SUBSCRIBE', { id: '1', destination, receipt: 'r' }));
    await new Promise<void>((res) => {
      let seen = '';
      const onData = (d: Buffer) => {
        seen += d.toString();
        if (seen.includes('receipt-id:r')) {
          sock.off('data', onData);
          res();
        }
      };
      sock.on('data', onData);
    });
    sock.pause(); // stops reading: the kernel buffers fill, then ours
    return sock;
  }

  /** Publishes 60 KiB messages to `destination` until `done()` or 2,000 of them, pausing `pauseMs` every 50. */
  async function firehose(s: Running, destination: string, done: () => boolean, pauseMs = 0): Promise<void> {
    const body = Buffer.alloc(60 * 1024, 1);
    for (let i = 0; i < 2000 && !done(); i++) {
      s.broker.publish(destination, body);
      if (i % 50 === 0) await new Promise((res) => (pauseMs ? setTimeout(res, pauseMs) : setImmediate(res))); // let the socket write
    }
  }

  test('a client that does not read is disconnected when its buffer passes the cap', async () => {
    const s = await startBroker({ permissions: openPermissions, limits: { maxFrameBytes: 64 * 1024, maxOutboundBufferBytes: 256 * 1024 } });
    try {
      const reasons: string[] = [];
      s.broker.on('session-close', (_x, why) => reasons.push(why));
      const sock = await slowReader(s.tcpPort, '/topic/firehose');
      await firehose(s, '/topic/firehose', () => reasons.includes('slow-consumer'));
      await waitFor(() => reasons.includes('slow-consumer'));
      expect(s.broker.stats().dropped).toBeGreaterThan(0);
      sock.destroy();
    } finally {
      await s.close();
    }
  });

  test('slow readers that each stay under their cap are dropped, biggest first, when together they pass the node budget', async () => {
    // Per session 512 MiB (2,000 messages of 60 KiB cannot reach it), the node 1 MiB: only the
    // node-wide budget can act. The kernel takes several MiB per socket before the broker holds any.
    const s = await startBroker({ permissions: openPermissions, limits: { maxFrameBytes: 64 * 1024, maxOutboundBufferBytes: 512 * 1024 * 1024, maxTotalOutboundBytes: 1024 * 1024 } });
    try {
      const reasons: string[] = [];
      s.broker.on('session-close', (_x, why) => reasons.push(why));
      const readers = [await slowReader(s.tcpPort, '/topic/wide'), await slowReader(s.tcpPort, '/topic/wide'), await slowReader(s.tcpPort, '/topic/wide')];
      let peak = 0;
      // Paced so that the sweep (about a second) runs while the readers' buffers grow.
      await firehose(s, '/topic/wide', () => { peak = Math.max(peak, s.broker.stats().outboundBytes); return reasons.includes('slow-consumer'); }, 20);
      expect(peak).toBeGreaterThan(1024 * 1024);
      await waitFor(() => reasons.includes('slow-consumer'), 5000);
      expect(s.broker.stats().closedByReason['slow-consumer']).toBeGreaterThanOrEqual(1);
      for (const r of readers) r.destroy();
    } finally {
      await s.close();
    }
  });
});

describe('WebSocket transport', () => {
  test('subprotocol negotiation prefers v12.stomp', async () => {
    const c = await rawWs(r.wsUrl, ['v10.stomp', 'v12.stomp', 'v11.stomp']);
    expect(c.ws.protocol).toBe('v12.stomp');
    c.close();
  });

  test('several frames in one message, one frame over several messages, binary messages', async () => {
    const c = await rawWs(r.wsUrl);
    c.send(frame('CONNECT', { 'accept-version': '1.2' }) + frame('SUBSCRIBE', { id: 'w', destination: '/topic/open.ws' }));
    await c.next('CONNECTED');
    const f = frame('SEND', { destination: '/topic/open.ws', 'content-length': 3 }, 'a\0b');
    c.send(f.slice(0, 10));
    c.send(f.slice(10, 20));
    c.send(Buffer.from(f.slice(20), 'binary'));
    const m = await c.next('MESSAGE');
    expect(m.body.toString('binary')).toBe('a\0b');
    c.close();
  });

  test('errors over WebSocket too', async () => {
    const c = await rawWs(r.wsUrl);
    c.send(frame('CONNECT', { 'accept-version': '1.2' }));
    await c.next('CONNECTED');
    c.send('GARBAGE\n\n\0');
    await expectError(c, /unknown command/);
  });

  test('upgrades on other paths are left alone', async () => {
    const url = r.wsUrl.replace('/stomp', '/other');
    const WebSocket = (await import('ws')).default;
    const ws = new WebSocket(url);
    const outcome = await new Promise<string>((res) => {
      ws.on('open', () => res('open'));
      ws.on('error', () => res('error'));
    });
    // Nobody else listens for upgrades on this server: the broker answers 404 rather than leave it hanging.
    expect(outcome).toBe('error');
    ws.terminate();
  });
});
