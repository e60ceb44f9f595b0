import { startTestService, devToken, connect, serverPipelines } from './support/service';
import { startBusk, watchBusk, PeerHost } from './support/peers';
import type { Service } from '../src/service';
import { waitFor } from '../../test-support/ports';

jest.setTimeout(120000);

describe('presenter and viewers exchange media', () => {
  let svc: Service;
  let host: PeerHost;
  beforeAll(async () => { svc = await startTestService(); host = await PeerHost.start(); });
  afterAll(async () => { host.stop(); await svc.close(); });

  it('a viewer decodes the presenter frames, then everything is released', async () => {
    const busker = await connect(svc, await devToken(svc, 'Ann', ['busker']));
    const topic = await busker.subscribeSync('/topic/busks');
    const { buskId, presenter } = await startBusk(host, busker, { title: 'Jazz at the corner', hashtags: ['#Jazz'], location: { lat: 52.5, lng: 13.4 } });
    expect((await topic.type('live')).busk).toMatchObject({ id: buskId, title: 'Jazz at the corner', hashtags: ['jazz'], location: { lat: 52.5, lng: 13.4 }, viewers: 0 });
    const fan = await connect(svc);
    const bt = await fan.subscribeSync(`/topic/busk.${buskId}`);
    const { viewer } = await watchBusk(host, fan, buskId);
    await viewer.waitFrames(10);
    expect((await bt.type('viewers', 15000, (b) => b.count === 1)).count).toBe(1);
    // The `media: flowing` event may have gone out before this subscription existed: the busk's
    // current state is read (its REST view) instead of waiting for an event that already passed.
    await waitFor(async () => ((await (await fetch(`${svc.url}/api/busks/${buskId}`)).json()) as { media?: string }).media === 'flowing', 15000, 'media flowing');
    expect(await serverPipelines(svc)).toHaveLength(1);
    // viewer leaves: count drops, pipeline stays
    expect(await fan.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    await bt.type('viewers', 15000, (b) => b.count === 0);
    // presenter leaves: busk ends, nothing on the media server
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    expect((await bt.type('ended')).reason).toBe('presenter-left');
    await topic.type('ended', 5000, (b) => b.buskId === buskId);
    await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
    viewer.close(); presenter.close();
    await fan.close(); await busker.close();
  });
});

describe('the embedded engine on media workers (ENGINE_WORKERS=2)', () => {
  let svc: Service;
  let host: PeerHost;
  beforeAll(async () => { svc = await startTestService({ ENGINE_WORKERS: '2' }); host = await PeerHost.start(); });
  afterAll(async () => { host.stop(); await svc.close(); });

  it('one busk, viewers on both workers: every viewer decodes; the busk ends with nothing left in the workers', async () => {
    expect(svc.engine!.workers!.size).toBe(2);
    const busker = await connect(svc, await devToken(svc, 'Ann', ['busker']));
    const { buskId, presenter } = await startBusk(host, busker, { title: 'Cello on the bridge', location: { lat: 52.5, lng: 13.4 } });
    const fans = await Promise.all([1, 2, 3].map(() => connect(svc)));
    const viewers = [];
    for (const fan of fans) viewers.push((await watchBusk(host, fan, buskId)).viewer);
    await Promise.all(viewers.map((v) => v.waitFrames(10)));
    const counts = await svc.engine!.workers!.inspect();
    // Presenter and three viewers: two peers on each worker, the far one's viewers fed through a pipe.
    expect(counts.map((c) => c.peers)).toEqual([2, 2]);
    expect(counts.map((c) => c.pipesIn + c.pipesOut)).toEqual([1, 1]);
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
    await waitFor(async () => (await svc.engine!.workers!.inspect()).every((c) => c.peers === 0 && c.pipesIn === 0 && c.pipesOut === 0), 10000, 'no peers or pipes in the workers');
    for (const v of viewers) v.close();
    presenter.close();
    for (const f of fans) await f.close();
    await busker.close();
  });
});
