import { startRedis, RedisServer } from '../../test-support/processes';
import { MemoryState, RedisState, RedisBus, BuskRecord, State, BusTarget } from '../src/state';
import { connectRedis } from '../src/state/redis';
import { waitFor } from '../../test-support/ports';

function rec(id: string, extra: Partial<BuskRecord> = {}): BuskRecord {
  return {
    id, owner: { id: 'u', name: 'U' }, title: `t ${id}`, description: '', hashtags: [], location: null,
    startedAt: new Date(Date.now() + Number(id.replace(/\D/g, '') || 0)).toISOString(), media: 'connecting',
    node: 'n1', presenterSession: 's', kmsUrl: null, pipelineId: null, presenterEndpointId: null, ...extra,
  };
}

// Berlin, Paris, Sydney
const BER = { lat: 52.52, lng: 13.405 };
const PAR = { lat: 48.8566, lng: 2.3522 };
const SYD = { lat: -33.8688, lng: 151.2093 };

function stateSuite(name: string, make: () => Promise<State>) {
  describe(name, () => {
    let s: State;
    beforeEach(async () => { s = await make(); });
    afterEach(async () => { await s.close(); });

    it('stores, updates and deletes busks', async () => {
      await s.putBusk(rec('b1', { hashtags: ['jazz'] }));
      expect((await s.getBusk('b1'))!.title).toBe('t b1');
      expect((await s.updateBusk('b1', { media: 'flowing' }))!.media).toBe('flowing');
      expect(await s.updateBusk('nope', { media: 'flowing' })).toBeNull();
      expect(await s.deleteBusk('b1')).toBe(true);
      expect(await s.deleteBusk('b1')).toBe(false);
      expect(await s.getBusk('b1')).toBeNull();
      expect(await s.listBusks({ tag: 'jazz' })).toEqual([]);
    });

    it('filters by bbox, near and tag', async () => {
      await s.putBusk(rec('b1', { location: BER, hashtags: ['jazz'] }));
      await s.putBusk(rec('b2', { location: PAR, hashtags: ['jazz', 'folk'] }));
      await s.putBusk(rec('b3', { location: SYD }));
      await s.putBusk(rec('b4')); // no pin
      expect((await s.listBusks()).map((b) => b.id)).toEqual(['b1', 'b2', 'b3', 'b4']);
      expect((await s.listBusks({ bbox: [-10, 35, 30, 60] })).map((b) => b.id).sort()).toEqual(['b1', 'b2']);
      expect((await s.listBusks({ bbox: [10, 50, 15, 55] })).map((b) => b.id)).toEqual(['b1']);
      expect((await s.listBusks({ bbox: [-180, -90, 180, 90] })).map((b) => b.id).sort()).toEqual(['b1', 'b2', 'b3']);
      expect((await s.listBusks({ near: { ...BER, radiusM: 1000 } })).map((b) => b.id)).toEqual(['b1']);
      expect((await s.listBusks({ near: { ...BER, radiusM: 1_000_000 } })).map((b) => b.id)).toEqual(['b1', 'b2']);
      expect((await s.listBusks({ tag: 'folk' })).map((b) => b.id)).toEqual(['b2']);
      expect((await s.listBusks({ tag: 'jazz', bbox: [10, 50, 15, 55] })).map((b) => b.id)).toEqual(['b1']);
      // hiding the pin removes it from the index
      await s.updateBusk('b1', { location: null });
      expect((await s.listBusks({ bbox: [10, 50, 15, 55] }))).toEqual([]);
      await s.updateBusk('b2', { hashtags: ['jazz'] });
      expect(await s.listBusks({ tag: 'folk' })).toEqual([]);
    });

    it('counts viewers and keeps capped chat', async () => {
      await s.putBusk(rec('b1'));
      expect(await s.setViewer('b1', 's1', { node: 'n', user: 'u1', endpointId: null })).toBe(1);
      expect(await s.setViewer('b1', 's2', { node: 'n', user: 'u2', endpointId: 'e' })).toBe(2);
      expect(await s.setViewer('b1', 's2', { node: 'n', user: 'u2', endpointId: 'e2' })).toBe(2);
      expect(await s.removeViewer('b1', 's1')).toBe(1);
      expect(await s.removeViewer('b1', 's1')).toBeNull();
      expect(await s.viewerCounts(['b1', 'zz'])).toEqual([1, 0]);
      expect((await s.viewers('b1')).s2.endpointId).toBe('e2');
      for (let i = 0; i < 60; i++) await s.appendChat('b1', { id: `m${i}`, from: { id: 'u', name: 'u', anonymous: false }, text: `${i}`, at: '' }, 50);
      const h = await s.chatHistory('b1', 50);
      expect(h.length).toBe(50);
      expect(h[0].text).toBe('10');
      expect(h[49].text).toBe('59');
    });

    it('node presence and claims', async () => {
      await s.nodeAlive('n1', 300);
      expect(await s.isNodeAlive('n1')).toBe(true);
      expect(await s.isNodeAlive('n2')).toBe(false);
      await waitFor(async () => !(await s.isNodeAlive('n1')), 5000, 'presence expiry');
      expect(await s.claim('k', 10000)).toBe(true);
      expect(await s.claim('k', 10000)).toBe(false);
    });
  });
}

let redis: RedisServer;
let n = 0;
beforeAll(async () => { redis = await startRedis(); });
afterAll(async () => { await redis.stop(); });

stateSuite('MemoryState', async () => new MemoryState());
stateSuite('RedisState', async () => RedisState.connect(redis.url, `t${++n}:`));

describe('RedisBus', () => {
  it('delivers across nodes and routes sessions to their node only', async () => {
    const got: string[] = [];
    const broker = (node: string, sessions: string[]): BusTarget => ({
      publish: (d, b) => { got.push(`${node} publish ${d} ${b}`); },
      sendToUser: (u, d, b) => { got.push(`${node} user ${u} ${d} ${b}`); },
      sendToSession: (s, d, b) => { got.push(`${node} session ${s} ${d} ${b}`); },
      session: (id) => (sessions.includes(id) ? { id } : undefined),
    });
    const ca = await connectRedis(redis.url);
    const cb = await connectRedis(redis.url);
    const a = await RedisBus.create(broker('A', ['A-1']), ca, 'A', 'bus1:');
    const b = await RedisBus.create(broker('B', ['B-1']), cb, 'B', 'bus1:');
    const controls: string[] = [];
    a.on('control', (m) => controls.push(`A ${m.type}`));
    b.on('control', (m) => controls.push(`B ${m.type}`));
    a.publish('/topic/x', '1');
    a.sendToSession('B-1', '/queue/y', '2');
    a.sendToSession('A-1', '/queue/y', '3');
    b.sendToUser('u', '/queue/errors', '4');
    a.control({ type: 'busk-ended', buskId: 'z' });
    await waitFor(() => got.length >= 6 && controls.length >= 2, 5000, 'bus delivery');
    expect(got.sort()).toEqual([
      'A publish /topic/x 1', 'A session A-1 /queue/y 3', 'A user u /queue/errors 4',
      'B publish /topic/x 1', 'B session B-1 /queue/y 2', 'B user u /queue/errors 4',
    ]);
    expect(controls.sort()).toEqual(['A busk-ended', 'B busk-ended']);
    await a.close(); await b.close(); await ca.quit(); await cb.quit();
  });
});
