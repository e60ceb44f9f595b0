// Application handlers, /user routing, permissions and events.
import { startBroker, Running, connectedTcp, frame, waitFor, sleep, rawWs, barrier } from './helpers';
import { AppError, permissionRules, defaultPermissions, SessionInfo } from '../../src/stomp';

let r: Running;
const events: string[] = [];

beforeAll(async () => {
  r = await startBroker({
    authenticator: (h) => (h.login ? { id: h.login, name: h.login, roles: h.login === 'olga' ? ['ops'] : [], anonymous: false } : null),
  });
  const b = r.broker;
  b.on('session-open', (s) => events.push(`open:${s.principal?.id ?? 'anon'}`));
  b.on('session-close', (s, why) => events.push(`close:${s.principal?.id ?? 'anon'}:${why}`));
  b.on('subscribe', (s, sub) => events.push(`sub:${sub.id}:${sub.destination}`));
  b.on('unsubscribe', (s, sub) => events.push(`unsub:${sub.id}:${sub.destination}`));
  b.app('/app/echo', (req) => {
    b.sendToSession(req.session.id, '/queue/echo', req.text());
  });
  b.app('/app/busk.{id}.offer', async (req) => {
    const body = req.json<{ sdpOffer: string }>();
    await sleep(20);
    b.sendToSession(req.session.id, `/queue/busk.${req.params.id}`, { type: 'answer', sdpAnswer: `answer-to-${body.sdpOffer}` });
  });
  b.app('/app/fail.conflict', () => {
    throw new AppError('conflict', 'already live');
  });
  b.app('/app/fail.async', async () => {
    throw new AppError('rate-limited', 'slow down');
  });
  b.app('/app/fail.bug', async () => {
    throw new TypeError('undefined is not a function');
  });
  b.app('/app/whoami', (req) => {
    b.sendToSession(req.session.id, '/queue/me', { id: req.session.principal?.id ?? null, transport: req.session.transport });
  });
});
afterAll(() => r.close());

async function user(login?: string) {
  const c = await connectedTcp(r.tcpPort, login ? { login } : {});
  return c;
}

test('app handler: resolve → RECEIPT, reply on /user/queue/...', async () => {
  const c = await user('ann');
  c.send(frame('SUBSCRIBE', { id: 'b', destination: '/user/queue/busk.42' }));
  c.send(frame('SEND', { destination: '/app/busk.42.offer', receipt: 'offer-1', 'content-type': 'application/json' }, JSON.stringify({ sdpOffer: 'o' })));
  const m = await c.next('MESSAGE');
  expect(m.headers.destination).toBe('/user/queue/busk.42');
  expect(m.headers['content-type']).toBe('application/json');
  expect(JSON.parse(m.body.toString())).toEqual({ type: 'answer', sdpAnswer: 'answer-to-o' });
  expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('offer-1');
  c.close();
});

test('app handler errors go to /user/queue/errors with the receipt id, and no RECEIPT', async () => {
  const c = await user('bob');
  c.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors', receipt: 'sub' }));
  await c.next('RECEIPT');
  const cases: Array<[string, string, object]> = [
    ['/app/fail.conflict', 'r1', { code: 'conflict', message: 'already live' }],
    ['/app/fail.async', 'r2', { code: 'rate-limited', message: 'slow down' }],
    ['/app/fail.bug', 'r3', { code: 'unavailable', message: 'internal error' }],
    ['/app/busk.1.offer', 'r4', { code: 'bad-request' }],
    ['/app/no.such.thing', 'r5', { code: 'not-found' }],
  ];
  for (const [dest, receipt, expected] of cases) {
    c.send(frame('SEND', { destination: dest, receipt }, dest === '/app/busk.1.offer' ? '{not json' : '{}'));
    const m = await c.next('MESSAGE');
    expect(JSON.parse(m.body.toString())).toMatchObject({ ...expected, destination: dest, receipt });
  }
  await barrier(c);
  expect(c.frames.filter((f) => f.command === 'RECEIPT')).toHaveLength(2); // the SUBSCRIBE's and the barrier's
  expect(r.broker.session(c.frames[0].headers.session)).toBeDefined(); // still connected
  c.close();
});

