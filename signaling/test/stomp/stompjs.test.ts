// @stomp/stompjs over WebSocket (the `ws` package in Node) against the running broker.
import WebSocket from 'ws';
import { Client, IMessage, StompConfig } from '@stomp/stompjs';
import { startBroker, Running, waitFor } from './helpers';
import { openPermissions } from '../../src/stomp';

let r: Running;
const clients: Client[] = [];

beforeAll(async () => {
  r = await startBroker({ permissions: openPermissions, heartbeat: 10000 });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.deactivate()));
});
afterAll(() => r.close());

/** The CONNECTED frame's headers of each client. */
const connectedHeaders = new WeakMap<Client, Record<string, string>>();

function client(extra: Partial<StompConfig> = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client({
      webSocketFactory: () => new WebSocket(r.wsUrl, ['v12.stomp', 'v11.stomp', 'v10.stomp']),
      reconnectDelay: 0,
      heartbeatIncoming: 0,
      heartbeatOutgoing: 0,
      ...extra,
      onConnect: (f) => {
        connectedHeaders.set(c, f.headers);
        resolve(c);
      },
      onStompError: (f) => reject(new Error(f.headers.message)),
    });
    clients.push(c);
    c.activate();
  });
}

/** Subscribes and waits for the broker's RECEIPT: publishes after it reach the subscription. */
async function inbox(c: Client, destination: string, headers: Record<string, string> = {}) {
  const got: IMessage[] = [];
  let sub!: ReturnType<Client['subscribe']>;
  await withReceipt(c, (receipt) => (sub = c.subscribe(destination, (m) => got.push(m), { ...headers, receipt })));
  return { got, sub };
}

/** A receipt-confirmed action: resolves when the broker answered the receipt. */
function withReceipt(c: Client, act: (receipt: string) => void): Promise<void> {
  const id = `r-${Math.random().toString(36).slice(2)}`;
  return new Promise((resolve) => {
    c.watchForReceipt(id, () => resolve());
    act(id);
  });
}

test('connect: CONNECTED carries version, session, server, heart-beat', async () => {
  const c = await client();
  expect(c.connectedVersion).toBe('1.2');
  await waitFor(() => r.broker.stats().sessions >= 1);
});

test('subscribe, send, receipts and MESSAGE headers', async () => {
  const a = await client();
  const b = await client();
  const ia = await inbox(a, '/topic/greet', { id: 'sub-a' });
  const ib = await inbox(b, '/topic/greet');
  await withReceipt(a, (receipt) => a.subscribe('/topic/other', () => {}, { receipt }));
  await withReceipt(b, (receipt) => b.publish({ destination: '/topic/greet', body: 'hello', headers: { receipt, 'x-custom': 'v' } }));
  await waitFor(() => ia.got.length === 1 && ib.got.length === 1);
  const m = ia.got[0];
  expect(m.body).toBe('hello');
  expect(m.headers.subscription).toBe('sub-a');
  expect(m.headers.destination).toBe('/topic/greet');
  expect(m.headers['message-id']).toBeTruthy();
  expect(m.headers['content-length']).toBe('5');
  expect(m.headers['x-custom']).toBe('v');
  expect(m.headers.ack).toBeUndefined();
});

test('a 1 MB body and a binary body with NUL bytes', async () => {
  const a = await client();
  const i = await inbox(a, '/topic/big');
  const big = 'x'.repeat(1024 * 1024);
  a.publish({ destination: '/topic/big', body: big });
  const bin = new Uint8Array([0, 1, 2, 0, 255, 0]);
  a.publish({ destination: '/topic/big', binaryBody: bin, headers: { 'content-type': 'application/octet-stream' } });
  await waitFor(() => i.got.length === 2);
  expect(i.got[0].body.length).toBe(big.length);
  expect([...i.got[1].binaryBody]).toEqual([...bin]);
});

