// Music-grade sound (issue 14), in Debian's Chromium against the real service (embedded engine). The
// presenter's microphone is a stereo WAV the test writes (440 Hz left, 660 Hz right); a viewer's page
// measures what arrives with WebAudio, one analyser per channel, and reads its own getStats. Peer
// connections are collected as pages make them (an init script), so the test reads the SDP each side
// applied.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { startMediaServer, type MediaServer } from '../../kurento/src';
import { writeToneWav } from '../../test-support/audio';
import { startCoturn, type StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import type { Service } from '../../signaling/src/service';
import { WebTest, ensureBuilt, expectVideoFlowing, startWebService } from './support';

jest.setTimeout(150000);

const LEFT_HZ = 440;
const RIGHT_HZ = 660;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'busking-sound-'));
const wav = path.join(dir, 'stereo.wav');
const loud = path.join(dir, 'loud.wav');

let engine: MediaServer;
let coturn: StartedCoturn;
/** coturn's cap per relayed session and direction (bytes/s): 360 kbps, under busk video + music. */
const RELAY_BYTES_PER_S = 45000;
let svc: Service;
let web: WebTest;

beforeAll(async () => {
  await ensureBuilt();
  writeToneWav(wav, { left: LEFT_HZ, right: RIGHT_HZ, amplitude: 0.4 });
  writeToneWav(loud, { left: LEFT_HZ, right: RIGHT_HZ, amplitude: 1 });
  // The engine in its own server (not the service's in-process one), so that a test can restart it.
  engine = await startMediaServer({ port: 0, bindAddress: '127.0.0.1' });
  // A relay that carries at most RELAY_BYTES_PER_S per session: a viewer forced through it has a narrow downlink.
  coturn = await startCoturn({ extraConfig: [`max-bps=${RELAY_BYTES_PER_S}`] });
  svc = await startWebService({
    KMS_URLS: engine.url, DEV_TOKENS: 'true', JWT_SECRET: 'sound-test-jwt-secret'.padEnd(40, 'x'),
    TURN_URLS: coturn.urls.join(','), TURN_SECRET: coturn.secret,
  });
  web = await WebTest.start(svc, [`--use-file-for-fake-audio-capture=${wav}`]);
}, 120000);

