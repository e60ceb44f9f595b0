// KMS compatibility beyond the one-to-many core, driven by the unmodified kurento-client 7.2.0 with
// real WebRTC peers: KMS's answer to a minimal non-WebRTC offer, PassThrough chains, RecorderEndpoint
// (files checked with ffprobe), and KMS's names and payloads for their events and errors.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../../test-support/ports';
import { RTCPeerConnection } from 'werift';
import { complexType, negotiateThroughKms, nextEvent } from './kms-client-support';
import { kmsTestBed } from './kms-test-bed';
import type { ClientPeer } from './media-support';

jest.setTimeout(120000);


/** kurento-client's promise form resolves undefined on some errors: the callback form gives the error. */
function failure(call: (cb: (e: any) => void) => void): Promise<any> {
  return new Promise((resolve) => call((e: any) => resolve(e)));
}

// The offer of kurento-client's own WebRtcEndpoint test: plain RTP/AVP, no fingerprint, no ICE.
const MINIMAL_OFFER = 'v=0\r\no=- 12345 12345 IN IP4 95.125.31.136\r\ns=-\r\nc=IN IP4 95.125.31.136\r\nt=0 0\r\n'
  + 'm=video 52126 RTP/AVP 96 97 98\r\na=rtpmap:96 H264/90000\r\na=rtpmap:97 MP4V-ES/90000\r\n'
  + 'a=rtpmap:98 H263-1998/90000\r\na=recvonly\r\nb=AS:384\r\n';

