// Processes SIGKILLed mid-show, at the test suite's size (`npm run chaos` runs the same with 20 viewers
// and reports figures, bench/chaos.ts): the media engine in its own process, and one of two nodes.
import { startMediaServer, type MediaServer } from '../../../kurento/src';
import { startRedis, type RedisServer } from '../../../test-support/processes';
import { spawnEngine, spawnService, type ChildService } from '../../../test-support/service-process';
import { waitFor } from '../../../test-support/ports';
import { StompTestClient } from '../support/stomp-client';
import { startTestService, devToken, connect, TEST_SECRET } from '../support/service';
import { PeerHost } from '../support/peers';
import { Leg, startReofferingBusk } from '../support/legs';
import { createClient } from 'redis';

jest.setTimeout(180000);

let host: PeerHost;
const children: ChildService[] = [];
/** Legs and clients of the test under way: closed after it however it ended (an open one keeps Jest from exiting). */
let open: { close(): Promise<unknown> }[] = [];
beforeAll(async () => { host = await PeerHost.start(); });
afterEach(async () => {
  for (const o of open.reverse()) await o.close().catch(() => undefined);
  open = [];
});
afterAll(async () => {
  host?.stop();
  for (const c of children) await c.kill();
});

test('the engine SIGKILLed under a busk: back on its port, every viewer reoffers and decodes again; nothing left after', async () => {
  const engine = await spawnEngine();
  children.push(engine);
  const svc = await startTestService({ KMS_URLS: engine.url });
  let engine2: ChildService | null = null;
  try {
    const busker = await connect(svc, await devToken(svc, 'Kai', ['busker']));
    open.push(busker);
    const { buskId, presenter } = await startReofferingBusk(host, busker, { title: 'Killed engine' });
    open.push(presenter);
    const fans: StompTestClient[] = [];
    const viewers: Leg[] = [];
    for (let i = 0; i < 3; i++) {
      fans.push(await connect(svc));
      open.push(fans[i]!);
      viewers.push(await Leg.join(host, fans[i]!, buskId, 'viewer'));
      open.push(viewers[i]!);
    }
    await waitFor(async () => (await Promise.all(viewers.map((v) => v.frames()))).every((n) => n >= 5), 30000, 'every viewer decoding');
    await engine.kill();
    engine2 = await spawnEngine(engine.port);
    children.push(engine2);
    await waitFor(async () => viewers.every((v) => v.reoffers >= 1) && (await Promise.all(viewers.map((v) => v.frames()))).every((n) => n >= 5), 90000, 'every viewer decoding again')
      .catch(async (e: Error) => {
        // Say where it stopped: which leg had not reoffered or had no frames.
        const legs = await Promise.all([presenter, ...viewers].map(async (l) => `${l.kind} reoffers ${l.reoffers} fresh connections ${l.connectRetries} frames ${await l.frames().catch(() => -1)}`));
        throw new Error(`${e.message}: ${legs.join('; ')}`);
      });
    expect(presenter.reoffers).toBe(1);
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    for (const v of [...viewers, presenter]) await v.close();
    for (const f of [...fans, busker]) await f.close();
    await waitFor(async () => (await svc.media.servers[0]!.serverPipelineIds()).length === 0, 10000, 'no pipeline left on the engine');
  } finally {
    await svc.close();
    await engine2?.stop();
  }
});

test('a node SIGKILLed: the survivor ends its busk for its viewers (node-lost), and nothing of it is left in Redis or on the engine', async () => {
  const redis: RedisServer = await startRedis();
  const engine: MediaServer = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
  const env = { REDIS_URL: redis.url, KMS_URLS: engine.url, NODE_PRESENCE_TTL_MS: '1500' };
  const survivor = await startTestService({ ...env, NODE_ID: 'survivor' });
  const doomed = await spawnService({ ...env, NODE_ID: 'doomed', JWT_SECRET: TEST_SECRET, DEV_TOKENS: 'true', STOMP_HEARTBEAT_MS: '0' });
  children.push(doomed);
  try {
    const res = await fetch(`${doomed.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Dee', roles: ['busker'] }) });
    const busker = await StompTestClient.connect(doomed.stompUrl, { token: ((await res.json()) as { token: string }).token });
    const { buskId, presenter } = await startReofferingBusk(host, busker, { title: 'On the doomed node', location: { lat: 40.4, lng: -3.7 } });
    open.push(presenter);
    const fan = await connect(survivor);
    open.push(fan);
    const topic = await fan.subscribeSync(`/topic/busk.${buskId}`);
    const viewer = await Leg.join(host, fan, buskId, 'viewer');
    open.push(viewer);
    await waitFor(async () => (await viewer.frames()) >= 5, 30000, 'the survivor\'s viewer decoding');
    await doomed.kill();
    expect((await topic.type('ended', 20000)).reason).toBe('node-lost');
    busker.drop();
    await viewer.close(); await presenter.close(); await fan.close();
    const c = createClient({ url: redis.url });
    await c.connect();
    const keys = (await c.keys('busking:*')).filter((k) => !/:(node|claim|ended):/.test(k));
    await c.quit();
    expect(keys).toEqual([]);
    await waitFor(() => engine.stats.pipelines === 0, 10000, 'the doomed node\'s pipeline released by the survivor');
  } finally {
    await survivor.close();
    await engine.close();
    await redis.stop();
  }
});