afterAll(async () => {
  await web?.close();
  await svc?.close();
  await engine?.close();
  await coturn?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Keeps every RTCPeerConnection the page makes in window.__pcs. */
function collectPeerConnections(): void {
  const pcs: RTCPeerConnection[] = [];
  (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs = pcs;
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (this: unknown, ...args: ConstructorParameters<typeof RTCPeerConnection>) {
    const pc = new Native(...args);
    pcs.push(pc);
    return pc;
  } as unknown as typeof RTCPeerConnection;
  window.RTCPeerConnection.prototype = Native.prototype;
}

async function goLive(page: Page, mode: string): Promise<string> {
  await page.getByLabel('Your name').fill('Ola');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('Signed in as').waitFor();
  await page.getByLabel('Sound', { exact: true }).selectOption(mode);
  await page.getByLabel('Title').fill(`Strings (${mode})`);
  await page.getByRole('button', { name: 'Go live' }).click();
  await waitFor(async () => (await page.textContent('#busk-state')) === 'You are live', 30000, 'live');
  await waitFor(async () => (await page.textContent('#media-health')) === 'Flowing', 15000, 'media flowing');
  return new URL(await page.getAttribute('#watch-link', 'href') ?? '', svc.url).searchParams.get('busk') ?? '';
}

interface Ears { left: { own: number; other: number }; right: { own: number; other: number } }

/**
 * Levels (dB) of each channel at its own tone and at the other channel's, from a WebAudio analyser
 * per channel on the element's stream, averaged over a second.
 */
async function listen(page: Page, selector: string): Promise<Ears> {
  return page.$eval(selector, async (el, [leftHz, rightHz]) => {
    const stream = (el as HTMLMediaElement).srcObject as MediaStream;
    const ctx = new AudioContext();
    await ctx.resume();
    const source = ctx.createMediaStreamSource(new MediaStream(stream.getAudioTracks()));
    const split = ctx.createChannelSplitter(2);
    source.connect(split);
    const analysers = [0, 1].map((i) => { const a = ctx.createAnalyser(); a.fftSize = 8192; a.smoothingTimeConstant = 0; split.connect(a, i); return a; });
    const bin = (hz: number) => Math.round((hz / ctx.sampleRate) * 8192);
    const sums = [[0, 0], [0, 0]];
    const data = new Float32Array(4096);
    const reads = 10;
    for (let r = 0; r < reads; r++) {
      await new Promise((res) => setTimeout(res, 100));
      analysers.forEach((a, ch) => {
        a.getFloatFrequencyData(data);
        // The strongest of the three bins around a tone (the FFT's leakage).
        const at = (hz: number) => Math.max(data[bin(hz) - 1], data[bin(hz)], data[bin(hz) + 1]);
        sums[ch][0] += at(leftHz) / reads;
        sums[ch][1] += at(rightHz) / reads;
      });
    }
    await ctx.close();
    return { left: { own: sums[0][0], other: sums[0][1] }, right: { own: sums[1][1], other: sums[1][0] } };
  }, [LEFT_HZ, RIGHT_HZ]);
}

/** The audio a page's (last) peer connection receives: codec, channels, kbps over two seconds. */
async function inboundAudio(page: Page): Promise<{ mimeType: string; channels: number; kbps: number; fmtp: string }> {
  return page.evaluate(async () => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const pc = pcs[pcs.length - 1];
    const read = async () => {
      const stats = await pc.getStats();
      let inbound: { bytesReceived: number; codecId: string; timestamp: number } | undefined;
      stats.forEach((s) => { if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s; });
      if (!inbound) throw new Error('no inbound audio');
      return { inbound, codec: (stats as unknown as Map<string, unknown>).get(inbound.codecId) as { mimeType: string; channels: number; sdpFmtpLine: string } };
    };
    const a = await read();
    await new Promise((res) => setTimeout(res, 2000));
    const b = await read();
    const kbps = ((b.inbound.bytesReceived - a.inbound.bytesReceived) * 8) / (b.inbound.timestamp - a.inbound.timestamp);
    return { mimeType: b.codec.mimeType, channels: b.codec.channels, kbps, fmtp: b.codec.sdpFmtpLine };
  });
}

/** The Opus fmtp line of a description the page's newest peer connection applied. */
async function opusFmtp(page: Page, which: 'localDescription' | 'remoteDescription'): Promise<string> {
  return page.evaluate((w) => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const pc = pcs[pcs.length - 1];
    const sdp = pc[w as 'localDescription']?.sdp ?? '';
    const pt = /^a=rtpmap:(\d+) opus\/48000/im.exec(sdp)?.[1];
    return new RegExp(`^a=fmtp:${pt} (.*)$`, 'm').exec(sdp)?.[1] ?? '';
  }, which);
}

/** Makes the page's peer connections use relay candidates only (the downlink goes through coturn). */
function relayOnly(): void {
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (this: unknown, config?: RTCConfiguration) {
    return new Native({ ...config, iceTransportPolicy: 'relay' });
  } as unknown as typeof RTCPeerConnection;
  window.RTCPeerConnection.prototype = Native.prototype;
}

async function watch(buskId: string, init: { relayOnly?: boolean } = {}): Promise<Page> {
  const page = await web.open(await web.context(), `/watch.html?busk=${buskId}`, async (p) => {
    if (init.relayOnly) await p.addInitScript(relayOnly);
    await p.addInitScript(collectPeerConnections);
  });
  await waitFor(async () => (await page.getAttribute('#watch-state', 'data-state')) === 'live', 20000, 'viewer live');
  await expectVideoFlowing(page);
  return page;
}

async function end(studio: Page, ...others: Page[]): Promise<void> {
  await studio.getByRole('button', { name: 'End show' }).click();
  await waitFor(async () => (await studio.textContent('#busk-state'))?.startsWith('Show ended'), 10000, 'ended');
  for (const p of [studio, ...others]) expect(web.pageErrors(p)).toEqual([]);
  for (const p of [studio, ...others]) await p.context().close();
}

test('music mode: stereo Opus at 128 kbps from the studio to a viewer, each channel its own tone', async () => {
  const studio = await web.open(await web.context(), '/studio.html', (p) => p.addInitScript(collectPeerConnections));
  expect(await studio.inputValue('#sound-mode')).toBe('music-headphones'); // the default for a busk
  const buskId = await goLive(studio, 'music-headphones');

  // The studio captured two channels, unprocessed, and meters them.
  const capture = await studio.evaluate(() => {
    const t = ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream).getAudioTracks()[0];
    const s = t.getSettings();
    return { channelCount: s.channelCount, echoCancellation: s.echoCancellation, noiseSuppression: s.noiseSuppression, autoGainControl: s.autoGainControl };
  });
  expect(capture).toEqual({ channelCount: 2, echoCancellation: false, noiseSuppression: false, autoGainControl: false });
  await waitFor(async () => Number(await studio.getAttribute('#input-level', 'value')) > -20, 5000, 'the input meter to show the tones');
  expect(await studio.getAttribute('#input-level', 'data-channels')).toBe('2');
  expect(await studio.isHidden('#clipping')).toBe(true);

  // The parameters in every hop: the presenter's offer, the answer its encoder follows.
  const answer = await opusFmtp(studio, 'remoteDescription');
  for (const p of ['stereo=1', 'sprop-stereo=1', 'maxaveragebitrate=128000', 'useinbandfec=1', 'usedtx=0']) expect(answer).toContain(p);

  const viewer = await watch(buskId);
  // The viewer's applied answer asks its decoder for stereo.
  expect(await opusFmtp(viewer, 'remoteDescription')).toContain('stereo=1');
  const audio = await inboundAudio(viewer);
  console.log(`music mode at the viewer: ${audio.mimeType} ${audio.channels} ch, ${audio.kbps.toFixed(0)} kbps, fmtp ${audio.fmtp}`);
  expect(audio).toMatchObject({ mimeType: 'audio/opus', channels: 2 });
  expect(audio.kbps).toBeGreaterThanOrEqual(100);

  const ears = await listen(viewer, '#video');
  console.log(`music mode, viewer's ears (dB): ${JSON.stringify(ears)}`);
  expect(ears.left.own - ears.left.other).toBeGreaterThanOrEqual(30);
  expect(ears.right.own - ears.right.other).toBeGreaterThanOrEqual(30);

  // "Hear yourself as viewers do": a loopback viewer leg through the media server, in stereo too.
  await studio.getByRole('button', { name: 'Hear yourself as viewers do' }).click();
  await waitFor(async () => (await studio.getAttribute('#self-monitor', 'data-peer')) === 'connected', 15000, 'the loopback leg');
  await waitFor(() => studio.$eval('#self-monitor-audio', (a) => !!(a as HTMLAudioElement).srcObject && !(a as HTMLAudioElement).paused), 10000, 'the loopback playing');
  const self = await listen(studio, '#self-monitor-audio');
  console.log(`loopback in the studio (dB): ${JSON.stringify(self)}`);
  expect(self.left.own - self.left.other).toBeGreaterThanOrEqual(30);
  expect(self.right.own - self.right.other).toBeGreaterThanOrEqual(30);
  await studio.getByRole('button', { name: 'Stop listening' }).click();

  await end(studio, viewer);
});

