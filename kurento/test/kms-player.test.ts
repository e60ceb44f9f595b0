// PlayerEndpoint (issue 13), driven by the unmodified kurento-client 7.2.0: files made by ffmpeg
// (WebM VP8 + Opus, MP4 H.264 + Opus), from disk or over http, played to real WebRTC viewers (libwebrtc, decoding), recorded
// again by a RecorderEndpoint, and KMS's state machine, events and errors (kms-elements'
// PlayerEndpointImpl / UriEndpointImpl): START / PAUSE / STOP with UriEndpointStateChanged, STOP then
// EndOfStream at the end, play() after it starts over, INVALID_URI / INVALID_MEDIA errors, seek in ms
// with PLAYER_SEEK_FAIL, VideoInfo.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { RTCPeerConnection, RTCRtpCodecParameters } from 'werift';
import { waitFor } from '../../test-support/ports';
import { complexType, negotiateThroughKms, nextEvent } from './kms-client-support';
import { kmsTestBed } from './kms-test-bed';
import { tickingCount } from '../src/media/ticker';
import type { ClientPeer } from './media-support';

jest.setTimeout(120000);

function failure(call: (cb: (e: any) => void) => void): Promise<any> {
  return new Promise((resolve) => call((e: any) => resolve(e)));
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kms-player-'));
const WEBM = path.join(dir, 'busk.webm');
const MP4 = path.join(dir, 'busk.mp4');
const WAV = path.join(dir, 'busk.wav');

beforeAll(() => {
  const ff = (args: string[]) => execFileSync('ffmpeg', ['-v', 'error', '-y', ...args], { stdio: 'pipe' });
  const sources = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
  // 3 s, a keyframe every 2 s: a seek lands on the keyframe before it.
  ff([...sources, '-t', '3', '-c:v', 'libvpx', '-g', '30', '-b:v', '300k', '-c:a', 'libopus', '-ac', '2', WEBM]);
  ff([...sources, '-t', '3', '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-g', '30', '-c:a', 'libopus', '-ac', '2', '-strict', '-2', MP4]);
  ff(['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '1', WAV]); // PCM: nothing the engine forwards
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const uriOf = (file: string) => `file://${file}`;

describe.each([{ workers: 0 }, { workers: 2 }])('media workers: $workers', ({ workers }) => {
  const bed = kmsTestBed({ workers });

  async function viewerOf(pipeline: any, source: any): Promise<{ viewer: ClientPeer; ep: any }> {
    const ep = await pipeline.create('WebRtcEndpoint');
    const viewer = await bed.host.viewer();
    bed.stops.push(() => viewer.close());
    await negotiateThroughKms(viewer, ep);
    await source.connect(ep);
    return { viewer, ep };
  }

  /** Every UriEndpointStateChanged and EndOfStream of `player`, in order. */
  function journal(player: any): string[] {
    const seen: string[] = [];
    player.on('UriEndpointStateChanged', (e: any) => seen.push(e.state));
    player.on('EndOfStream', () => seen.push('EndOfStream'));
    return seen;
  }

  test('a WebM (VP8 + Opus) plays to a decoding viewer; START, then STOP and EndOfStream at its end; play() starts over', async () => {
    const manager = await bed.kms.getServerManager();
    expect((await manager.getInfo()).modules.find((m: any) => m.name === 'elements').factories).toContain('PlayerEndpoint');
    const pipeline = await bed.kms.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: uriOf(WEBM) });
    expect(player.id).toMatch(/_kurento\.PlayerEndpoint$/);
    expect(await player.getUri()).toBe(uriOf(WEBM));
    expect(await player.getState()).toBe('STOP');
    // KMS before anything is loaded: not seekable, zeros.
    expect(await player.getVideoInfo()).toMatchObject({ isSeekable: false, seekableInit: 0, seekableEnd: 0, duration: 0 });
    expect(await failure((cb) => player.setPosition(1000, cb))).toMatchObject({ code: 40700, message: 'Seek fails', data: { type: 'PLAYER_SEEK_FAIL' } });

    const { viewer, ep } = await viewerOf(pipeline, player);
    const states = journal(player);
    const flowing = nextEvent(player, 'MediaFlowOutStateChanged', (e) => e.mediaType === 'VIDEO' && e.state === 'FLOWING');
    const ended = nextEvent(player, 'EndOfStream');
    await player.play();
    expect(await player.getState()).toBe('START');
    expect(await flowing).toMatchObject({ type: 'MediaFlowOutStateChanged', source: player.id, padName: 'default' });
    await viewer.waitFrames(10);
    expect(await player.getVideoInfo()).toMatchObject({ isSeekable: true, seekableInit: 0 });
    const info = await player.getVideoInfo();
    expect(info.duration).toBeGreaterThan(2800);
    expect(info.duration).toBeLessThan(3300);
    expect(info.seekableEnd).toBe(info.duration);
    expect(await player.getPosition()).toBeGreaterThan(0);
    expect(await ended).toMatchObject({ type: 'EndOfStream', source: player.id });
    expect(states).toEqual(['START', 'STOP', 'EndOfStream']);
    expect(await player.getState()).toBe('STOP');
    expect(await player.getPosition()).toBe(0);
    // 3 s at 15 fps: most of the 45 frames decoded, and the viewer's endpoint took audio too.
    const frames = await viewer.frames();
    expect(frames).toBeGreaterThanOrEqual(35);
    const stats = await viewer.stats();
    expect(stats.audio?.packetsReceived).toBeGreaterThan(100); // Opus: 50 packets a second

    // Played again from the start: its RTP timestamps go on forwards, so the viewer decodes it too.
    const again = nextEvent(player, 'EndOfStream');
    await player.play();
    await again;
    expect(await viewer.frames()).toBeGreaterThanOrEqual(frames + 35);
    expect(states).toEqual(['START', 'STOP', 'EndOfStream', 'START', 'STOP', 'EndOfStream']);
    expect(await ep.isMediaFlowingOut('VIDEO')).toBeDefined();
    await pipeline.release();
    expect(bed.server.stats.objects).toBe(0);
  });

  test('pause holds the position, play resumes it; setPosition moves in ms; stop returns to STOP', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: uriOf(WEBM) });
    const { viewer } = await viewerOf(pipeline, player);
    const states = journal(player);
    await player.play();
    await viewer.waitFrames(5);
    await player.pause();
    expect(await player.getState()).toBe('PAUSE');
    const held = await player.getPosition();
    expect(held).toBeGreaterThan(0);
    await waitFor(async () => !(await player.isMediaFlowingOut('VIDEO')), 5000, 'flow stops when paused');
    expect(await player.getPosition()).toBe(held);
    await player.play();
    const before = await viewer.frames();
    await viewer.waitFrames(before + 5);
    // To 2.5 s: the keyframe at 2 s is where it resumes (a decoder starts there); the file ends 0.5-1 s later.
    const ended = nextEvent(player, 'EndOfStream');
    const t0 = Date.now();
    await player.setPosition(2500);
    const pos = await player.getPosition();
    expect(pos).toBeGreaterThanOrEqual(1900);
    await ended;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(await failure((cb) => player.setPosition(500, cb))).toMatchObject({ code: 40700 }); // stopped
    await player.play();
    await player.stop();
    expect(await player.getState()).toBe('STOP');
    expect(states).toEqual(['START', 'PAUSE', 'START', 'STOP', 'EndOfStream', 'START', 'STOP']);
    await pipeline.release();
  });

  test('an MP4 (H.264 + Opus) is sent as RFC 6184 packets: SPS, PPS and the IDR first, with the marker on each frame\'s last packet', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: uriOf(MP4) });
    const ep = await pipeline.create('WebRtcEndpoint');
    // A werift viewer that takes H.264 only, counting NAL unit types (nothing decodes H.264 here).
    const h264 = new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, payloadType: 104, parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f', rtcpFeedback: [{ type: 'nack', parameter: 'pli' }] });
    const pc = new RTCPeerConnection({ iceUseIpv4: true, iceUseIpv6: false, codecs: { video: [h264], audio: [] } });
    bed.stops.push(() => pc.close());
    const tx = pc.addTransceiver('video', { direction: 'recvonly' });
    const nalTypes: number[] = [];
    let markers = 0;
    let timestamps = new Set<number>();
    tx.onTrack.subscribe((t) => t.onReceiveRtp.subscribe((rtp) => {
      expect(rtp.header.payloadType).toBe(104);
      const type = rtp.payload[0]! & 0x1f;
      nalTypes.push(type === 28 ? rtp.payload[1]! & 0x1f : type);
      if (rtp.header.marker) markers++;
      timestamps.add(rtp.header.timestamp);
    }));
    const IceCandidate = complexType('IceCandidate');
    ep.on('IceCandidateFound', (e: any) => { pc.addIceCandidate({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }).catch(() => undefined); });
    pc.onIceCandidate.subscribe((c) => { if (c) ep.addIceCandidate(IceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 })).catch(() => undefined); });
    await pc.setLocalDescription(await pc.createOffer());
    const answer = await ep.processOffer(pc.localDescription!.sdp);
    await pc.setRemoteDescription({ type: 'answer', sdp: answer } as any);
    await ep.gatherCandidates();
    await player.connect(ep);
    await waitFor(() => pc.connectionState === 'connected', 15000, 'viewer connected');
    timestamps = new Set();
    const ended = nextEvent(player, 'EndOfStream');
    await player.play();
    await ended;
    await waitFor(() => markers >= 40, 5000, `every frame's last packet marked (${markers} markers, NAL types ${nalTypes.slice(0, 12).join(',')}…)`);
    // The parameter sets first (out of band in the MP4: from its avcC), then the IDR before any other slice (x264 puts an SEI between).
    expect(nalTypes.slice(0, 2)).toEqual([7, 8]);
    expect(nalTypes.indexOf(5)).toBeGreaterThan(1);
    expect(nalTypes.indexOf(5)).toBeLessThan(nalTypes.indexOf(1));
    expect(nalTypes.filter((t) => t === 5).length).toBeGreaterThan(2); // IDRs at 0 s and 2 s, in fragments
    expect(markers).toBe(timestamps.size); // one marker per frame
    await pipeline.release();
  });

  test('an http:// URL plays as a file does (range requests); one that answers 404 is INVALID_URI', async () => {
    const app = express();
    let ranges = 0;
    app.use((req, _res, next) => { if (req.headers.range) ranges++; next(); });
    app.use(express.static(dir));
    const server = await new Promise<http.Server>((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
    bed.stops.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pipeline = await bed.kms.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: `${base}/busk.webm` });
    expect(await player.getUri()).toBe(`${base}/busk.webm`);
    const { viewer } = await viewerOf(pipeline, player);
    const ended = nextEvent(player, 'EndOfStream');
    await player.play();
    await ended;
    expect(await viewer.frames()).toBeGreaterThanOrEqual(35);
    expect(ranges).toBeGreaterThan(0);

    const gone = await pipeline.create('PlayerEndpoint', { uri: `${base}/gone.webm` });
    const error = nextEvent(gone, 'Error');
    await gone.play();
    expect(await error).toMatchObject({ type: 'INVALID_URI', errorCode: 0 });
    expect((await error).description).toMatch(/404/);
    await pipeline.release();
  });

  test('player → RecorderEndpoint: the recording holds the file\'s VP8 and Opus, about as long', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const player = await pipeline.create('PlayerEndpoint', { uri: uriOf(WEBM) });
    const out = path.join(dir, `again-${workers}.webm`);
    const recorder = await pipeline.create('RecorderEndpoint', { uri: uriOf(out), mediaProfile: 'WEBM' });
    await player.connect(recorder);
    await recorder.record();
    const ended = nextEvent(player, 'EndOfStream');
    await player.play();
    await ended;
    await recorder.stopAndWait();
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name', '-of', 'json', out], { encoding: 'utf8' }));
    expect(probe.streams.map((s: any) => s.codec_name).sort()).toEqual(['opus', 'vp8']);
    expect(Number(probe.format.duration)).toBeGreaterThan(2.5);
    expect(Number(probe.format.duration)).toBeLessThan(4);
    await pipeline.release();
  });

  test('no leak: 100 players made, connected, played a moment and released leave no object, pipe, timer or open file', async () => {
    const openFds = () => fs.readdirSync('/proc/self/fd').length;
    const pipeline = await bed.kms.create('MediaPipeline');
    const ep = await pipeline.create('WebRtcEndpoint');
    const fdsBefore = openFds();
    for (let i = 0; i < 100; i++) {
      const player = await pipeline.create('PlayerEndpoint', { uri: uriOf(i % 2 ? WEBM : MP4) });
      await player.connect(ep);
      const started = nextEvent(player, 'MediaFlowOutStateChanged', (e) => e.state === 'FLOWING');
      await player.play();
      await started; // the file is open and its frames go out (a pipe from this thread with workers)
      await player.release();
    }
    if (workers) {
      await waitFor(async () => (await bed.server.workers!.inspect()).every((c) => c.pipesIn === 0), 5000, 'pipes from the players closed');
    }
    await waitFor(() => openFds() <= fdsBefore + 2, 5000, `files closed (${openFds()} fds, ${fdsBefore} before)`);
    await pipeline.release();
    expect(bed.server.stats.objects).toBe(0);
    await waitFor(() => tickingCount() === 0, 5000, 'no player or peer ticking');
  });

  test('KMS\'s errors: a missing file is INVALID_URI after play() (state stays START), a file with nothing playable INVALID_MEDIA, a non-file URI is refused', async () => {
    const pipeline = await bed.kms.create('MediaPipeline');
    const missing = await pipeline.create('PlayerEndpoint', { uri: uriOf(path.join(dir, 'nope.webm')) });
    const error = nextEvent(missing, 'Error');
    await missing.play(); // play() itself never fails in KMS
    expect(await error).toMatchObject({ type: 'INVALID_URI', errorCode: 0, source: missing.id });
    expect((await error).description).toMatch(/^Invalid URI/);
    expect(await missing.getState()).toBe('START');
    await missing.stop();
    expect(await missing.getState()).toBe('STOP');

    const pcm = await pipeline.create('PlayerEndpoint', { uri: uriOf(WAV) });
    const bad = nextEvent(pcm, 'Error');
    await pcm.play();
    expect(await bad).toMatchObject({ type: 'INVALID_MEDIA', errorCode: 0 });
    expect((await bad).description).toMatch(/pcm/i);

    for (const uri of ['rtsp://127.0.0.1/busk', '/no/scheme.webm', 'http://']) expect(await failure((cb) => pipeline.create('PlayerEndpoint', { uri }, cb))).toMatchObject({ code: 40107, data: { type: 'MEDIA_OBJECT_ILLEGAL_PARAM_ERROR' } });
    await pipeline.release();
    expect(bed.server.stats.objects).toBe(0);
  });
});
