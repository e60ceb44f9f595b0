// Real media through the engine's MediaPeers: @roamhq/wrtc presenter → source peer → sink peers →
// @roamhq/wrtc viewers that decode frames. No mocks: libwebrtc on both ends, werift in the middle.
import { createMediaPeer, SdpError, type MediaPeer } from '../src/media';
import { waitFor } from '../../test-support/ports';
import {
  PeerHost, negotiate, negotiateServerOffer, presentInto, shiftPayloadTypes, remapExtmapIds, claimH264Only, sleep, type ClientPeer,
} from './media-support';

jest.setTimeout(90000);

const opts = { bindAddress: '127.0.0.1' };
let host: PeerHost;
let source: MediaPeer;
const cleanups: (() => unknown)[] = [];

function track<T extends { close(): unknown }>(x: T): T {
  cleanups.push(() => x.close());
  return x;
}
const frames = async (v: ClientPeer) => (await v.stats()).frames;

async function addViewer(munge?: (sdp: string) => string, kinds: ('audio' | 'video')[] = ['audio', 'video']): Promise<{ sink: MediaPeer; viewer: ClientPeer; events: any[] }> {
  const sink = track(createMediaPeer(opts));
  const events: any[] = [];
  for (const ev of ['flow-out', 'error', 'connection-state']) sink.on(ev as any, (e: any) => events.push({ ev, e }));
  source.connect(sink, kinds);
  const viewer = track(await host.viewer());
  await negotiate(viewer, sink, munge);
  return { sink, viewer, events };
}

beforeAll(async () => {
  host = new PeerHost();
  source = track(createMediaPeer(opts));
  await presentInto(host, source);
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  host?.stop();
});

test('answers without candidates, trickles them only after gatherCandidates, all on 127.0.0.1', async () => {
  const peer = track(createMediaPeer(opts));
  const cands: any[] = [];
  let done = false;
  peer.on('candidate', (c) => cands.push(c));
  peer.on('gathering-done', () => { done = true; });
  const v = await host.viewer();
  const offer = await host.call<string>('createOffer', { peer: v.id });
  await host.call('setLocal', { peer: v.id, type: 'offer', sdp: offer });
  const answer = await peer.processOffer(offer);
  expect(answer).toMatch(/^v=0\r\n/);
  expect(answer).not.toMatch(/a=candidate:/);
  expect(answer).toMatch(/a=setup:(active|passive)/);
  await sleep(300);
  expect(cands).toHaveLength(0); // werift gathered already, but KMS emits nothing before gatherCandidates
  await peer.gatherCandidates();
  await waitFor(() => done, 5000, 'gathering-done');
  expect(cands.length).toBeGreaterThan(0);
  for (const c of cands) {
    expect(c.candidate).toMatch(/^candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/);
    expect(typeof c.sdpMid).toBe('string');
    expect(typeof c.sdpMLineIndex).toBe('number');
  }
  expect(peer.localDescription).toBe(answer);
  expect(peer.remoteDescription).toBe(offer);
});

test('one source to several viewers: every viewer decodes frames, also with other payload types and extension ids', async () => {
  const shiftPt = (pt: number) => (pt >= 96 && pt <= 127 ? 223 - pt : pt); // 96↔127, 111↔112 ...
  const viewers = await Promise.all([
    addViewer(),
    addViewer(),
    addViewer((sdp) => remapExtmapIds(shiftPayloadTypes(sdp, shiftPt), (id) => 15 - id)),
  ]);
  expect(viewers[2]!.sink.localDescription).toMatch(/a=rtpmap:127 VP8\/90000/);
  await waitFor(async () => (await Promise.all(viewers.map((v) => frames(v.viewer)))).every((n) => n >= 15), 20000, 'every viewer decodes >= 15 frames');
  for (const v of viewers) {
    expect(v.sink.isMediaFlowingOut('video')).toBe(true);
    expect(v.sink.isMediaFlowingOut('audio')).toBe(true);
    expect(v.events.filter((x) => x.ev === 'error')).toEqual([]);
  }
});