test('voice mode: the browser\'s speech processing and its default Opus (mono), chosen and remembered', async () => {
  const ctx = await web.context();
  const studio = await web.open(ctx, '/studio.html', (p) => p.addInitScript(collectPeerConnections));
  const buskId = await goLive(studio, 'voice');
  const capture = await studio.evaluate(() => {
    const t = ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream).getAudioTracks()[0];
    const s = t.getSettings();
    return { echoCancellation: s.echoCancellation, noiseSuppression: s.noiseSuppression, autoGainControl: s.autoGainControl };
  });
  expect(capture).toEqual({ echoCancellation: true, noiseSuppression: true, autoGainControl: true });
  const answer = await opusFmtp(studio, 'remoteDescription');
  expect(answer).not.toContain('stereo=1');
  expect(answer).not.toContain('maxaveragebitrate');

  const viewer = await watch(buskId);
  const audio = await inboundAudio(viewer);
  console.log(`voice mode at the viewer: ${audio.mimeType}, ${audio.kbps.toFixed(0)} kbps`);
  expect(audio.mimeType).toBe('audio/opus');
  expect(audio.kbps).toBeGreaterThan(0);
  // Mono: both ears hear the same (the left tone as loud on the right as on the left).
  const ears = await listen(viewer, '#video');
  console.log(`voice mode, viewer's ears (dB): ${JSON.stringify(ears)}`);
  expect(Math.abs(ears.left.own - ears.right.other)).toBeLessThan(3);

  // The choice is remembered for the next visit.
  const again = await web.open(ctx, '/studio.html');
  expect(await again.inputValue('#sound-mode')).toBe('voice');
  expect(await again.isDisabled('#sound-bitrate')).toBe(true);
  await again.close();
  await end(studio, viewer);
});

