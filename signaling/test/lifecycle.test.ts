// Teardown paths, the presenter's grace period, several busks at once, and media server restart.
// One behaviour per `it`: each describe sets up its scene once (media is slow to start) and its
// tests then check one step each, in order.
import { startMediaServer } from '../../kurento/src';
import { startTestService, devToken, connect, serverPipelines } from './support/service';
import { startBusk, watchBusk, negotiate, PeerHost } from './support/peers';
import type { Service } from '../src/service';
import type { StompTestClient } from './support/stomp-client';
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

  describe('two busks at once', () => {
    let a: StompTestClient; let b: StompTestClient;
    let ba: Awaited<ReturnType<typeof startBusk>>; let bb: Awaited<ReturnType<typeof startBusk>>;
    let v1c: StompTestClient; let v2c: StompTestClient; let v3c: StompTestClient;
    let viewers: Awaited<ReturnType<typeof watchBusk>>[] = [];
    let base = 0;
    beforeAll(async () => {
      a = await connect(svc, await devToken(svc, 'A', ['busker']));
      b = await connect(svc, await devToken(svc, 'B', ['busker']));
      ba = await startBusk(host, a, { title: 'A' });
      bb = await startBusk(host, b, { title: 'B' });
    });
    afterAll(async () => {
      for (const v of viewers) v.viewer.close();
      ba.presenter.close(); bb.presenter.close();
    });

    it('each busk gets its own pipeline', async () => {
      expect((await serverPipelines(svc)).length).toBe(2);
    });

    it('three viewers over the two busks get media, one endpoint each', async () => {
      base = objects();
      v1c = await connect(svc); v2c = await connect(svc); v3c = await connect(svc, undefined, { heartbeatMs: 1000 });
      viewers = [await watchBusk(host, v1c, ba.buskId), await watchBusk(host, v2c, bb.buskId), await watchBusk(host, v3c, ba.buskId)];
      const named = (name: string, c: { closed: boolean }) => (e: Error) => { throw new Error(`${name}: ${e.message}${c.closed ? ' (its STOMP session was closed)' : ''}`); };
      await viewers[0].viewer.waitFrames(5).catch(named('v1', v1c));
      await viewers[1].viewer.waitFrames(5).catch(named('v2', v2c));
      await viewers[2].viewer.waitFrames(5).catch(named('v3', v3c));
      expect(objects()).toBe(base + 3);
    });

    it('a viewer\'s DISCONNECT releases its endpoint', async () => {
      await v1c.close();
      await waitFor(() => objects() === base + 2, 15000, 'v1 endpoint released');
    });

    it('a viewer\'s socket close releases its endpoint', async () => {
      v2c.drop();
      await waitFor(() => objects() === base + 1, 15000, 'v2 endpoint released');
    });

    it('a viewer\'s heart-beat silence releases its endpoint', async () => {
      // the socket stays open but nothing more is written
      const ws = v3c.client.webSocket as unknown as { send: (...a: unknown[]) => void };
      ws.send = () => {};
      await waitFor(() => objects() === base, 15000, 'v3 endpoint released');
    });

    it('the presenter\'s DISCONNECT ends its busk at once', async () => {
      const watchB = await connect(svc);
      const tb = await watchB.subscribeSync(`/topic/busk.${bb.buskId}`);
      await b.close();
      expect((await tb.type('ended')).reason).toBe('presenter-left');
      await watchB.close();
    });

    it('the presenter\'s socket drop stalls its busk, which ends when the grace period is over', async () => {
      const watchA = await connect(svc);
      const ta = await watchA.subscribeSync(`/topic/busk.${ba.buskId}`);
      a.drop();
      await ta.type('media', 10000, (m) => m.state === 'stalled');
      expect(ta.ofType('ended')).toEqual([]);
      expect((await ta.type('ended', 15000)).reason).toBe('presenter-lost');
      await watchA.close();
    });

    it('the ended busks leave no pipeline behind', async () => {
      await waitFor(async () => (await serverPipelines(svc)).length === 0, 10000, 'no pipelines');
    });
  });

  describe('a presenter that comes back within the grace period', () => {
    let token: string; let buskId: string;
    let fan: StompTestClient; let p2: StompTestClient;
    let t: Awaited<ReturnType<StompTestClient['subscribeSync']>>;
    let viewer: Awaited<ReturnType<typeof watchBusk>>['viewer'];
    let presenter2: Awaited<ReturnType<PeerHost['presenter']>>;
    beforeAll(async () => {
      token = await devToken(svc, 'Phone', ['busker']);
      const p1 = await connect(svc, token);
      const started = await startBusk(host, p1, { title: 'Wi-Fi to 4G' });
      buskId = started.buskId;
      fan = await connect(svc);
      t = await fan.subscribeSync(`/topic/busk.${buskId}`);
      viewer = (await watchBusk(host, fan, buskId)).viewer;
      await viewer.waitFrames(5);
      p1.drop();
      started.presenter.close();
      await t.type('media', 10000, (m) => m.state === 'stalled');
    });
    afterAll(async () => {
      viewer.close(); presenter2?.close();
      await fan.close(); await p2?.close();
    });

    it('feeds the busk\'s viewers from its new connection', async () => {
      p2 = await connect(svc, token);
      presenter2 = await host.presenter();
      await negotiate(p2, buskId, presenter2);
      const before = await viewer.frames();
      await waitFor(async () => (await viewer.frames()) > before + 10, 20000, 'frames from the returned presenter');
    });

    it('keeps the busk past the first grace deadline', async () => {
      await new Promise((r) => setTimeout(r, 3000)); // past the first grace deadline
      expect(t.ofType('ended')).toEqual([]);
    });

    it('ends the busk by leave, leaving nothing on the media server', async () => {
      expect(await p2.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
      await t.type('ended');
      await waitFor(async () => (await serverPipelines(svc)).length === 0 && objects() === 0, 10000, 'nothing left');
    });
  });
});

