// KMS compatibility beyond the one-to-many core, driven by the unmodified kurento-client 7.2.0 with
// real WebRTC peers: KMS's answer to a minimal non-WebRTC offer, PassThrough chains, RecorderEndpoint
// (files checked with ffprobe), and KMS's names and payloads for their events and errors.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { startMediaServer, type MediaServer } from '../src';
import { waitFor } from '../../test-support/ports';
import { connectKms, closeKms, negotiateThroughKms, nextEvent, quietConsole, type Kms } from './kms-client-support';
import { PeerHost } from './media-support';

jest.setTimeout(120000);

let server: MediaServer;
let kms: Kms;
let restoreConsole: () => void;
let host: PeerHost;
const stops: (() => unknown)[] = [];

beforeAll(async () => {
  restoreConsole = quietConsole();
  server = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
  kms = await connectKms(server.url);
  host = new PeerHost();
  await host.ready;
});

afterAll(async () => {
  for (const s of stops.reverse()) await s();
  host?.stop();
  await closeKms(kms);
  await server.close();
  restoreConsole();
});

/** kurento-client's promise form resolves undefined on some errors: the callback form gives the error. */
function failure(call: (cb: (e: any) => void) => void): Promise<any> {
  return new Promise((resolve) => call((e: any) => resolve(e)));
}

// The offer of kurento-client's own WebRtcEndpoint test: plain RTP/AVP, no fingerprint, no ICE.
const MINIMAL_OFFER = 'v=0\r\no=- 12345 12345 IN IP4 95.125.31.136\r\ns=-\r\nc=IN IP4 95.125.31.136\r\nt=0 0\r\n'
  + 'm=video 52126 RTP/AVP 96 97 98\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 MP4V-ES/90000\r\n'
  + 'a=rtpmap:98 H263-1998/90000\r\na=recvonly\r\nb=AS:384\r\n';

test('a minimal RTP/AVP offer without fingerprint or ICE is answered as KMS does: every section rejected', async () => {
  const pipeline = await kms.create('MediaPipeline');
  const ep = await pipeline.create('WebRtcEndpoint');
  const started = nextEvent(ep, 'MediaSessionStarted');
  const answer: string = await ep.processOffer(MINIMAL_OFFER);
  expect(answer).toBe('v=0\r\no=- 12345 12345 IN IP4 0.0.0.0\r\ns=Kurento Media Server\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=video 0 RTP/AVP 96 97 98\r\n');
  expect(await started).toMatchObject({ type: 'MediaSessionStarted', source: ep.id });
  expect(await ep.getRemoteSessionDescriptor()).toBe(MINIMAL_OFFER);
  expect(await ep.getLocalSessionDescriptor()).toBe(answer);
  // One negotiation per endpoint, as in KMS.
  expect(await failure((cb) => ep.processOffer(MINIMAL_OFFER, cb))).toMatchObject({ code: 40208, data: { type: 'SDP_END_POINT_ALREADY_NEGOTIATED' } });

  // What KMS refuses it refuses with its codes: no SDP at all, an empty offer, a descriptor before negotiation.
  const other = await pipeline.create('WebRtcEndpoint');
  expect(await failure((cb) => other.getLocalSessionDescriptor(cb))).toMatchObject({ code: 40202 });
  expect(await failure((cb) => other.getRemoteSessionDescriptor(cb))).toMatchObject({ code: 40203 });
  expect(await failure((cb) => other.processOffer('not an sdp', cb))).toMatchObject({ code: 40201, data: { type: 'SDP_PARSE_ERROR' } });
  // With a=mid the rejected section is also inactive and keeps its mid (RFC 5888).
  const withMid = MINIMAL_OFFER.replace('a=recvonly', 'a=mid:v0\r\na=recvonly');
  expect(await other.processOffer(withMid)).toContain('m=video 0 RTP/AVP 96 97 98\r\na=inactive\r\na=mid:v0\r\n');
  await pipeline.release();
});

test('PassThrough chains carry media: presenter → PassThrough → PassThrough → viewer', async () => {
  const manager = await kms.getServerManager();
  const info = await manager.getInfo();
  expect(info.modules.find((m: any) => m.name === 'core').factories).toContain('PassThrough');
  const pipeline = await kms.create('MediaPipeline');
  const presenterEp = await pipeline.create('WebRtcEndpoint');
  const first = await pipeline.create('PassThrough');
  const second = await pipeline.create('PassThrough');
  expect(first.id).toMatch(new RegExp(`^${pipeline.id}/[0-9a-f-]{36}_kurento\\.PassThrough$`));
  const viewerEp = await pipeline.create('WebRtcEndpoint');

  const presenter = await host.presenter({ fps: 15 });
  stops.push(() => presenter.close());
  await negotiateThroughKms(presenter, presenterEp);
  const viewer = await host.viewer();
  stops.push(() => viewer.close());
  await negotiateThroughKms(viewer, viewerEp);

  // Connected from the end backwards: media reaches the viewer once the chain is complete.
  const connected = nextEvent(second, 'ElementConnected', (e) => e.mediaType === 'VIDEO');
  await second.connect(viewerEp);
  expect(await connected).toMatchObject({ type: 'ElementConnected', source: second.id, sink: viewerEp.id, mediaType: 'VIDEO' });
  await first.connect(second);
  await presenterEp.connect(first);
  await viewer.waitFrames(5);
  await waitFor(async () => (await first.isMediaFlowingIn('VIDEO')) && (await second.isMediaFlowingOut('VIDEO')), 10000, 'PassThrough flow');
  expect(await second.getSourceConnections('VIDEO')).toEqual([expect.objectContaining({ source: first.id, sink: second.id, type: 'VIDEO' })]);

  // Cutting the chain in the middle stops the media; joining it again restarts it.
  await first.disconnect(second);
  await waitFor(async () => !(await viewerEp.isMediaFlowingOut('VIDEO')), 15000, 'no video towards the viewer after the cut');
  const before = await viewer.frames();
  await first.connect(second);
  await waitFor(async () => (await viewer.frames()) > before + 5, 20000, 'viewer decodes again after reconnecting the chain');

  // Releasing a PassThrough in the chain disconnects it (as KMS's release does).
  await second.release();
  expect(await first.getSinkConnections()).toEqual([]);
  await pipeline.release();
  expect(server.stats.objects).toBe(0);
});