// Every test twice: peers on the engine's thread, and on two media workers (media/workers).
describe.each([{ workers: 0 }, { workers: 2 }])('media workers: $workers', ({ workers }) => {
  const bed = kmsTestBed({ workers });

  test('a minimal RTP/AVP offer without fingerprint or ICE is answered as KMS does: every section rejected', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
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
    const manager = await bed.kms.getServerManager();
    const info = await manager.getInfo();
    expect(info.modules.find((m: any) => m.name === 'core').factories).toContain('PassThrough');
    const pipeline = await bed.kms.create('MediaPipeline');
    const presenterEp = await pipeline.create('WebRtcEndpoint');
    const first = await pipeline.create('PassThrough');
    const second = await pipeline.create('PassThrough');
    expect(first.id).toMatch(new RegExp(`^${pipeline.id}/[0-9a-f-]{36}_kurento\\.PassThrough$`));
    const viewerEp = await pipeline.create('WebRtcEndpoint');

    const presenter = await bed.host.presenter({ fps: 15 });
    bed.stops.push(() => presenter.close());
    await negotiateThroughKms(presenter, presenterEp);
    const viewer = await bed.host.viewer();
    bed.stops.push(() => viewer.close());
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

    // Cutting the chain in the middle bed.stops the media; joining it again restarts it.
    await first.disconnect(second);
    await waitFor(async () => !(await viewerEp.isMediaFlowingOut('VIDEO')), 15000, 'no video towards the viewer after the cut');
    const before = await viewer.frames();
    await first.connect(second);
    await waitFor(async () => (await viewer.frames()) > before + 5, 20000, 'viewer decodes again after reconnecting the chain');

    // Releasing a PassThrough in the chain disconnects it (as KMS's release does).
    await second.release();
    expect(await first.getSinkConnections()).toEqual([]);
    await pipeline.release();
    expect(bed.server.stats.objects).toBe(0);
  });

  interface Probe { duration: number; codecs: string[] }

  /** ffprobe's view of a file: container duration and the codec of each stream. */
  function ffprobe(file: string): Probe {
    const out = execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', file], { encoding: 'utf8' });
    const j = JSON.parse(out);
    return { duration: Number(j.format.duration), codecs: j.streams.map((s: any) => s.codec_name).sort() };
  }

  /** A viewer peer on a new endpoint of `pipeline`, negotiated and fed by `source`. */
  async function viewerOf(pipeline: any, source: any): Promise<ClientPeer> {
    const ep = await pipeline.create('WebRtcEndpoint');
    const viewer = await bed.host.viewer();
    bed.stops.push(() => viewer.close());
    await negotiateThroughKms(viewer, ep);
    await source.connect(ep);
    return viewer;
  }

  /** A presenter feeding `presenterEp`, and a viewer on the same endpoint whose decoded frames pace the test. */
  async function presenterWithWitness(pipeline: any): Promise<{ presenterEp: any; witness: ClientPeer }> {
    const presenterEp = await pipeline.create('WebRtcEndpoint');
    const presenter = await bed.host.presenter({ fps: 15 });
    bed.stops.push(() => presenter.close());
    await negotiateThroughKms(presenter, presenterEp);
    const witness = await viewerOf(pipeline, presenterEp);
    await witness.waitFrames(3);
    return { presenterEp, witness };
  }

  /** Resolves once the witness decoded `n` more frames (15 fps: n / 15 seconds of media). */
  async function moreFrames(witness: ClientPeer, n: number): Promise<void> {
    await witness.waitFrames((await witness.frames()) + n);
  }

  test('RecorderEndpoint (WEBM): record, pause, record, stopAndWait; KMS events; ffprobe reads VP8 + Opus of the recorded length', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-rec-'));
    bed.stops.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const pipeline = await bed.kms.create('MediaPipeline');
    const { presenterEp, witness } = await presenterWithWitness(pipeline);
    const uri = `file://${dir}/busk.webm`;
    const recorder = await pipeline.create('RecorderEndpoint', { uri, mediaProfile: 'WEBM' });
    expect(recorder.id).toMatch(/_kurento\.RecorderEndpoint$/);
    expect(await recorder.getUri()).toBe(uri);
    expect(await recorder.getState()).toBe('STOP');
    const events: any[] = [];
    for (const type of ['Recording', 'Paused', 'Stopped', 'UriEndpointStateChanged']) recorder.on(type, (e: any) => events.push(e));
    await presenterEp.connect(recorder);

    const recording = nextEvent(recorder, 'Recording');
    let recordedMs = -Date.now();
    await recorder.record();
    expect(await recording).toMatchObject({ type: 'Recording', source: recorder.id, tags: [] });
    expect(await recorder.getState()).toBe('START');
    await moreFrames(witness, 30); // ~2 s recorded
    const paused = nextEvent(recorder, 'Paused');
    await recorder.pause();
    recordedMs += Date.now();
    await paused;
    expect(await recorder.getState()).toBe('PAUSE');
    await moreFrames(witness, 30); // ~2 s left out of the file
    recordedMs -= Date.now();
    await recorder.record();
    await moreFrames(witness, 30); // ~2 s more
    const stopped = nextEvent(recorder, 'Stopped');
    recordedMs += Date.now();
    await recorder.stopAndWait();
    await stopped;
    expect(await recorder.getState()).toBe('STOP');
    expect(events.map((e) => (e.type === 'UriEndpointStateChanged' ? `state:${e.state}` : e.type))).toEqual([
      'state:START', 'Recording', 'state:PAUSE', 'Paused', 'state:START', 'Recording', 'state:STOP', 'Stopped',
    ]);

    const probe = ffprobe(`${dir}/busk.webm`);
    expect(probe.codecs).toEqual(['opus', 'vp8']);
    // The recorded spans, without the paused one (give or take a frame interval and a keyframe wait).
    expect(Math.abs(probe.duration - recordedMs / 1000)).toBeLessThan(0.8);
    await pipeline.release();
  });

  test('RecorderEndpoint (MP4_VIDEO_ONLY, fragmented): readable while recording; release finishes the file', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-rec-'));
    bed.stops.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    const pipeline = await bed.kms.create('MediaPipeline');
    const { presenterEp, witness } = await presenterWithWitness(pipeline);
    const recorder = await pipeline.create('RecorderEndpoint', { uri: `file://${dir}/sub/busk.mp4`, mediaProfile: 'MP4_VIDEO_ONLY' });
    await presenterEp.connect(recorder);
    await recorder.record();
    await moreFrames(witness, 45);
    // Fragments are in the file while recording goes on: a crash loses only the last one.
    const partial = ffprobe(`${dir}/sub/busk.mp4`);
    expect(partial.codecs).toEqual(['vp8']);
    await moreFrames(witness, 15);
    // Releasing a recording recorder bed.stops it first (KMS: release → stopAndWait).
    await pipeline.release();
    await waitFor(() => bed.server.stats.objects === 0, 10000, 'pipeline released');
    await waitFor(() => { try { return ffprobe(`${dir}/sub/busk.mp4`).duration > 3; } catch { return false; } }, 10000, 'complete MP4');
    const probe = ffprobe(`${dir}/sub/busk.mp4`);
    expect(probe.codecs).toEqual(['vp8']);
    expect(probe.duration).toBeLessThan(6);
  });

  test('RecorderEndpoint errors are KMS\'s: profiles that need re-encoding, non-file URIs', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const create = (params: any) => failure((cb) => pipeline.create('RecorderEndpoint', params, cb));
    for (const mediaProfile of ['MKV', 'JPEG_VIDEO_ONLY', 'KURENTO_SPLIT_RECORDER']) {
      expect(await create({ uri: 'file:///tmp/x.mkv', mediaProfile })).toMatchObject({ code: 40107, data: { type: 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR' } });
    }
    expect(await create({ uri: 'http://127.0.0.1/upload' })).toMatchObject({ code: 40107 });
    await pipeline.release();
  });

  test('a late joiner starts from the cached keyframe: it decodes before the presenter makes another one', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    // libwebrtc's VP8 encoder makes keyframes only when asked: a presenter with no natural keyframe interval.
    const { presenterEp, witness } = await presenterWithWitness(pipeline);
    await moreFrames(witness, 15);
    const keyframesBefore = (await witness.stats()).video?.keyFramesDecoded ?? 0;
    expect(keyframesBefore).toBeGreaterThan(0);

    const late = await viewerOf(pipeline, presenterEp);
    await late.waitFrames(1);
    // The witness saw no new keyframe: the late joiner's first frame came from the cache.
    expect((await witness.stats()).video?.keyFramesDecoded).toBe(keyframesBefore);
    expect((await late.stats()).video?.keyFramesDecoded).toBe(1);
    await pipeline.release();
  });

  test('a keyframe request from a viewer that announces its own SSRC (a werift peer) reaches the presenter', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const { presenterEp, witness } = await presenterWithWitness(pipeline);
    // A receive-only werift peer: unlike Chrome's, its SDP lists the SSRC it sends RTCP from, which the
    // engine's endpoint registers as a remote SSRC of its own. A PLI from it is about our video SSRC.
    const ep = await pipeline.create('WebRtcEndpoint');
    const pc = new RTCPeerConnection({ iceUseIpv4: true, iceUseIpv6: false });
    bed.stops.push(() => pc.close());
    const tx = pc.addTransceiver('video', { direction: 'recvonly' });
    let ssrc = 0;
    let packets = 0;
    tx.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((rtp) => { ssrc = rtp.header.ssrc; packets++; }));
    const IceCandidate = complexType('IceCandidate');
    ep.on('IceCandidateFound', (e: any) => { pc.addIceCandidate({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }).catch(() => undefined); });
    pc.onIceCandidate.subscribe((c) => { if (c) ep.addIceCandidate(IceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 })).catch(() => undefined); });
    await pc.setLocalDescription(await pc.createOffer());
    expect(pc.localDescription!.sdp).toMatch(/a=ssrc:\d+/);
    await pc.setRemoteDescription({ type: 'answer', sdp: await ep.processOffer(pc.localDescription!.sdp) });
    await ep.gatherCandidates();
    await presenterEp.connect(ep);
    await waitFor(() => packets > 30, 20000, 'video at the werift viewer');

    await moreFrames(witness, 15); // past the keyframe its connect asked for
    const before = (await witness.stats()).video?.keyFramesDecoded ?? 0;
    // One PLI at a time until the presenter's next keyframe shows at the witness (libwebrtc makes none unasked).
    await waitFor(async () => {
      await tx.receiver.sendRtcpPLI(ssrc);
      return ((await witness.stats()).video?.keyFramesDecoded ?? 0) > before;
    }, 15000, 'a keyframe made on the werift viewer\'s request', 500);
    await pipeline.release();
  });

  test('the answer keeps the offer\'s Opus parameters (stereo, bitrate, FEC, DTX): the sender\'s encoder follows them', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const ep = await pipeline.create('WebRtcEndpoint');
    const pc = new RTCPeerConnection({ iceUseIpv4: true, iceUseIpv6: false });
    bed.stops.push(() => pc.close());
    pc.addTransceiver('audio', { direction: 'sendonly' });
    const offer = (await pc.createOffer()).sdp;
    const pt = /^a=rtpmap:(\d+) opus\/48000\/2/im.exec(offer)![1];
    const music = 'minptime=10;useinbandfec=1;stereo=1;sprop-stereo=1;maxaveragebitrate=192000;usedtx=0';
    const stereoOffer = offer.replace(/(a=rtpmap:\d+ opus\/48000\/2\r\n)(a=fmtp:\d+ [^\r\n]*\r\n)?/i, `$1a=fmtp:${pt} ${music}\r\n`);
    const answer: string = await ep.processOffer(stereoOffer);
    expect(answer).toMatch(new RegExp(`^a=rtpmap:${pt} opus/48000/2$`, 'im'));
    expect(new RegExp(`^a=fmtp:${pt} (.*)$`, 'm').exec(answer)?.[1].split(';').sort()).toEqual(music.split(';').sort());
    await pipeline.release();
  });

  test('getStats: KMS-shaped RTP stream stats with real figures (bytes, packets, loss, jitter, RTT, per-sink bitrate, REMB)', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const { presenterEp, witness } = await presenterWithWitness(pipeline);
    const viewerEp = await pipeline.create('WebRtcEndpoint');
    const viewer = await bed.host.viewer();
    bed.stops.push(() => viewer.close());
    await negotiateThroughKms(viewer, viewerEp);
    await presenterEp.connect(viewerEp);
    await viewer.waitFrames(3);
    await moreFrames(witness, 45); // 3 s of media: rates over a whole second, receiver reports both ways
    const values = (o: any) => Object.values(o) as any[];

    const inbound = values(await presenterEp.getStats('VIDEO')).filter((s) => s.type === 'inboundrtp');
    expect(inbound).toHaveLength(1);
    expect(inbound[0]).toMatchObject({ __type__: 'RTCInboundRTPStreamStats', __module__: 'kurento', ssrc: expect.any(String), packetsLost: 0 });
    expect(inbound[0].packetsReceived).toBeGreaterThan(30);
    expect(inbound[0].bytesReceived).toBeGreaterThan(inbound[0].packetsReceived * 100);
    expect(inbound[0].jitter).toBeGreaterThanOrEqual(0);
    expect(inbound[0].remb).toBeGreaterThan(0); // the REMB this endpoint sends the presenter
    expect(inbound[0].timestampMillis).toBeGreaterThan(Date.now() - 60000);

    const all = values(await viewerEp.getStats());
    expect(all.find((s) => s.type === 'endpoint')).toMatchObject({ __type__: 'EndpointStats', id: viewerEp.id });
    const outbound = all.filter((s) => s.type === 'outboundrtp');
    expect(outbound.map((s) => s.__type__).sort()).toEqual(['RTCOutboundRTPStreamStats', 'RTCOutboundRTPStreamStats']);
    const video = [...outbound].sort((a, b) => b.bytesSent - a.bytesSent)[0]; // video outweighs audio
    expect(video.packetsSent).toBeGreaterThan(30);
    expect(video.targetBitrate).toBeGreaterThan(10000); // what this sink is sent now, bps
    await waitFor(async () => values(await viewerEp.getStats('VIDEO')).some((s) => s.type === 'outboundrtp' && s.roundTripTime > 0), 10000, 'an RTT from the viewer\'s receiver reports');
    // A media type filter keeps the endpoint's own entry and that kind's streams.
    expect(values(await viewerEp.getStats('AUDIO')).filter((s) => s.type === 'outboundrtp')).toHaveLength(1);
    await pipeline.release();
  });
});
