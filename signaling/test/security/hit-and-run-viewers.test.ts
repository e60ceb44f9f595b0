// Issue 17 item 5: a viewer's offer waited for Redis (and the media server) before the viewer leg was
// registered; a socket that dropped in that gap had its close cleanup run already, so the leg that was
// registered afterwards leaked a WebRtcEndpoint and a public viewer that nobody was. 40 hit-and-run
// viewers on node B left 6 endpoints and a count of 6. Now the session is re-checked after every wait
// and whatever was created for a gone session is released. Same for ICE candidates sent before the
// offer. Two real nodes, real Redis, one media engine.
import type { MediaServer } from '../../../kurento/src';
import { waitFor } from '../../../test-support/ports';
import { devToken, connect } from '../support/service';
import { startBusk, PeerHost } from '../support/peers';
import { startTwoNodes, TwoNodes } from '../support/two-nodes';
import { rawTcp, frame } from '../stomp/helpers';
import type { Service } from '../../src/service';

jest.setTimeout(180000);

const HIT_AND_RUN = 40;

describe('hit-and-run viewers on the node without the presenter', () => {
  let nodes: TwoNodes;
  let engine: MediaServer;
  let a: Service;
  let b: Service;
  let host: PeerHost;
  beforeAll(async () => {
    nodes = await startTwoNodes({ prefix: 'hr:', ids: ['hr-a', 'hr-b'], presenceTtlMs: 3000 });
    ({ engine, a, b, host } = nodes);
  });
  afterAll(() => nodes.close());

  test('leave no endpoint on the media server and a public viewer count of 0', async () => {
    const busker = await connect(a, await devToken(a, 'Hera', ['busker']));
    const { buskId, presenter } = await startBusk(host, busker);
    await waitFor(() => engine.stats.objects === 2, 10000, 'pipeline and presenter endpoint');
    const viewerPeer = await host.viewer();
    const sdpOffer = await viewerPeer.offer();
    const sessionsBefore = b.broker.stats().sessions;

    // Each one: CONNECT, the offer (and an early candidate), and the socket gone right after, at
    // different points of the offer's way (Redis, the media server, State).
    await Promise.all(Array.from({ length: HIT_AND_RUN }, async (_, i) => {
      const c = await rawTcp(b.stompTcpPort!);
      c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'x', 'heart-beat': '0,0' }));
      await c.next('CONNECTED');
      const candidate = { candidate: `candidate:${i} 1 udp 2122260223 127.0.0.1 ${50000 + i} typ host`, sdpMid: '0', sdpMLineIndex: 0 };
      c.send(frame('SEND', { destination: `/app/busk.${buskId}.offer`, 'content-type': 'application/json' }, JSON.stringify({ sdpOffer })) +
        frame('SEND', { destination: `/app/busk.${buskId}.ice`, 'content-type': 'application/json' }, JSON.stringify({ candidate })));
      if (i % 4 === 0) c.close();
      else await new Promise<void>((r) => setTimeout(() => { c.close(); r(); }, (i % 4) * 4));
    }));

    // Every session is closed on B and every offer has run its course.
    await waitFor(() => b.broker.stats().sessions === sessionsBefore, 20000, 'hit-and-run sessions closed');
    await waitFor(() => { const o = b.busks.stats().offers; return o.running === 0 && o.waiting === 0; }, 30000, 'offers done');
    await waitFor(() => b.busks.stats().viewers === 0, 10000, 'no viewer legs on B');
    expect(b.busks.stats().heldCandidates).toBe(0);
    await waitFor(() => engine.stats.objects === 2, 10000, 'only the pipeline and the presenter endpoint on the media server');
    await waitFor(async () => (await b.state.viewerCount(buskId)) === 0, 10000, 'no viewers in State');
    const pub = (await (await fetch(`${a.url}/api/busks/${buskId}`)).json()) as { viewers: number };
    expect(pub.viewers).toBe(0);

    viewerPeer.close(); presenter.close();
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    await busker.close();
  });
});