test('transactions: SENDs are held until COMMIT; ABORT discards', async () => {
  const a = await client();
  const i = await inbox(a, '/topic/tx');
  const tx = a.begin();
  a.publish({ destination: '/topic/tx', body: 'one', headers: { transaction: tx.id } });
  a.publish({ destination: '/topic/tx', body: 'two', headers: { transaction: tx.id } });
  // Barrier: a receipted SEND outside the transaction; held frames would have been delivered first.
  await withReceipt(a, (receipt) => a.publish({ destination: '/topic/tx', body: 'outside', headers: { receipt } }));
  await waitFor(() => i.got.length === 1);
  expect(i.got[0].body).toBe('outside');
  tx.commit();
  await waitFor(() => i.got.length === 3);
  expect(i.got.map((m) => m.body)).toEqual(['outside', 'one', 'two']);
  const tx2 = a.begin();
  a.publish({ destination: '/topic/tx', body: 'three', headers: { transaction: tx2.id } });
  tx2.abort();
  await withReceipt(a, (receipt) => a.publish({ destination: '/topic/tx', body: 'four', headers: { receipt } }));
  await waitFor(() => i.got.length === 4);
  expect(i.got[3].body).toBe('four');
});

test('queue: round-robin, client-individual ack, NACK redelivers to another consumer', async () => {
  const a = await client();
  const b = await client();
  const got: Array<{ who: string; m: IMessage }> = [];
  await withReceipt(a, (receipt) => a.subscribe('/queue/work', (m) => got.push({ who: 'a', m }), { ack: 'client-individual', receipt }));
  await withReceipt(b, (receipt) => b.subscribe('/queue/work', (m) => got.push({ who: 'b', m }), { ack: 'client-individual', receipt }));
  for (let k = 0; k < 4; k++) a.publish({ destination: '/queue/work', body: `job${k}` });
  await waitFor(() => got.length === 4);
  expect(got.filter((g) => g.who === 'a')).toHaveLength(2);
  expect(got.filter((g) => g.who === 'b')).toHaveLength(2);
  expect(got[0].m.headers.ack).toBeTruthy();
  // a NACKs its first job: it goes to b, marked redelivered.
  const first = got.find((g) => g.who === 'a')!;
  first.m.nack();
  await waitFor(() => got.length === 5);
  expect(got[4].who).toBe('b');
  expect(got[4].m.body).toBe(first.m.body);
  expect(got[4].m.headers.redelivered).toBe('true');
  for (const g of got) if (g !== first) g.m.ack();
  await waitFor(() => r.broker.stats().unacked === 0);
});

test('queue: messages unacked by a consumer that disconnects go to another one', async () => {
  const a = await client();
  const b = await client();
  const gotA: IMessage[] = [];
  const gotB: IMessage[] = [];
  await withReceipt(a, (receipt) => a.subscribe('/queue/jobs2', (m) => gotA.push(m), { ack: 'client', receipt }));
  a.publish({ destination: '/queue/jobs2', body: 'j1' });
  a.publish({ destination: '/queue/jobs2', body: 'j2' });
  await waitFor(() => gotA.length === 2);
  await withReceipt(b, (receipt) => b.subscribe('/queue/jobs2', (m) => gotB.push(m), { ack: 'client', receipt }));
  await a.deactivate();
  await waitFor(() => gotB.length === 2);
  expect(gotB.map((m) => m.body)).toEqual(['j1', 'j2']);
  expect(gotB.every((m) => m.headers.redelivered === 'true')).toBe(true);
  // client mode: one ACK acknowledges everything before it.
  gotB[1].ack();
  await waitFor(() => r.broker.stats().unacked === 0);
});

test('queue: messages wait for a consumer', async () => {
  const a = await client();
  await withReceipt(a, (receipt) => a.publish({ destination: '/queue/later', body: 'waiting', headers: { receipt } }));
  expect(r.broker.stats().queued).toBeGreaterThanOrEqual(1);
  const i = await inbox(a, '/queue/later');
  await waitFor(() => i.got.length === 1);
  expect(i.got[0].body).toBe('waiting');
});

/**
 * A WebSocket for stompjs that can lose heart-beats one way (a half-dead link), and notes when the
 * broker's beats arrive. stompjs sends a beat as a lone "\n" and reads messages through onmessage.
 */
function lossyWs(opts: { dropOut?: boolean; dropIn?: boolean; beatsIn?: number[] }): () => WebSocket {
  return () => {
    const ws = new WebSocket(r.wsUrl, ['v12.stomp']);
    if (opts.dropOut) {
      const send = ws.send.bind(ws) as (d: unknown) => void;
      (ws as unknown as { send: (d: unknown) => void }).send = (d) => {
        if (d !== '\n') send(d);
      };
    }
    let handler: ((ev: WebSocket.MessageEvent) => void) | null = null;
    Object.defineProperty(ws, 'onmessage', { configurable: true, get: () => handler, set: (fn) => (handler = fn) });
    ws.addEventListener('message', (ev) => {
      if (ev.data === '\n' || ev.data === '\r\n') {
        opts.beatsIn?.push(Date.now());
        if (opts.dropIn) return;
      }
      handler?.(ev);
    });
    return ws;
  };
}