test('sendToSession reaches only that session; sendToUser every session of the user', async () => {
  const a1 = await user('carol');
  const a2 = await user('carol');
  const other = await user('dave');
  for (const c of [a1, a2, other]) c.send(frame('SUBSCRIBE', { id: 'n', destination: '/user/queue/notes', receipt: 's' }));
  for (const c of [a1, a2, other]) await c.next('RECEIPT');
  const s1 = a1.frames[0].headers.session;
  r.broker.sendToSession(s1, '/queue/notes', 'just you');
  r.broker.sendToUser('carol', '/queue/notes', 'all of carol');
  r.broker.sendToUser('dave', '/user/queue/notes', 'dave (prefixed form)');
  expect((await a1.next('MESSAGE')).body.toString()).toBe('just you');
  expect((await a1.next('MESSAGE')).body.toString()).toBe('all of carol');
  expect((await a2.next('MESSAGE')).body.toString()).toBe('all of carol');
  expect((await other.next('MESSAGE')).body.toString()).toBe('dave (prefixed form)');
  await barrier(a2);
  await barrier(other);
  expect(a2.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(1);
  expect(other.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(1);
  for (const c of [a1, a2, other]) c.close();
});

test('setPrincipal moves a session to another user', async () => {
  const c = await user();
  c.send(frame('SUBSCRIBE', { id: 'n', destination: '/user/queue/me', receipt: 's' }));
  await c.next('RECEIPT');
  const id = c.frames[0].headers.session;
  const s = r.broker.session(id)!;
  expect(s.principal).toBeNull();
  s.setPrincipal({ id: 'erin', name: 'Erin', roles: [], anonymous: false });
  r.broker.sendToUser('erin', '/queue/me', 'hello erin');
  expect((await c.next('MESSAGE')).body.toString()).toBe('hello erin');
  c.send(frame('SEND', { destination: '/app/whoami' }, '{}'));
  expect(JSON.parse((await c.next('MESSAGE')).body.toString())).toEqual({ id: 'erin', transport: 'tcp' });
  c.close();
});

test('default permissions: SEND only to /app; SUBSCRIBE to /topic, /queue, /user', () => {
  const p = defaultPermissions;
  expect(p(null, 'send', '/app/x')).toBe(true);
  expect(p(null, 'send', '/topic/x')).toBe(false);
  expect(p(null, 'send', '/queue/x')).toBe(false);
  expect(p(null, 'subscribe', '/topic/x')).toBe(true);
  expect(p(null, 'subscribe', '/user/queue/x')).toBe(true);
  expect(p(null, 'subscribe', '/app/x')).toBe(false);
  expect(p(null, 'subscribe', '/topic/../x')).toBe(false);
});

test('permission rules: roles, authenticated, first match wins, wildcards', () => {
  const p = permissionRules([
    { pattern: '/topic/ops.**', allow: ['subscribe'], roles: ['ops'] },
    { pattern: '/topic/ops.**', allow: [] },
    { pattern: '/topic/busk.*.chat', allow: ['subscribe'], authenticated: true },
    { pattern: '/topic/**', allow: ['subscribe'] },
  ]);
  const ops = { id: 'o', name: 'o', roles: ['ops'], anonymous: false };
  const anon = { id: 'a', name: 'a', roles: [], anonymous: true };
  expect(p(ops, 'subscribe', '/topic/ops.turn')).toBe(true);
  expect(p(anon, 'subscribe', '/topic/ops.turn')).toBe(false);
  expect(p(anon, 'subscribe', '/topic/busk.1.chat')).toBe(true); // falls through to /topic/**
  expect(p(anon, 'send', '/topic/busk.1.chat')).toBe(false);
  expect(p(ops, 'subscribe', '/topic/busk.1.x.chat')).toBe(true);
});

test('refused SEND (default: ERROR and close)', async () => {
  const c = await user('frank');
  c.send(frame('SEND', { destination: '/topic/x' }, 'nope'));
  const e = await c.next('ERROR');
  expect(e.headers.message).toBe('forbidden');
  await c.closed();
});

test("onDenied 'errors-queue': refusal reported on /user/queue/errors, session stays", async () => {
  const q = await startBroker({ onDenied: 'errors-queue', permissions: permissionRules([{ pattern: '/user/**', allow: ['subscribe'] }]) });
  try {
    const c = await connectedTcp(q.tcpPort);
    c.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors' }));
    c.send(frame('SUBSCRIBE', { id: 'x', destination: '/topic/secret', receipt: 'rs' }));
    const m = await c.next('MESSAGE');
    expect(JSON.parse(m.body.toString())).toEqual({ code: 'forbidden', message: 'not allowed to subscribe to /topic/secret', destination: '/topic/secret', receipt: 'rs' });
    expect(q.broker.stats().subscriptions).toBe(1);
    c.close();
  } finally {
    await q.close();
  }
});

test('events: session-open, subscribe, unsubscribe, session-close with reason', async () => {
  events.length = 0;
  const c = await user('gina');
  c.send(frame('SUBSCRIBE', { id: 's1', destination: '/topic/ev' }));
  c.send(frame('UNSUBSCRIBE', { id: 's1' }));
  c.send(frame('SUBSCRIBE', { id: 's2', destination: '/topic/ev2' }));
  c.send(frame('DISCONNECT', { receipt: 'd' }));
  await c.next('RECEIPT');
  await waitFor(() => events.includes('close:gina:disconnect'));
  expect(events).toEqual(['open:gina', 'sub:s1:/topic/ev', 'unsub:s1:/topic/ev', 'sub:s2:/topic/ev2', 'unsub:s2:/topic/ev2', 'close:gina:disconnect']);
});

test('stats count sessions, subscriptions, messages in/out, errors', async () => {
  const before = r.broker.stats();
  const c = await user('hal');
  c.send(frame('SUBSCRIBE', { id: 'n', destination: '/user/queue/echo' }));
  c.send(frame('SEND', { destination: '/app/echo' }, 'ping'));
  await c.next('MESSAGE');
  const mid = r.broker.stats();
  expect(mid.sessions).toBe(before.sessions + 1);
  expect(mid.subscriptions).toBe(before.subscriptions + 1);
  expect(mid.messagesIn).toBeGreaterThan(before.messagesIn);
  expect(mid.messagesOut).toBeGreaterThan(before.messagesOut);
  expect(mid.byTransport.tcp).toBeGreaterThanOrEqual(1);
  c.send('BOGUS\n\n\0');
  await c.closed();
  await waitFor(() => r.broker.stats().errors > before.errors && r.broker.stats().sessions === before.sessions);
});

test('a session over WebSocket shows transport ws', async () => {
  const c = await rawWs(r.wsUrl);
  c.send(frame('CONNECT', { 'accept-version': '1.2', login: 'ivy' }));
  const f = await c.next('CONNECTED');
  const s = r.broker.session(f.headers.session) as SessionInfo;
  expect(s.transport).toBe('ws');
  expect(s.version).toBe('1.2');
  expect(s.connectedAt).toBeGreaterThan(0);
  c.close();
});
