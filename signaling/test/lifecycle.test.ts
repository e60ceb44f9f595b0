// Teardown paths, the presenter's grace period, several busks at once, and media server restart.
import { startMediaServer } from '../../kurento/src';
import { startTestService, devToken, connect, serverPipelines } from './support/service';
import { startBusk, watchBusk, negotiate, PeerHost } from './support/peers';
import type { Service } from '../src/service';
import { waitFor } from '../../test-support/ports';

jest.setTimeout(180000);

describe('teardown paths and grace', () => {
  let svc: Service;
  let host: PeerHost;
  beforeAll(async () => {
    // Heart-beats of 1 s (silence limit 2 s each way): the jest process runs the service, the media
    // engine and the clients on one event loop, which stalls for hundreds of ms on a loaded machine; a
    // 300/100 ms heart-beat (600 ms limit) can close v3's session before its media starts.
    svc = await startTestService({ PRESENTER_GRACE_MS: '2500', STOMP_HEARTBEAT_MS: '1000' });
    host = await PeerHost.start();
  });
  afterAll(async () => { host.stop(); await svc.close(); });

  const objects = () => svc.engine!.stats.objects;

  it('two busks at once; viewers released by DISCONNECT, socket close and heart-beat silence', async () => {
    const a = await connect(svc, await devToken(svc, 'A', ['busker']));
    const b = await connect(svc, await devToken(svc, 'B', ['busker']));
    const ba = await startBusk(host, a, { title: 'A' });
    const bb = await startBusk(host, b, { title: 'B' });
    expect((await serverPipelines(svc)).length).toBe(2);
    const base = objects();
    const v1c = await connect(svc); const v2c = await connect(svc); const v3c = await connect(svc, undefined, { heartbeatMs: 1000 });
    const v1 = await watchBusk(host, v1c, ba.buskId);
    const v2 = await watchBusk(host, v2c, bb.buskId);
    const v3 = await watchBusk(host, v3c, ba.buskId);
    const named = (name: string, c: { closed: boolean }) => (e: Error) => { throw new Error(`${name}: ${e.message}${c.closed ? ' (its STOMP session was closed)' : ''}`); };
    await v1.viewer.waitFrames(5).catch(named('v1', v1c));
    await v2.viewer.waitFrames(5).catch(named('v2', v2c));
    await v3.viewer.waitFrames(5).catch(named('v3', v3c));
    expect(objects()).toBe(base + 3);
    await v1c.close(); // DISCONNECT
    v2c.drop(); // socket gone
    // heart-beat silence: the socket stays open but nothing more is written
    const ws = v3c.client.webSocket as unknown as { send: (...a: unknown[]) => void };
    ws.send = () => {};
    await waitFor(() => objects() === base, 15000, 'viewer endpoints released');
    for (const v of [v1, v2, v3]) v.viewer.close();
    // presenter DISCONNECT ends its busk at once; socket drop gets the grace period
    const watchB = await connect(svc);
    const tb = await watchB.subscribeSync(`/topic/busk.${bb.buskId}`);
    await b.close();
    expect((await tb.type('ended')).reason).toBe('presenter-left');
    const watchA = await connect(svc);
    const ta = await watchA.subscribeSync(`/topic/busk.${ba.buskId}`);
    a.drop();
    await ta.type('media', 10000, (m) => m.state === 'stalled');
    expect(ta.ofType('ended')).toEqual([]);
    expect((await ta.type('ended', 15000)).reason).toBe('presenter-lost');
    await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
    ba.presenter.close(); bb.presenter.close();
    await watchA.close(); await watchB.close();
  });

  it('a presenter that comes back within the grace period keeps the busk and its viewers', async () => {
    const token = await devToken(svc, 'Phone', ['busker']);
    const p1 = await connect(svc, token);
    const { buskId, presenter } = await startBusk(host, p1, { title: 'Wi-Fi to 4G' });
    const fan = await connect(svc);
    const t = await fan.subscribeSync(`/topic/busk.${buskId}`);
    const { viewer } = await watchBusk(host, fan, buskId);
    await viewer.waitFrames(5);
    p1.drop();
    presenter.close();
    await t.type('media', 10000, (m) => m.state === 'stalled');
    const p2 = await connect(svc, token);
    const presenter2 = await host.presenter();
    await negotiate(p2, buskId, presenter2);
    const before = await viewer.frames();
    await waitFor(async () => (await viewer.frames()) > before + 10, 20000, 'frames from the returned presenter');
    await new Promise((r) => setTimeout(r, 3000)); // past the first grace deadline
    expect(t.ofType('ended')).toEqual([]);
    expect(await p2.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    await t.type('ended');
    viewer.close(); presenter2.close();
    await fan.close(); await p2.close();
    await waitFor(async () => (await serverPipelines(svc)).length === 0 && objects() === 0, 10000, 'nothing left');
  });
});

describe('media server restart', () => {
  it('rebuilds the pipeline and asks presenter and viewers to reoffer', async () => {
    let engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
    const port = engine.port;
    const svc = await startTestService({ KMS_URLS: engine.url });
    const host = await PeerHost.start();
    try {
      const busker = await connect(svc, await devToken(svc, 'R', ['busker']));
      const { buskId, presenter, inbox: pin } = await startBusk(host, busker, { title: 'Restart' });
      const fan = await connect(svc);
      const { viewer, inbox: vin } = await watchBusk(host, fan, buskId);
      await viewer.waitFrames(5);
      await engine.close();
      engine = await startMediaServer({ port, bindAddress: '127.0.0.1' });
      expect((await pin.type('reoffer', 30000)).reason).toBeTruthy();
      presenter.close();
      const presenter2 = await host.presenter();
      await negotiate(busker, buskId, presenter2);
      await vin.type('reoffer', 20000);
      viewer.close();
      const viewer2 = await host.viewer();
      await negotiate(fan, buskId, viewer2);
      await viewer2.waitFrames(5);
      expect(engine.stats.pipelines).toBe(1);
      viewer2.close(); presenter2.close();
      await fan.close(); await busker.close();
      await waitFor(() => engine.stats.pipelines === 0, 10000, 'released');
    } finally {
      host.stop();
      await svc.close();
      await engine.close();
    }
  });

  it('unreachable media server: /readyz 503 and new busks get unavailable', async () => {
    const svc = await startTestService({ KMS_URLS: 'ws://127.0.0.1:1/kurento' }, { mediaWaitMs: 200 });
    try {
      const r = await fetch(`${svc.url}/readyz`);
      expect(r.status).toBe(503);
      const c = await connect(svc, await devToken(svc, 'U', ['busker']));
      expect(await c.request('/app/busk.start', { title: 'x' })).toMatchObject({ code: 'unavailable' });
      await c.close();
    } finally {
      await svc.close();
    }
  });
});
