import { startBroker, connectedTcp, frame, Running } from './helpers';
import { openPermissions } from '../../src/stomp';

let r: Running;
beforeAll(async () => {
  r = await startBroker({ permissions: openPermissions });
});
afterAll(() => r.close());

test('raw tcp subscribe and send', async () => {
  const a = await connectedTcp(r.tcpPort);
  a.send(frame('SUBSCRIBE', { id: 's1', destination: '/topic/a', receipt: 'r1' }));
  await a.next('RECEIPT');
  a.send(frame('SEND', { destination: '/topic/a', 'content-type': 'text/plain' }, 'hello'));
  const m = await a.next('MESSAGE');
  expect(m.body.toString()).toBe('hello');
  expect(m.headers.subscription).toBe('s1');
  a.close();
});