describe('media server restart', () => {
  let engine: Awaited<ReturnType<typeof startMediaServer>>;
  let svc: Service;
  let host: PeerHost;
  let busker: StompTestClient; let fan: StompTestClient;
  let buskId: string;
  let pin: Awaited<ReturnType<typeof startBusk>>['inbox'];
  let vin: Awaited<ReturnType<typeof watchBusk>>['inbox'];
  let presenter: Awaited<ReturnType<PeerHost['presenter']>>; let presenter2: typeof presenter | undefined;
  let viewer: Awaited<ReturnType<typeof watchBusk>>['viewer']; let viewer2: typeof viewer | undefined;
  beforeAll(async () => {
    engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
    svc = await startTestService({ KMS_URLS: engine.url });
    host = await PeerHost.start();
    busker = await connect(svc, await devToken(svc, 'R', ['busker']));
    ({ buskId, presenter, inbox: pin } = await startBusk(host, busker, { title: 'Restart' }));
    fan = await connect(svc);
    ({ viewer, inbox: vin } = await watchBusk(host, fan, buskId));
    await viewer.waitFrames(5);
    const port = engine.port;
    await engine.close();
    engine = await startMediaServer({ port, bindAddress: '127.0.0.1' });
  });
  afterAll(async () => {
    viewer.close(); viewer2?.close(); presenter.close(); presenter2?.close();
    host.stop();
    await svc.close();
    await engine.close();
  });

  it('asks the presenter to reoffer', async () => {
    expect((await pin.type('reoffer', 30000)).reason).toBeTruthy();
  });

  it('asks the viewers to reoffer once the presenter has reoffered', async () => {
    presenter.close();
    presenter2 = await host.presenter();
    await negotiate(busker, buskId, presenter2);
    await vin.type('reoffer', 20000);
  });

  it('feeds the reoffered viewers from one rebuilt pipeline', async () => {
    viewer.close();
    viewer2 = await host.viewer();
    await negotiate(fan, buskId, viewer2);
    await viewer2.waitFrames(5);
    expect(engine.stats.pipelines).toBe(1);
  });

  it('releases the rebuilt pipeline when everyone leaves', async () => {
    viewer2!.close(); presenter2!.close();
    await fan.close(); await busker.close();
    await waitFor(() => engine.stats.pipelines === 0, 10000, 'released');
  });
});

describe('unreachable media server', () => {
  let svc: Service;
  beforeAll(async () => { svc = await startTestService({ KMS_URLS: 'ws://127.0.0.1:1/kurento' }, { mediaWaitMs: 200 }); });
  afterAll(async () => { await svc.close(); });

  it('/readyz answers 503', async () => {
    const r = await fetch(`${svc.url}/readyz`);
    expect(r.status).toBe(503);
  });

  it('busk.start gets unavailable', async () => {
    const c = await connect(svc, await devToken(svc, 'U', ['busker']));
    expect(await c.request('/app/busk.start', { title: 'x' })).toMatchObject({ code: 'unavailable' });
    await c.close();
  });
});
