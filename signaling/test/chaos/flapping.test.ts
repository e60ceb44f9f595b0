// A flapping presenter at the test suite's size (chaos scenario 5 of issue 15; bench/lib/chaos-flapping.ts
// runs it for minutes and reports figures): the presenter reaches the engine (its own process) only
// through UDP relays that lose every packet for 2 s every 8 s (test-support/udp-proxy.ts), three
// times, while two viewers watch directly. Its STOMP connection stays up: this is media loss alone.
import { spawnEngine, type ChildService } from '../../../test-support/service-process';
import { startRedis, type RedisServer } from '../../../test-support/processes';
import { UdpLink } from '../../../test-support/udp-proxy';
import { FreezeMeter, decodedFrames } from '../../../test-support/frozen-frames';
import { waitFor } from '../../../test-support/ports';
import { StompTestClient } from '../support/stomp-client';
import { startTestService, devToken, connect } from '../support/service';
import { PeerHost } from '../support/peers';
import { Leg, startReofferingBusk } from '../support/legs';
import { createClient } from 'redis';

jest.setTimeout(90000);

const DROPS = 3;
const DROP_MS = 2000;
/**
 * A drop every 8 s: long enough for the worst recovery below to end before the next drop (with 6 s,
 * the keyframe a viewer waits for is asked for during the next drop and lost with it).
 */
const PERIOD_MS = 8000;
/** The first decoded frame after the heal: the media path is back at once (no reoffer, no ICE restart). */
const FIRST_FRAME_MAX_MS = 3000;
/**
 * The most a drop may freeze a viewer: the drop, plus the engine's keyframe request when the
 * presenter's video resumes and its round trip, with a margin for a loaded machine. Without that
 * request (kurento/src/media/peer.ts) what came back after the heal could not all be decoded about
 * half the time, and viewers (libwebrtc) asked for a keyframe only after 3 s: 4.9-5.0 s frozen.
 */
const FROZEN_MAX_MS = DROP_MS + 1500;
/** From the heal until the picture moves for good (measured: 0.2 s; 3.3 s without the keyframe request). */
const PLAYING_AGAIN_MAX_MS = 1500;

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

let host: PeerHost;
let redis: RedisServer;
let engine: ChildService & { url: string };
beforeAll(async () => {
  [host, redis, engine] = await Promise.all([PeerHost.start(), startRedis(), spawnEngine()]);
});
afterAll(async () => {
  host?.stop();
  await engine?.stop();
  await redis?.stop();
});

test('a presenter losing every packet for 2 s every 8 s: the busk stays live, every viewer plays again after each drop, nothing left after', async () => {
  const svc = await startTestService({ KMS_URLS: engine.url, REDIS_URL: redis.url });
  const link = new UdpLink();
  const legs: Leg[] = [];
  const clients: StompTestClient[] = [];
  let meter: FreezeMeter | null = null;
  try {
    const busker = await connect(svc, await devToken(svc, 'Flo', ['busker']));
    clients.push(busker);
    const { buskId, presenter } = await startReofferingBusk(host, busker, { title: 'Through the tunnels' }, link);
    legs.push(presenter);
    const watcher = await connect(svc);
    clients.push(watcher);
    const topic = await watcher.subscribeSync(`/topic/busk.${buskId}`);
    const viewers: Leg[] = [];
    for (let i = 0; i < 2; i++) {
      const fan = await connect(svc);
      clients.push(fan);
      viewers.push(await Leg.join(host, fan, buskId, 'viewer'));
    }
    legs.push(...viewers);
    await waitFor(async () => (await Promise.all(viewers.map((v) => v.frames()))).every((n) => n >= 5), 30000, 'every viewer decoding');
    expect(link.size).toBeGreaterThan(0);
    expect((await link.counts()).forwarded).toBeGreaterThan(0);

    meter = new FreezeMeter(viewers.map((v) => decodedFrames(v)));
    meter.start();
    const m = meter;
    const drops: { dropAt: number; healAt: number }[] = [];
    const start = Date.now();
    for (let d = 0; d < DROPS; d++) {
      const dropAt = start + d * PERIOD_MS;
      await sleepUntil(dropAt);
      await link.drop();
      await sleepUntil(dropAt + DROP_MS);
      await link.heal();
      const healAt = Date.now();
      drops.push({ dropAt, healAt });
      await waitFor(() => viewers.every((_, i) => m.advancedAfter(i, healAt) !== null), FIRST_FRAME_MAX_MS, `every viewer decoding after drop ${d + 1}`)
        .catch(async (e: Error) => {
          const legState = await Promise.all(viewers.map(async (v) => `reoffers ${v.reoffers} frames ${await v.frames().catch(() => -1)}`));
          throw new Error(`${e.message}: ${legState.join('; ')}`);
        });
      const listed = (await (await fetch(`${svc.url}/api/busks`)).json()) as { id: string }[];
      expect(listed.map((b) => b.id)).toContain(buskId);
    }
    const end = start + DROPS * PERIOD_MS;
    await sleepUntil(end);
    await meter.stop();

    // Per viewer and drop, from the drop to the next one: frozen for most of the drop at least (the
    // picture came through the relays only), and no longer than the bound; playing for good in time.
    const outOfBounds: string[] = [];
    drops.forEach((w, d) => {
      const until = Math.min(w.dropAt + PERIOD_MS, end);
      viewers.forEach((_, i) => {
        const frozen = Math.round(m.frozenMs(i, w.dropAt, until));
        const playing = m.playingAgainAfter(i, w.healAt, until);
        if (frozen < DROP_MS - 500 || frozen >= FROZEN_MAX_MS) outOfBounds.push(`drop ${d + 1} viewer ${i}: frozen ${frozen} ms`);
        if (playing === null || playing >= PLAYING_AGAIN_MAX_MS) outOfBounds.push(`drop ${d + 1} viewer ${i}: playing again ${playing} ms after the heal`);
      });
    });
    expect(outOfBounds).toEqual([]);
    // A 2 s loss is not a lost connection: no reoffer, no end; the media state comes back to flowing.
    expect(topic.ofType('ended')).toEqual([]);
    expect([presenter, ...viewers].map((l) => l.reoffers)).toEqual([0, 0, 0]);
    expect(topic.ofType('media').at(-1)?.body.state).toBe('flowing');

    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    for (const l of legs) await l.close();
    for (const c of clients) await c.close();
    await waitFor(async () => (await svc.media.servers[0]!.serverPipelineIds()).length === 0, 10000, 'no pipeline left on the engine');
    const c = createClient({ url: redis.url });
    await c.connect();
    try {
      await waitFor(async () => (await c.keys('busking:*')).filter((k) => !/:(node|claim|ended):/.test(k)).length === 0, 10000, 'no busk state left in Redis')
        .catch(async (e: Error) => { throw new Error(`${e.message}: ${(await c.keys('busking:*')).join(', ')}`); });
    } finally {
      await c.quit();
    }
    await waitFor(() => svc.busks.stats().busks + svc.busks.stats().viewers === 0, 5000, 'the node holding no busk or viewer');
    expect(svc.busks.stats()).toMatchObject({ busks: 0, viewers: 0, pipelines: 0, endpoints: 0, heldCandidates: 0 });
  } finally {
    await meter?.stop();
    for (const l of legs) await l.close();
    for (const c of clients) await c.close().catch(() => undefined);
    await link.close();
    await svc.close();
  }
});
