// Two signaling nodes on one real Redis and one media engine: a viewer on node B watches a presenter
// on node A; chat, counts and the map cross nodes; a node that dies takes only its own busks down.
import type { MediaServer } from '../../kurento/src';
import type { RedisServer } from '../../test-support/processes';
import { waitFor } from '../../test-support/ports';
import { startTestService, devToken, connect } from './support/service';
import { startBusk, watchBusk, PeerHost } from './support/peers';
import { startTwoNodes, TwoNodes } from './support/two-nodes';
import type { Service } from '../src/service';

jest.setTimeout(180000);

describe('two nodes, one Redis', () => {
  let nodes: TwoNodes;
  let redis: RedisServer;
  let engine: MediaServer;
  let a: Service;
  let b: Service;
  let host: PeerHost;
  beforeAll(async () => {
    nodes = await startTwoNodes({ prefix: 'mn:', ids: ['node-a', 'node-b'], presenceTtlMs: 1500 });
    ({ redis, engine, a, b, host } = nodes);
  });
  afterAll(() => nodes.close());

  it('viewer on B watches presenter on A; chat, counts and ended cross nodes', async () => {
    const busker = await connect(a, await devToken(a, 'Ann', ['busker']));
    const mapB = await (await connect(b)).subscribeSync('/topic/busks');
    const { buskId, presenter } = await startBusk(host, busker, { title: 'Cross', hashtags: ['x'], location: { lat: 48.85, lng: 2.35 } });
    await mapB.type('live', 10000, (m) => m.busk.id === buskId);
    const listB = (await (await fetch(`${b.url}/api/busks?near=48.85,2.35&radius=1000`)).json()) as { id: string }[];
    expect(listB.map((x) => x.id)).toEqual([buskId]);
    const fan = await connect(b);
    const topic = await fan.subscribeSync(`/topic/busk.${buskId}`);
    const chat = await fan.subscribeSync(`/topic/busk.${buskId}.chat`);
    const { viewer } = await watchBusk(host, fan, buskId);
    await viewer.waitFrames(10);
    await topic.type('viewers', 10000, (m) => m.count === 1);
    expect(await busker.request(`/app/busk.${buskId}.chat`, { text: 'hello from A' })).toBe('ok');
    await chat.next((m) => m.body.text === 'hello from A');
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    expect((await topic.type('ended')).reason).toBe('presenter-left');
    await mapB.type('ended', 10000, (m) => m.buskId === buskId);
    await waitFor(() => engine.stats.pipelines === 0, 10000, 'pipeline released');
    viewer.close(); presenter.close();
    await fan.close(); await busker.close();
  });

  it('a node that dies takes only its own busks down; the other node cleans up', async () => {
    const c = await startTestService({ REDIS_URL: redis.url, KMS_URLS: engine.url, NODE_PRESENCE_TTL_MS: '1500', NODE_ID: 'node-c' }, { redisPrefix: 'mn:' });
    const onC = await connect(c, await devToken(c, 'Cee', ['busker']));
    const onA = await connect(a, await devToken(a, 'Ay', ['busker']));
    const bc = await startBusk(host, onC, { title: 'On C' });
    const ba = await startBusk(host, onA, { title: 'On A' });
    const watcher = await connect(b);
    const map = await watcher.subscribeSync('/topic/busks');
    expect(engine.stats.pipelines).toBe(2);
    // "Crash" node C: no more presence, no cleanup of its own.
    c.busks.halt();
    await c.close();
    await map.type('ended', 20000, (m) => m.buskId === bc.buskId);
    await waitFor(() => engine.stats.pipelines === 1, 10000, 'C\'s pipeline released by a survivor');
    const left = (await (await fetch(`${a.url}/api/busks`)).json()) as { id: string }[];
    expect(left.map((x) => x.id)).toEqual([ba.buskId]);
    expect(await onA.request(`/app/busk.${ba.buskId}.leave`, {})).toBe('ok');
    bc.presenter.close(); ba.presenter.close();
    await onA.close(); await watcher.close();
  });
});