test('after a media server restart, the reoffers keep stereo Opus at the chosen bitrate', async () => {
  const ctx = await web.context();
  const studio = await web.open(ctx, '/studio.html', (p) => p.addInitScript(collectPeerConnections));
  await studio.evaluate(() => localStorage.setItem('busking.sound', JSON.stringify({ mode: 'music-headphones', bitrateKbps: 192 })));
  await studio.reload();
  expect(await studio.inputValue('#sound-bitrate')).toBe('192');
  const buskId = await goLive(studio, 'music-headphones');
  const viewer = await watch(buskId);
  const pcs = (page: Page) => page.evaluate(() => (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs.length);
  const [studioPcs, viewerPcs] = [await pcs(studio), await pcs(viewer)];

  const port = engine.port;
  await engine.close();
  engine = await startMediaServer({ port, bindAddress: '127.0.0.1' });
  // `reoffer`: the studio and then the viewer negotiate on new peer connections.
  await waitFor(async () => (await pcs(studio)) > studioPcs && (await pcs(viewer)) > viewerPcs, 40000, 'both sides to reoffer');
  await expectVideoFlowing(viewer, 20000);
  const answer = await opusFmtp(studio, 'remoteDescription');
  for (const p of ['stereo=1', 'sprop-stereo=1', 'maxaveragebitrate=192000']) expect(answer).toContain(p);
  const audio = await inboundAudio(viewer);
  console.log(`after the restart, at the viewer: ${audio.channels} ch, ${audio.kbps.toFixed(0)} kbps`);
  expect(audio.kbps).toBeGreaterThanOrEqual(100);
  const ears = await listen(viewer, '#video');
  expect(ears.left.own - ears.left.other).toBeGreaterThanOrEqual(30);
  expect(ears.right.own - ears.right.other).toBeGreaterThanOrEqual(30);
  await end(studio, viewer);
});

interface Receiving { audioKbps: number; audioLoss: number; videoKbps: number; fps: number; presenterKbps?: number }

/** What the page's newest peer connection received over `ms`: kbps per kind, audio loss fraction, video fps. */
async function receiving(page: Page, ms: number): Promise<Receiving> {
  return page.evaluate(async (window_) => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    const pc = pcs[pcs.length - 1];
    type In = { kind: string; bytesReceived: number; packetsReceived: number; packetsLost: number; framesDecoded?: number; timestamp: number };
    const read = async () => {
      const out: Record<string, In> = {};
      (await pc.getStats()).forEach((s) => { if (s.type === 'inbound-rtp') out[s.kind] = s; });
      return out;
    };
    const a = await read();
    await new Promise((r) => setTimeout(r, window_));
    const b = await read();
    const kbps = (k: string) => ((b[k].bytesReceived - a[k].bytesReceived) * 8) / (b[k].timestamp - a[k].timestamp);
    const lost = b.audio.packetsLost - a.audio.packetsLost;
    const got = b.audio.packetsReceived - a.audio.packetsReceived;
    return {
      audioKbps: kbps('audio'), audioLoss: lost / Math.max(1, lost + got), videoKbps: kbps('video'),
      fps: (((b.video.framesDecoded ?? 0) - (a.video.framesDecoded ?? 0)) * 1000) / (b.video.timestamp - a.video.timestamp),
    };
  }, ms);
}