/** The reason the broker gives when the next session closes. */
function nextClose(): Promise<string> {
  return new Promise((resolve) => r.broker.once('session-close', (_s, reason) => resolve(reason)));
}

describe('heart-beats at 1000 ms both ways (broker default 10000 ms)', () => {
  test('CONNECTED offers 1000,1000 and the broker beats about every second; the session stays', async () => {
    const beatsIn: number[] = [];
    let closed = 0;
    const c = await client({ webSocketFactory: lossyWs({ beatsIn }), heartbeatIncoming: 1000, heartbeatOutgoing: 1000, onWebSocketClose: () => closed++ });
    expect(connectedHeaders.get(c)?.['heart-beat']).toBe('1000,1000');
    await waitFor(() => beatsIn.length >= 5, 15000, 'five heart-beats from the broker');
    const gaps = beatsIn.slice(1).map((t, k) => t - beatsIn[k]);
    // 1000 ms agreed: beats come 750-1000 ms apart (the sweep beats up to a quarter early). Generous
    // bounds for a loaded machine; the old behaviour (10000 ms) would time the wait out.
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(300);
    expect(gaps.reduce((x, y) => x + y, 0) / gaps.length).toBeLessThan(2000);
    expect(closed).toBe(0);
    expect(c.connected).toBe(true);
  });

  test('a client whose outgoing beats are lost is disconnected by the broker within ~3 s', async () => {
    const reason = nextClose();
    const t0 = Date.now();
    await client({ webSocketFactory: lossyWs({ dropOut: true }), heartbeatIncoming: 1000, heartbeatOutgoing: 1000 });
    expect(await reason).toBe('heartbeat-timeout');
    // 2 × 1000 ms of silence plus one sweep (250 ms); the bound is generous for a loaded machine.
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  test('a client that loses the broker\'s beats closes its side (stompjs notices the silence)', async () => {
    const reason = nextClose();
    let closedByClient = false;
    await client({
      webSocketFactory: lossyWs({ dropIn: true }),
      heartbeatIncoming: 1000,
      heartbeatOutgoing: 1000,
      onWebSocketClose: () => (closedByClient = true),
    });
    // The broker still hears the client's beats, so the close is the client's: the socket just goes.
    expect(await reason).toBe('socket-closed');
    await waitFor(() => closedByClient, 5000, 'stompjs onWebSocketClose');
  });
});

test('reconnect: stompjs comes back after the server closes the session', async () => {
  let connects = 0;
  const c = new Client({
    webSocketFactory: () => new WebSocket(r.wsUrl, ['v12.stomp']),
    reconnectDelay: 100,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
    onConnect: () => connects++,
  });
  clients.push(c);
  c.activate();
  await waitFor(() => connects === 1);
  const [first] = [...(r.broker as any).sessions.keys()].slice(-1);
  r.broker.closeSession(first, 'bye');
  await waitFor(() => connects === 2, 10000, 'reconnect');
  const i = await inbox(c, '/topic/again');
  r.broker.publish('/topic/again', 'ok');
  await waitFor(() => i.got.length === 1);
});

test('STOMP 1.1 and 1.0 over v11.stomp / v10.stomp', async () => {
  const c11 = await client({ stompVersions: new (require('@stomp/stompjs').Versions)(['1.1']) });
  expect(c11.connectedVersion).toBe('1.1');
  const c10 = await client({ stompVersions: new (require('@stomp/stompjs').Versions)(['1.0']) });
  expect(c10.connectedVersion).toBe('1.0');
  const i11 = await inbox(c11, '/topic/v', { ack: 'client' });
  c10.publish({ destination: '/topic/v', body: 'from 1.0' });
  await waitFor(() => i11.got.length === 1);
  expect(i11.got[0].headers.ack).toBeUndefined(); // 1.1 acks by message-id + subscription
  i11.got[0].ack();
  await waitFor(() => r.broker.stats().unacked === 0);
});
