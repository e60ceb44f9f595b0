// stompit over plain TCP against the running broker.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const stompit = require('stompit'); // untyped package
import { startBroker, Running, waitFor, subscribedTo } from './helpers';
import { openPermissions } from '../../src/stomp';

let r: Running;
const open: any[] = [];

beforeAll(async () => {
  r = await startBroker({ permissions: openPermissions, heartbeat: 10000 });
});
afterEach(() => {
  for (const c of open.splice(0)) {
    try {
      c.destroy();
    } catch {
      /* already gone */
    }
  }
});
afterAll(() => r.close());

function connect(headers: Record<string, string> = {}): Promise<any> {
  return new Promise((resolve, reject) => {
    stompit.connect({ host: '127.0.0.1', port: r.tcpPort, connectHeaders: { host: '/', 'heart-beat': '0,0', ...headers } } as any, (err: Error | null, c: any) => {
      if (err) return reject(err);
      open.push(c);
      resolve(c);
    });
  });
}

interface Got {
  headers: Record<string, string>;
  body: Buffer;
  raw: any;
}

function subscribe(c: any, headers: Record<string, string>): Got[] {
  const got: Got[] = [];
  c.subscribe(headers, (err: Error | null, message: any) => {
    if (err) return;
    const chunks: Buffer[] = [];
    message.on('data', (d: Buffer) => chunks.push(d));
    message.on('end', () => got.push({ headers: message.headers, body: Buffer.concat(chunks), raw: message }));
  });
  return got;
}

function send(c: any, headers: Record<string, string>, body: string | Buffer): Promise<void> {
  return new Promise((resolve) => {
    const f = c.send({ ...headers, 'content-length': Buffer.byteLength(body) }, { onReceipt: () => resolve() });
    f.end(body);
  });
}

test('connect (1.2 negotiated), subscribe, send with receipt', async () => {
  const c = await connect();
  expect(c.headers.version).toBe('1.2');
  expect(c.headers.session).toMatch(/-/);
  const subscribed = subscribedTo(r.broker, '/topic/t');
  const got = subscribe(c, { destination: '/topic/t', id: 'x' });
  await subscribed;
  await send(c, { destination: '/topic/t', 'content-type': 'text/plain' }, 'hello stompit');
  await waitFor(() => got.length === 1);
  expect(got[0].body.toString()).toBe('hello stompit');
  expect(got[0].headers.subscription).toBe('x');
});

test('binary and 1 MB bodies over TCP', async () => {
  const c = await connect();
  const subscribed = subscribedTo(r.broker, '/topic/bin');
  const got = subscribe(c, { destination: '/topic/bin', id: 'b' });
  await subscribed;
  const bin = Buffer.from([0, 0, 1, 0, 2, 255]);
  await send(c, { destination: '/topic/bin' }, bin);
  const big = Buffer.alloc(1024 * 1024, 7);
  await send(c, { destination: '/topic/bin' }, big);
  await waitFor(() => got.length === 2);
  expect(got[0].body.equals(bin)).toBe(true);
  expect(got[1].body.equals(big)).toBe(true);
});

test('transactions with stompit', async () => {
  const c = await connect();
  const subscribed = subscribedTo(r.broker, '/topic/tx');
  const got = subscribe(c, { destination: '/topic/tx', id: 't' });
  await subscribed;
  const tx = c.begin();
  tx.send({ destination: '/topic/tx' }).end('a');
  tx.send({ destination: '/topic/tx' }).end('b');
  // Barrier: a SEND outside the transaction, after it; what the transaction held would come first.
  await send(c, { destination: '/topic/tx' }, 'outside');
  await waitFor(() => got.length === 1);
  expect(got[0].body.toString()).toBe('outside');
  tx.commit();
  await waitFor(() => got.length === 3);
  expect(got.map((g) => g.body.toString())).toEqual(['outside', 'a', 'b']);
});

test('queue ack/nack with stompit: NACK redelivers with redelivered:true', async () => {
  const a = await connect();
  const b = await connect();
  const subscribed = subscribedTo(r.broker, '/queue/st');
  const gotA = subscribe(a, { destination: '/queue/st', id: 'qa', ack: 'client-individual' });
  await subscribed;
  await send(b, { destination: '/queue/st' }, 'job');
  await waitFor(() => gotA.length === 1);
  a.nack(gotA[0].raw);
  await waitFor(() => gotA.length === 2); // only consumer: back to it
  expect(gotA[1].headers.redelivered).toBe('true');
  a.ack(gotA[1].raw);
  await waitFor(() => r.broker.stats().unacked === 0);
});

test('heart-beats: stompit negotiates and stays connected; server beats arrive', async () => {
  await r.close();
  r = await startBroker({ permissions: openPermissions, heartbeat: 10000 });
  // The broker follows the client's 500 ms (its floor); stompit beats at the agreed period.
  const c = await connect({ 'heart-beat': '500,500' });
  expect(c.headers['heart-beat']).toBe('500,500');
  let errored = false;
  c.on('error', () => (errored = true));
  // Waits on beats, not on time: 4 each way, with no data frames meanwhile (1 byte each).
  const s0 = r.broker.stats();
  await waitFor(() => r.broker.stats().bytesIn - s0.bytesIn >= 4 && r.broker.stats().bytesOut - s0.bytesOut >= 4, 15000, 'heart-beats both ways');
  expect(errored).toBe(false);
  expect(r.broker.stats().sessions).toBe(1);
  const subscribed = subscribedTo(r.broker, '/topic/alive');
  const got = subscribe(c, { destination: '/topic/alive', id: 'z' });
  await subscribed;
  r.broker.publish('/topic/alive', 'yes');
  await waitFor(() => got.length === 1);
});

test('reconnect after disconnect', async () => {
  const c = await connect();
  await new Promise<void>((res) => c.disconnect(() => res()));
  const c2 = await connect();
  const subscribed = subscribedTo(r.broker, '/topic/re');
  const got = subscribe(c2, { destination: '/topic/re', id: 'r' });
  await subscribed;
  r.broker.publish('/topic/re', 'back');
  await waitFor(() => got.length === 1);
});
