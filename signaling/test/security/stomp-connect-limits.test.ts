// Issue 17 item 4: unauthenticated sockets could hold 2 MB each before CONNECT (200 sockets took RSS
// from 88 to 493 MB), a content-length body was allocated up front, and nothing capped connections.
// Now: 8 KiB until CONNECTED (frame and WebSocket message), bodies collected as they arrive, and caps
// overall and per client address (X-Forwarded-For believed only from trusted proxies).
import WebSocket from 'ws';
import { startBroker, Running, rawTcp, rawWs, frame, waitFor } from '../stomp/helpers';
import { DEFAULT_LIMITS, FrameParser, Principal } from '../../src/stomp';
import { retainedArrayBuffers } from '../../../test-support/memory';


describe('before CONNECTED', () => {
  let r: Running;
  let authCalls = 0;
  beforeAll(async () => {
    r = await startBroker({ authenticator: () => { authCalls++; return null; } });
    r.broker.app('/app/sink', () => {});
  });
  afterAll(() => r.close());

  test('the CONNECT limit is 8 KiB by default', () => {
    expect(DEFAULT_LIMITS.maxConnectFrameBytes).toBe(8 * 1024);
  });

  test('a CONNECT over 8 KiB (five 2 KB headers) is refused before the authenticator runs', async () => {
    const calls = authCalls;
    const c = await rawTcp(r.tcpPort);
    const big: Record<string, string> = { 'accept-version': '1.2' };
    for (let i = 0; i < 5; i++) big[`x-pad-${i}`] = 'p'.repeat(2000);
    c.send(frame('CONNECT', big));
    const e = await c.next('ERROR');
    expect(e.headers.message).toBe('frame too large');
    await c.closed();
    expect(authCalls).toBe(calls);
  });

  test('a CONNECT announcing a 1 MB body is refused at the header, before any body byte', async () => {
    const c = await rawTcp(r.tcpPort);
    c.send('CONNECT\naccept-version:1.2\ncontent-length:1000000\n\n');
    const e = await c.next('ERROR');
    expect(e.headers.message).toBe('frame too large');
    await c.closed();
  });

  test('over WebSocket, a 1 MB message before CONNECTED closes the socket (1009) without a session', async () => {
    const ws = new WebSocket(r.wsUrl, ['v12.stomp']);
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    const opened = r.broker.stats().connectionsTotal;
    const code = new Promise<number>((res) => ws.once('close', (c) => res(c)));
    ws.on('error', () => {});
    ws.send('CONNECT\naccept-version:1.2\ncontent-length:1000000\n\n' + 'a'.repeat(1000000) + '\0');
    expect(await code).toBe(1009);
    expect(r.broker.stats().sessions).toBe(0);
    expect(r.broker.stats().connectionsTotal).toBe(opened);
  });

  test('after CONNECTED the full frame size applies again (a 1 MB SEND over WebSocket)', async () => {
    const c = await rawWs(r.wsUrl);
    c.send(frame('CONNECT', { 'accept-version': '1.2' }));
    await c.next('CONNECTED');
    c.send(frame('SEND', { destination: '/app/sink', receipt: 'big' }, 'a'.repeat(1000000)));
    const m = await c.next('RECEIPT');
    expect(m.headers['receipt-id']).toBe('big');
    c.close();
  });
});

test('a content-length body is not allocated up front: 200 frames announcing 2 MB hold what arrived', async () => {
  const before = await retainedArrayBuffers();
  const parsers: FrameParser[] = [];
  for (let i = 0; i < 200; i++) {
    const p = new FrameParser({ maxFrameBytes: 2 * 1024 * 1024 + 1024, maxHeaders: 64, maxHeaderLineBytes: 8192 }, () => {});
    p.push(Buffer.from('SEND\ndestination:/app/x\ncontent-length:2000000\n\n0123456789'));
    parsers.push(p);
  }
  const held = (await retainedArrayBuffers()) - before;
  // Up-front allocation would hold 200 × 2 MB = 400 MB here.
  expect(held).toBeLessThan(8 * 1024 * 1024);
  expect(parsers.every((p) => p.inFrame)).toBe(true);
});