test('a late joiner decodes its first frame fast (keyframe requested upstream)', async () => {
  await sleep(2000); // the presenter has been sending delta frames for a while
  const sink = track(createMediaPeer(opts));
  source.connect(sink, ['audio', 'video']);
  const viewer = track(await host.viewer());
  let connectedAt = 0;
  sink.on('connection-state', (s) => { if (s === 'CONNECTED') connectedAt = Date.now(); });
  const t0 = Date.now();
  await negotiate(viewer, sink);
  const first = await waitFor(async () => (await viewer.stats()).firstFrameAt, 10000, 'late joiner first frame');
  const sinceConnected = first - (connectedAt || t0);
  const sinceOffer = first - t0;
  // eslint-disable-next-line no-console
  console.log(`late joiner: first decoded frame ${sinceConnected} ms after DTLS connected, ${sinceOffer} ms after the offer`);
  expect(sinceConnected).toBeLessThan(3000);
});

test('a sink whose peer cannot take the source codec gets a NOT_NEGOTIATED error event', async () => {
  const sink = track(createMediaPeer(opts));
  const errors: any[] = [];
  sink.on('error', (e) => errors.push(e));
  source.connect(sink, ['video']);
  const viewer = await host.viewer({ audio: false });
  const offer = await host.call<string>('createOffer', { peer: viewer.id });
  await sink.processOffer(claimH264Only(offer));
  await waitFor(() => errors.length > 0, 5000, 'error event');
  expect(errors[0]).toMatchObject({ type: 'NOT_NEGOTIATED' });
  expect(errors[0].description).toMatch(/VP8/);
  expect(errors[0].description).toMatch(/H264/);
});

test('server as offerer (generateOffer/processAnswer) feeds a viewer', async () => {
  const sink = track(createMediaPeer(opts));
  source.connect(sink, ['audio', 'video']);
  const viewer = track(await host.viewer());
  const { offer, answer } = await negotiateServerOffer(viewer, sink);
  expect(offer).not.toMatch(/a=candidate:/);
  expect(offer).toMatch(/a=sendrecv/);
  expect(answer).toMatch(/a=recvonly/); // the viewer only receives what we offered sendrecv
  await waitFor(async () => (await frames(viewer)) >= 5, 15000, 'viewer (answerer) decodes frames');
});

test('bad input: garbage SDP, processAnswer without offer, invalid candidates, candidates before the offer', async () => {
  const peer = track(createMediaPeer(opts));
  await expect(peer.processOffer('hello')).rejects.toBeInstanceOf(SdpError);
  await expect(peer.processOffer('v=0\r\nxx')).rejects.toMatchObject({ kind: 'SDP_PARSE_ERROR' });
  await expect(peer.processAnswer('v=0\r\n')).rejects.toMatchObject({ kind: 'SDP_END_POINT_NOT_OFFER_GENERATED' });
  await expect(peer.addIceCandidate({ candidate: 'candidate:garbage', sdpMid: '0', sdpMLineIndex: 0 })).rejects.toThrow(/Invalid ICE candidate/);
  // A valid candidate before the remote description is buffered, as KMS does.
  await expect(peer.addIceCandidate({ candidate: 'candidate:1 1 udp 2122260223 127.0.0.1 40000 typ host', sdpMid: '0', sdpMLineIndex: 0 })).resolves.toBeUndefined();
  const v = await host.viewer();
  const offer = await host.call<string>('createOffer', { peer: v.id });
  await peer.processOffer(offer);
  await expect(peer.processOffer(offer)).rejects.toMatchObject({ kind: 'SDP_END_POINT_ALREADY_NEGOTIATED' });
  await peer.close();
  await peer.close(); // idempotent
  await expect(peer.processOffer(offer)).rejects.toThrow(/closed/);
});

test('closing the source stops media to the viewers and raises flow-out NOT_FLOWING on the sinks', async () => {
  const a = await addViewer();
  const b = await addViewer();
  await waitFor(async () => (await frames(a.viewer)) > 5 && (await frames(b.viewer)) > 5, 15000, 'viewers decoding');
  await source.close();
  for (const v of [a, b]) {
    await waitFor(() => v.events.some((x) => x.ev === 'flow-out' && x.e.kind === 'video' && x.e.flowing === false), 5000, 'flow-out video NOT_FLOWING');
    await waitFor(() => v.events.some((x) => x.ev === 'flow-out' && x.e.kind === 'audio' && x.e.flowing === false), 5000, 'flow-out audio NOT_FLOWING');
    expect(v.sink.isMediaFlowingOut('video')).toBe(false);
  }
  await sleep(500);
  const before = await frames(a.viewer);
  await sleep(1500);
  expect((await frames(a.viewer)) - before).toBeLessThanOrEqual(1);
});