test('audio first: a viewer with a narrow downlink keeps the music whole while the video gives way', async () => {
  const studio = await web.open(await web.context(), '/studio.html', (p) => p.addInitScript(collectPeerConnections));
  const buskId = await goLive(studio, 'music-headphones');
  // The busker's audio sender is marked high priority.
  expect(await studio.evaluate(() => {
    const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
    return pcs[pcs.length - 1].getSenders().find((s) => s.track?.kind === 'audio')?.getParameters().encodings[0]?.priority;
  })).toBe('high');
  const narrow = await watch(buskId, { relayOnly: true });
  const seen: Receiving[] = [];
  // The viewer's estimate falls, the engine passes it on (less the audio) as REMB, the busker's
  // browser lowers the video: until then audio is lost along with video.
  await waitFor(async () => {
    const r = await receiving(narrow, 3000);
    // What the busker's browser now thinks it may send (its bandwidth estimate, REMB included).
    r.presenterKbps = await studio.evaluate(async () => {
      const pcs = (window as unknown as { __pcs: RTCPeerConnection[] }).__pcs;
      let bps = 0;
      (await pcs[pcs.length - 1].getStats()).forEach((s) => { if (s.type === 'candidate-pair' && s.nominated && s.availableOutgoingBitrate) bps = s.availableOutgoingBitrate; });
      return bps / 1000;
    });
    seen.push(r);
    return r.audioLoss < 0.02 && r.audioKbps >= 100 && r.videoKbps + r.audioKbps < (RELAY_BYTES_PER_S * 8) / 1000;
  }, 60000, 'the narrow viewer to get whole audio within the relay\'s capacity', 0);
  const last = seen[seen.length - 1];
  console.log(`narrow downlink (${(RELAY_BYTES_PER_S * 8) / 1000} kbps), every 3 s: ${seen.map((r) => `audio ${r.audioKbps.toFixed(0)} kbps lost ${(r.audioLoss * 100).toFixed(1)} %, video ${r.videoKbps.toFixed(0)} kbps ${r.fps.toFixed(0)} fps (busker may send ${r.presenterKbps?.toFixed(0)} kbps)`).join(' → ')}`);
  expect(last.fps).toBeGreaterThan(0); // the video degraded, it did not stop
  // And it stays so: over the next 9 s (the limit probes upwards meanwhile), the music is whole.
  const after = await receiving(narrow, 9000);
  console.log(`then over 9 s: audio ${after.audioKbps.toFixed(0)} kbps lost ${(after.audioLoss * 100).toFixed(1)} %, video ${after.videoKbps.toFixed(0)} kbps ${after.fps.toFixed(0)} fps`);
  expect(after.audioLoss).toBeLessThan(0.03);
  expect(after.audioKbps).toBeGreaterThanOrEqual(100);
  expect(after.fps).toBeGreaterThan(0);
  await end(studio, narrow);
});

test('the microphone chosen is remembered for the next visit', async () => {
  const ctx = await web.context();
  const studio = await web.open(ctx, '/studio.html');
  await studio.getByRole('button', { name: 'Turn on camera' }).click();
  const micId = () => studio.evaluate(() => ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream | null)?.getAudioTracks()[0]?.getSettings().deviceId ?? '');
  await waitFor(async () => (await micId()) !== '', 10000, 'the microphone');
  // The list is filled once the browser lists its devices (after the camera opened): Chromium's fake
  // devices include several microphones.
  const listed = () => studio.$$eval('#microphone option', (os) => os.map((o) => (o as HTMLOptionElement).value));
  await waitFor(async () => (await listed()).length > 1, 10000, 'several microphones listed');
  const options = await listed();
  const current = await micId();
  const chosen = options.find((o) => o !== current)!;
  await studio.selectOption('#microphone', chosen);
  await waitFor(async () => (await micId()) === chosen, 10000, 'the chosen microphone');
  await studio.close();
  const again = await web.open(ctx, '/studio.html');
  await again.getByRole('button', { name: 'Turn on camera' }).click();
  await waitFor(async () => (await again.evaluate(() => ((document.getElementById('preview') as HTMLVideoElement).srcObject as MediaStream | null)?.getAudioTracks()[0]?.getSettings().deviceId ?? '')) === chosen, 10000, 'the remembered microphone');
  await waitFor(async () => (await again.inputValue('#microphone')) === chosen, 10000, 'the picker showing the remembered microphone');
  await ctx.close();
});

test('the input meter warns of clipping', async () => {
  const clipping = await WebTest.start(svc, [`--use-file-for-fake-audio-capture=${loud}`]);
  try {
    const studio = await clipping.open(await clipping.context(), '/studio.html');
    await studio.getByRole('button', { name: 'Turn on camera' }).click();
    await waitFor(() => studio.isVisible('#clipping'), 10000, 'the clipping warning');
    expect(Number(await studio.getAttribute('#input-level', 'value'))).toBeGreaterThan(-1);
    expect(clipping.pageErrors(studio)).toEqual([]);
  } finally {
    await clipping.close();
  }
});
