// Issue 17 item 7: rules were checked only at SUBSCRIBE, so after auth.refresh to a token without
// role ops, /topic/ops.turn kept flowing. Now a principal change (SessionInfo.setPrincipal) re-checks
// the session's subscriptions: what is no longer allowed ends, and the client is told on
// /user/queue/errors (code forbidden, the subscription's destination); the session stays.
import { startBroker, Running, connectedTcp, frame, barrier, RawClient } from '../stomp/helpers';
import { permissionRules, Principal } from '../../src/stomp';

let r: Running;
const principal = (id: string, roles: string[]): Principal => ({ id, name: id, roles, anonymous: false });

beforeAll(async () => {
  r = await startBroker({
    // The service's default rules: /topic/ops.** needs role ops.
    permissions: permissionRules([
      { pattern: '/topic/ops.**', allow: ['subscribe'], roles: ['ops'] },
      { pattern: '/topic/ops.**', allow: [] },
      { pattern: '/app/**', allow: ['send'] },
      { pattern: '/topic/**', allow: ['subscribe'] },
      { pattern: '/user/**', allow: ['subscribe'] },
    ]),
    onDenied: 'errors-queue',
    authenticator: (h) => principal(h.login ?? 'guest', h.roles ? h.roles.split(',') : []),
  });
  // What auth.refresh does with a verified token: the session's principal changes.
  r.broker.app('/app/refresh', (req) => req.session.setPrincipal(principal(req.session.principal!.id, req.json<{ roles: string[] }>().roles)));
});
afterAll(() => r.close());

async function subscribe(c: RawClient, id: string, destination: string): Promise<void> {
  c.send(frame('SUBSCRIBE', { id, destination, receipt: `s-${id}` }));
  await c.next('RECEIPT');
}

test('losing role ops ends the ops subscription with a forbidden notice; the rest keeps flowing', async () => {
  const c = await connectedTcp(r.tcpPort, { login: 'olga', roles: 'ops' });
  await subscribe(c, 'errors', '/user/queue/errors');
  await subscribe(c, 'turn', '/topic/ops.turn');
  await subscribe(c, 'busks', '/topic/busks');
  r.broker.publish('/topic/ops.turn', 'before');
  expect((await c.next('MESSAGE')).body.toString()).toBe('before');

  c.send(frame('SEND', { destination: '/app/refresh', receipt: 'refreshed', 'content-type': 'application/json' }, '{"roles":[]}'));
  const notice = await c.next('MESSAGE');
  expect(notice.headers.destination).toBe('/user/queue/errors');
  expect(JSON.parse(notice.body.toString())).toMatchObject({ code: 'forbidden', destination: '/topic/ops.turn' });
  await c.next('RECEIPT');
  expect(r.broker.subscriberCount('/topic/ops.turn')).toBe(0);

  r.broker.publish('/topic/ops.turn', 'after');
  r.broker.publish('/topic/busks', 'still');
  const next = await c.next('MESSAGE');
  expect(next.headers.destination).toBe('/topic/busks');
  expect(next.body.toString()).toBe('still');
  await barrier(c);
  expect(c.frames.filter((f) => f.command === 'MESSAGE' && f.body.toString() === 'after')).toHaveLength(0);
  expect(c.frames.some((f) => f.command === 'ERROR')).toBe(false);
  c.close();
});

test('a refresh that keeps the role keeps the subscription (nothing is sent)', async () => {
  const c = await connectedTcp(r.tcpPort, { login: 'oleg', roles: 'ops' });
  await subscribe(c, 'errors', '/user/queue/errors');
  await subscribe(c, 'turn', '/topic/ops.turn');
  c.send(frame('SEND', { destination: '/app/refresh', receipt: 'refreshed', 'content-type': 'application/json' }, '{"roles":["ops"]}'));
  await c.next('RECEIPT');
  expect(c.frames.filter((f) => f.command === 'MESSAGE')).toHaveLength(0);
  r.broker.publish('/topic/ops.turn', 'still yours');
  expect((await c.next('MESSAGE')).body.toString()).toBe('still yours');
  c.close();
});
