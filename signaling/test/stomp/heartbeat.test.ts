// Heart-beats as the client asks (STOMP 1.2 "Heart-beating"), on a fake broker clock: the broker
// follows the client's period down to a floor, beats at the negotiated rate and closes a session
// whose beats stop. Sockets are real; only the broker's time is moved by hand (no sleeps).
import { startBroker, Running, rawTcp, frame, RawClient, waitFor, barrier } from './helpers';
import { FakeClock } from './fake-clock';
import { negotiateHeartbeat } from '../../src/stomp/heartbeat';
import { DEFAULT_HEARTBEAT } from '../../src/stomp';

describe('negotiation', () => {
  const policy = { sendMs: 10000, receiveMs: 10000, minMs: 500 };

  it('follows the client down: 1000,1000 → beats every 1000 ms both ways, CONNECTED offers 1000,1000', () => {
    expect(negotiateHeartbeat([1000, 1000], policy)).toEqual({ outgoingMs: 1000, incomingMs: 1000, offer: [1000, 1000] });
  });

  it('not below the floor: 100,100 → 500 both ways', () => {
    expect(negotiateHeartbeat([100, 100], policy)).toEqual({ outgoingMs: 500, incomingMs: 500, offer: [500, 500] });
  });

  it('the default when the client asks for none or more: 0,0 → none (offer 10000,10000); 60000,60000 → 60000', () => {
    expect(negotiateHeartbeat([0, 0], policy)).toEqual({ outgoingMs: 0, incomingMs: 0, offer: [10000, 10000] });
    expect(negotiateHeartbeat([60000, 60000], policy)).toEqual({ outgoingMs: 60000, incomingMs: 60000, offer: [10000, 10000] });
  });

  it('each direction on its own: 0,1000 → server beats every 1000 ms and watches nothing', () => {
    expect(negotiateHeartbeat([0, 1000], policy)).toEqual({ outgoingMs: 1000, incomingMs: 0, offer: [1000, 10000] });
  });

  it('a broker that never beats (0) offers 0 whatever the client asks', () => {
    expect(negotiateHeartbeat([1000, 1000], { sendMs: 0, receiveMs: 0, minMs: 500 })).toEqual({ outgoingMs: 0, incomingMs: 0, offer: [0, 0] });
  });

  it('the default floor is 500 ms', () => {
    expect(DEFAULT_HEARTBEAT.minMs).toBe(500);
  });
});

describe('on the wire (fake clock)', () => {
  let r: Running;
  let clock: FakeClock;
  beforeEach(async () => {
    clock = new FakeClock();
    r = await startBroker({ clock, heartbeat: 10000 });
  });
  afterEach(() => r.close());

  async function connect(heartBeat: string | undefined, version = '1.2'): Promise<{ c: RawClient; offer: string | undefined }> {
    const c = await rawTcp(r.tcpPort);
    const h: Record<string, string> = { 'accept-version': version, host: 'x' };
    if (heartBeat !== undefined) h['heart-beat'] = heartBeat;
    c.send(frame('CONNECT', h));
    const f = await c.next('CONNECTED');
    return { c, offer: f.headers['heart-beat'] };
  }

  /** Sends a heart-beat and waits until the broker has read it (fake time does not move meanwhile). */
  async function beat(c: RawClient, eol = '\n'): Promise<void> {
    const before = r.broker.stats().bytesIn;
    c.send(eol);
    await waitFor(() => r.broker.stats().bytesIn > before, 5000, 'beat read by the broker');
  }

  /** The client beats every `everyMs` for `totalMs` of fake time; returns the broker's beats it got. */
  async function beatsWhileBeating(c: RawClient, totalMs: number, everyMs: number): Promise<number> {
    for (let t = 0; t < totalMs; t += everyMs) {
      await beat(c);
      await clock.advanceAsync(everyMs, 125);
    }
    await barrier(c);
    return c.heartbeats();
  }

  // 10 periods of fake time with the client beating twice a period: one broker beat per period,
  // give or take the sweep's early beat (10 to 14), never the default's one per 10 s.
  it.each([
    ['at the rate the client asked', '1000,1000', '1000,1000', 1000],
    ['not below the floor', '100,100', '500,500', 500],
  ])('beats %s (asked %s → CONNECTED offers %s); the client beating keeps the session', async (_what, asked, offered, periodMs) => {
    const { c, offer } = await connect(asked);
    expect(offer).toBe(offered);
    const beats = await beatsWhileBeating(c, 10 * periodMs, periodMs / 2);
    expect(beats).toBeGreaterThanOrEqual(10);
    expect(beats).toBeLessThanOrEqual(14);
    expect(c.isClosed()).toBe(false);
    c.close();
  });

  it('a client whose beats stop is disconnected within 3 s of silence (1000 ms × grace 2, plus one sweep)', async () => {
    const { c } = await connect('1000,1000');
    await clock.advanceAsync(1900, 100);
    await barrier(c); // traffic: the silence restarts here
    await clock.advanceAsync(1900, 100);
    expect(c.isClosed()).toBe(false);
    await clock.advanceAsync(1100, 100);
    const e = await c.next('ERROR');
    expect(e.headers.message).toBe('heart-beat timeout');
    await c.closed();
  });

  it('"A missing heart-beat header MUST be treated the same way as a heart-beat:0,0 header": no beats, no heart-beat timeout', async () => {
    const a = await connect(undefined);
    const b = await connect('0,0');
    await clock.advanceAsync(60000, 1000);
    await barrier(a.c);
    await barrier(b.c);
    expect(a.c.heartbeats()).toBe(0);
    expect(b.c.heartbeats()).toBe(0);
    expect(a.c.isClosed() || b.c.isClosed()).toBe(false);
    a.c.close();
    b.c.close();
  });

  it('"heart-beats every MAX(<sx>,<cy>) milliseconds": asked 0,2000 → beats every 2000 ms, client unwatched', async () => {
    const { c, offer } = await connect('0,2000');
    expect(offer).toBe('2000,10000');
    await clock.advanceAsync(10000, 250);
    await barrier(c);
    expect(c.heartbeats()).toBeGreaterThanOrEqual(5);
    expect(c.heartbeats()).toBeLessThanOrEqual(7);
    expect(c.isClosed()).toBe(false);
    c.close();
  });

  it('"if the sender has no real STOMP frame to send, it MUST send a single newline": EOL and CRLF beats keep the session', async () => {
    const { c } = await connect('1000,0');
    for (let i = 0; i < 10; i++) {
      await beat(c, i % 2 ? '\r\n' : '\n');
      await clock.advanceAsync(900, 300);
    }
    c.send(frame('DISCONNECT', { receipt: 'alive' }));
    expect((await c.next('RECEIPT')).headers['receipt-id']).toBe('alive');
  });

  it('STOMP 1.0 has no heart-beats: no header in CONNECTED, no beats', async () => {
    const { c, offer } = await connect('1000,1000', '1.0');
    expect(offer).toBeUndefined();
    await clock.advanceAsync(5000, 500);
    c.send(frame('DISCONNECT', { receipt: 'r' }));
    await c.next('RECEIPT');
    expect(c.heartbeats()).toBe(0);
  });
});
