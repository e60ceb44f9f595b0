// VIDEO_MAX_KBPS reaches the media server as KMS's bandwidth properties: the presenter endpoint's
// maxVideoRecvBandwidth and every viewer endpoint's maxVideoSendBandwidth (read back with the
// unmodified kurento-client, as an operator would on KMS).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { startMediaServer, type MediaServer } from '../../kurento/src';
import { connectKms, closeKms } from '../../kurento/test/kms-client-support';
import { startTestService, devToken, connect } from './support/service';
import { startBusk, watchBusk, PeerHost } from './support/peers';
import type { Service } from '../src/service';

jest.setTimeout(60000);

let engine: MediaServer;
let svc: Service;
let host: PeerHost;
beforeAll(async () => {
  engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
  svc = await startTestService({ KMS_URLS: engine.url, VIDEO_MAX_KBPS: '1800' });
  host = await PeerHost.start();
});
afterAll(async () => { host.stop(); await svc.close(); await engine.close(); });

test('the presenter endpoint receives and each viewer endpoint sends at most VIDEO_MAX_KBPS', async () => {
  const busker = await connect(svc, await devToken(svc, 'Vi', ['busker']));
  const { buskId, presenter } = await startBusk(host, busker, { title: 'Bandwidth' });
  const fan = await connect(svc);
  const { viewer } = await watchBusk(host, fan, buskId);
  await viewer.waitFrames(3);
  const kms = await connectKms(engine.url);
  try {
    const [pipeline] = await (await kms.getServerManager()).getPipelines();
    const endpoints = (await pipeline.getChildren()).filter((c: any) => /WebRtcEndpoint$/.test(c.id));
    const props = await Promise.all(endpoints.map(async (e: any) => ({ recv: await e.getMaxVideoRecvBandwidth(), send: await e.getMaxVideoSendBandwidth() })));
    // One presenter endpoint (recv 1800; send left at KMS's 500) and one viewer endpoint (send 1800).
    expect(props).toHaveLength(2);
    expect(props).toEqual(expect.arrayContaining([{ recv: 1800, send: 500 }, { recv: 0, send: 1800 }]));
  } finally {
    await closeKms(kms);
    viewer.close(); presenter.close();
    await fan.close(); await busker.close();
  }
});
