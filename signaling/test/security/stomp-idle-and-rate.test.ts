// Issue 17 item 8 (broker part): sessions that negotiated heart-beat 0,0 never timed out, and the
// broker slowed a fast client down without telling it. Now a session without heart-beats is closed
// after limits.idleTimeoutMs of silence (STOMP_IDLE_TIMEOUT_MS), and the rate limit is reported on
// /user/queue/errors as `rate-limited` (once per backlog). Fake broker clock: no sleeps.
import { startBroker, Running, connectedTcp, frame, barrier, waitFor, RawClient } from '../stomp/helpers';
import { FakeClock } from '../stomp/fake-clock';
import { DEFAULT_LIMITS, openPermissions } from '../../src/stomp';

describe('idle timeout without heart-beats', () => {
  let r: Running;
  let clock: FakeClock;
  const reasons: string[] = [];
  beforeAll(async () => {
    clock = new FakeClock();
    r = await startBroker({ clock, heartbeat: 10000 });
    r.broker.on('session-close', (_s, why) => reasons.push(why));
  });
  afterAll(() => r.close());

  test('the default is 10 minutes', () => {
    expect(DEFAULT_LIMITS.idleTimeoutMs).toBe(10 * 60 * 1000);
  });

  test('a 0,0 session silent past the idle timeout gets ERROR "idle timeout" and is closed', async () => {
    const c = await connectedTcp(r.tcpPort, { 'heart-beat': '0,0' });
    await clock.advanceAsync(9 * 60 * 1000, 30000);
    await barrier(c); // traffic: the silence restarts here
    await clock.advanceAsync(9 * 60 * 1000, 30000);
    expect(c.isClosed()).toBe(false);
    await clock.advanceAsync(2 * 60 * 1000, 30000);
    const e = await c.next('ERROR');
    expect(e.headers.message).toBe('idle timeout');
    await c.closed();
    await waitFor(() => reasons.includes('idle-timeout'));
  });

  test('a session that heart-beats is watched by its heart-beats, not the idle timeout', async () => {
    // The client beats every minute (the broker follows it up: it asked for more than the default).
    const c = await connectedTcp(r.tcpPort, { 'heart-beat': '60000,0' });
    for (let t = 0; t < 15 * 60 * 1000; t += 60000) {
      const before = r.broker.stats().bytesIn;
      c.send('\n');
      await waitFor(() => r.broker.stats().bytesIn > before);
      await clock.advanceAsync(60000, 10000);
    }
    await barrier(c);
    expect(c.isClosed()).toBe(false);
    c.close();
  });
});

describe('rate limit reported on /user/queue/errors', () => {
  let r: Running;
  let clock: FakeClock;
  beforeAll(async () => {
    clock = new FakeClock();
    r = await startBroker({ clock, permissions: openPermissions, heartbeat: 0, limits: { rateLimit: { count: 5, windowMs: 1000 } } });
  });
  afterAll(() => r.close());

  const notices = (c: RawClient) => c.frames.filter((f) => f.command === 'MESSAGE' && f.headers.destination === '/user/queue/errors');

  test('a client over the rate gets one `rate-limited` notice; its frames are still all processed', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors', receipt: 'sub' }));
    await c.next('RECEIPT');
    clock.advance(1000); // a fresh window: 5 frames per second from here
    let burst = '';
    for (let i = 0; i < 20; i++) burst += frame('SEND', { destination: '/topic/rl', receipt: `m${i}` }, `${i}`);
    c.send(burst);
    const n = await c.next('MESSAGE');
    expect(n.headers.destination).toBe('/user/queue/errors');
    expect(JSON.parse(n.body.toString())).toMatchObject({ code: 'rate-limited' });
    // Four more windows process the other 15 frames.
    for (let w = 0; w < 4; w++) await clock.advanceAsync(1000, 250);
    await waitFor(() => c.frames.filter((f) => f.command === 'RECEIPT' && f.headers['receipt-id']?.startsWith('m')).length === 20);
    clock.advance(1000); // a fresh window for the barrier frame itself
    await barrier(c);
    expect(notices(c)).toHaveLength(1);
    expect(c.isClosed()).toBe(false);
    c.close();
  });

  test('a client within the rate gets no notice', async () => {
    const c = await connectedTcp(r.tcpPort);
    c.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors', receipt: 'sub' }));
    await c.next('RECEIPT');
    clock.advance(1000);
    let burst = '';
    for (let i = 0; i < 3; i++) burst += frame('SEND', { destination: '/topic/rl', receipt: `m${i}` }, `${i}`);
    c.send(burst);
    for (let i = 0; i < 3; i++) await c.next('RECEIPT');
    clock.advance(1000);
    await barrier(c);
    expect(notices(c)).toHaveLength(0);
    c.close();
  });
});
