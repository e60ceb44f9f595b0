// broker.sendToSubscription(sessionId, subscriptionId, body, headers?): one MESSAGE to exactly one
// subscription of one session (chat history replayed to a new subscriber).
import { startBroker, Running, connectedTcp, frame, barrier, RawClient } from './helpers';
import { openPermissions } from '../../src/stomp';
import { replayToSubscription } from '../../src/busk/replay';

let r: Running;

beforeAll(async () => {
  r = await startBroker({ permissions: openPermissions, heartbeat: 0 });
});
afterAll(() => r.close());

async function client(): Promise<{ c: RawClient; id: string }> {
  const c = await connectedTcp(r.tcpPort);
  const connected = c.frames.find((f) => f.command === 'CONNECTED')!;
  return { c, id: connected.headers.session };
}

async function subscribe(c: RawClient, id: string, destination: string, ack = 'auto'): Promise<void> {
  c.send(frame('SUBSCRIBE', { id, destination, ack, receipt: `sub-${id}` }));
  await c.next('RECEIPT');
}

const messages = (c: RawClient) => c.frames.filter((f) => f.command === 'MESSAGE');

test('reaches only the named subscription: not the session\'s other subscription of the topic, not other sessions', async () => {
  const a = await client();
  const b = await client();
  await subscribe(a.c, 'one', '/topic/chat');
  await subscribe(a.c, 'two', '/topic/chat');
  await subscribe(b.c, 'one', '/topic/chat');
  expect(r.broker.sendToSubscription(a.id, 'two', '{"text":"old"}', { replay: 'true', 'content-type': 'application/json' })).toBe(true);
  r.broker.publish('/topic/chat', 'live');
  await a.c.next('MESSAGE');
  await a.c.next('MESSAGE');
  await a.c.next('MESSAGE');
  await b.c.next('MESSAGE');
  await barrier(a.c);
  await barrier(b.c);
  const am = messages(a.c);
  expect(am).toHaveLength(3); // old on 'two', live on 'one' and 'two'
  const replayed = am.filter((m) => m.headers.replay === 'true');
  expect(replayed).toHaveLength(1);
  expect(replayed[0].headers.subscription).toBe('two');
  expect(replayed[0].headers.destination).toBe('/topic/chat');
  expect(replayed[0].headers['content-type']).toBe('application/json');
  expect(replayed[0].headers['message-id']).toBeTruthy();
  expect(replayed[0].body.toString()).toBe('{"text":"old"}');
  expect(messages(b.c).map((m) => m.body.toString())).toEqual(['live']);
  a.c.close();
  b.c.close();
});

test('unknown session or subscription: false, nothing sent', async () => {
  const a = await client();
  await subscribe(a.c, 's', '/topic/x');
  expect(r.broker.sendToSubscription('nope', 's', 'x')).toBe(false);
  expect(r.broker.sendToSubscription(a.id, 'nope', 'x')).toBe(false);
  await barrier(a.c);
  expect(messages(a.c)).toHaveLength(0);
  a.c.close();
});

test('/user subscriptions: destination header is the subscribed /user/queue/...', async () => {
  const a = await client();
  await subscribe(a.c, 'u', '/user/queue/history');
  expect(r.broker.sendToSubscription(a.id, 'u', { n: 1 })).toBe(true);
  const m = await a.c.next('MESSAGE');
  expect(m.headers.destination).toBe('/user/queue/history');
  expect(m.headers['content-type']).toBe('application/json');
  a.c.close();
});

test('a NACKed direct message on a /queue subscription is dropped, never handed to another consumer', async () => {
  const a = await client();
  const b = await client();
  await subscribe(a.c, 'q', '/queue/work', 'client-individual');
  await subscribe(b.c, 'q', '/queue/work', 'client-individual');
  const droppedBefore = r.broker.stats().dropped;
  expect(r.broker.sendToSubscription(a.id, 'q', 'only for a')).toBe(true);
  const m = await a.c.next('MESSAGE');
  a.c.send(frame('NACK', { id: m.headers.ack, receipt: 'n' }));
  await a.c.next('RECEIPT');
  await barrier(b.c);
  expect(messages(b.c)).toHaveLength(0);
  expect(messages(a.c)).toHaveLength(1);
  expect(r.broker.queueDepth('/queue/work')).toBe(0);
  expect(r.broker.stats().dropped).toBe(droppedBefore + 1);
  // Same when the consumer leaves without acking.
  expect(r.broker.sendToSubscription(b.id, 'q', 'only for b')).toBe(true);
  await b.c.next('MESSAGE');
  b.c.send(frame('UNSUBSCRIBE', { id: 'q', receipt: 'u' }));
  await b.c.next('RECEIPT');
  await barrier(a.c);
  expect(messages(a.c)).toHaveLength(1);
  expect(r.broker.queueDepth('/queue/work')).toBe(0);
  a.c.close();
  b.c.close();
});

test('busk replay helper: history to the one new subscription, oldest first, replay:true', async () => {
  const a = await client();
  const other = await client();
  await subscribe(a.c, 'chat', '/topic/busk.abc.chat');
  await subscribe(other.c, 'chat', '/topic/busk.abc.chat');
  const n = replayToSubscription(r.broker, a.id, 'chat', ['{"text":"1"}', '{"text":"2"}', '{"text":"3"}']);
  expect(n).toBe(3);
  for (let i = 0; i < 3; i++) await a.c.next('MESSAGE');
  await barrier(a.c);
  await barrier(other.c);
  const got = messages(a.c);
  expect(got.map((m) => JSON.parse(m.body.toString()).text)).toEqual(['1', '2', '3']);
  expect(got.every((m) => m.headers.replay === 'true' && m.headers['content-type'] === 'application/json')).toBe(true);
  expect(messages(other.c)).toHaveLength(0);
  expect(replayToSubscription(r.broker, a.id, 'gone', ['{}'])).toBe(0);
  a.c.close();
  other.c.close();
});