describe('connection caps', () => {
  test('per address: the 4th socket from 127.0.0.1 is refused (TCP closed, WebSocket 503), a freed slot is reused', async () => {
    const r = await startBroker({ limits: { maxConnectionsPerAddress: 3 } });
    try {
      const a = await rawTcp(r.tcpPort);
      const b = await rawTcp(r.tcpPort);
      const c = await rawWs(r.wsUrl);
      await waitFor(() => r.broker.stats().sockets === 3);
      const d = await rawTcp(r.tcpPort);
      await d.closed();
      const status = await new Promise<number>((res) => {
        const ws = new WebSocket(r.wsUrl, ['v12.stomp']);
        ws.on('unexpected-response', (_req, resp) => res(resp.statusCode ?? 0));
        ws.on('error', () => {});
      });
      expect(status).toBe(503);
      expect(r.broker.stats().connectionsRefused).toBe(2);
      a.close();
      await waitFor(() => r.broker.stats().sockets === 2);
      const e = await rawTcp(r.tcpPort);
      e.send(frame('CONNECT', { 'accept-version': '1.2' }));
      await e.next('CONNECTED');
      for (const x of [b, c, e]) x.close();
    } finally {
      await r.close();
    }
  });

  test('overall: maxConnections sockets, then refusals', async () => {
    const r = await startBroker({ limits: { maxConnections: 2 } });
    try {
      const a = await rawTcp(r.tcpPort);
      const b = await rawTcp(r.tcpPort);
      await waitFor(() => r.broker.stats().sockets === 2);
      const c = await rawTcp(r.tcpPort);
      await c.closed();
      expect(r.broker.stats().connectionsRefused).toBe(1);
      a.close();
      b.close();
    } finally {
      await r.close();
    }
  });
});

describe('X-Forwarded-For', () => {
  async function addressSeen(r: Running, xff?: string): Promise<string | undefined> {
    const seen = new Promise<string | undefined>((res) => r.broker.once('session-open', (s) => res(s.remoteAddress)));
    const ws = new WebSocket(r.wsUrl, ['v12.stomp'], { headers: xff ? { 'x-forwarded-for': xff } : {} });
    await new Promise((res, rej) => { ws.once('open', res); ws.once('error', rej); });
    ws.send(frame('CONNECT', { 'accept-version': '1.2' }));
    return seen;
  }

  test('from a trusted proxy: the client is the last untrusted hop, and the per-address cap counts it', async () => {
    const r = await startBroker({ trustedProxies: ['127.0.0.1', '10.0.0.2'], limits: { maxConnectionsPerAddress: 2 } });
    try {
      // The client may prepend anything; only what the trusted proxies appended is believed.
      expect(await addressSeen(r, '1.2.3.4, 203.0.113.7, 10.0.0.2')).toBe('203.0.113.7');
      expect(await addressSeen(r, '203.0.113.7')).toBe('203.0.113.7');
      const status = await new Promise<number>((res) => {
        const ws = new WebSocket(r.wsUrl, ['v12.stomp'], { headers: { 'x-forwarded-for': '203.0.113.7' } });
        ws.on('unexpected-response', (_req, resp) => res(resp.statusCode ?? 0));
        ws.on('error', () => {});
      });
      expect(status).toBe(503);
      // Another client behind the same proxy is its own address.
      expect(await addressSeen(r, '203.0.113.8')).toBe('203.0.113.8');
    } finally {
      await r.close();
    }
  });

  test('from any other peer the header is ignored (a client cannot pick its address)', async () => {
    const authSeen: Array<string | undefined> = [];
    const r = await startBroker({
      authenticator: (_h, info) => { authSeen.push(info.remoteAddress); return null as Principal | null; },
    });
    try {
      expect(await addressSeen(r, '203.0.113.7')).toBe('127.0.0.1');
      expect(authSeen).toEqual(['127.0.0.1']);
    } finally {
      await r.close();
    }
  });
});
