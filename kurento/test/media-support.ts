// Real WebRTC peers for the media tests and the benchmark: @roamhq/wrtc (libwebrtc in Node) as
// presenter (synthetic 640x480 video + a tone) and as viewers (decoded frames counted with
// RTCVideoSink), wired to server MediaPeers with trickle ICE the way the object layer will.
/* eslint-disable @typescript-eslint/no-explicit-any */
import type { MediaPeer, IceCandidateInit } from '../src/media/types';

// wrtc's typings lean on DOM lib types this project does not load: keep it loosely typed here.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const wrtc: any = require('@roamhq/wrtc');

export type ClientPc = any;

export interface Presenter {
  pc: ClientPc;
  frames(): number;
  stop(): void;
}

/** A presenter sending 640x480 frames at `fps` and 10 ms audio chunks. */
export function createPresenter(opts: { fps?: number; audio?: boolean; video?: boolean; width?: number; height?: number } = {}): Presenter {
  const { fps = 15, audio = true, video = true, width = 640, height = 480 } = opts;
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  const timers: NodeJS.Timeout[] = [];
  let frames = 0;
  if (video) {
    const source = new wrtc.nonstandard.RTCVideoSource();
    const track = source.createTrack();
    pc.addTransceiver(track, { direction: 'sendonly' });
    const data = new Uint8Array(width * height * 1.5);
    timers.push(setInterval(() => {
      // A moving gradient: real encoder work, and frames that differ (so keyframes matter).
      const shift = frames * 4;
      for (let y = 0; y < height; y += 1) data.fill((y + shift) & 0xff, y * width, y * width + width);
      data.fill(128, width * height);
      source.onFrame({ width, height, data });
      frames++;
    }, Math.round(1000 / fps)));
    timers.push({ unref() {}, ref() {}, [Symbol.toPrimitive]: () => 0, stop: () => track.stop() } as any);
  }
  if (audio) {
    const source = new wrtc.nonstandard.RTCAudioSource();
    const track = source.createTrack();
    pc.addTransceiver(track, { direction: 'sendonly' });
    const samples = new Int16Array(480);
    let t = 0;
    timers.push(setInterval(() => {
      for (let i = 0; i < samples.length; i++) samples[i] = Math.round(3000 * Math.sin((2 * Math.PI * 440 * t++) / 48000));
      source.onData({ samples, sampleRate: 48000, bitsPerSample: 16, channelCount: 1, numberOfFrames: 480 });
    }, 10));
  }
  return {
    pc,
    frames: () => frames,
    stop() {
      for (const t of timers) { if ((t as any).stop) (t as any).stop(); else clearInterval(t); }
      try { pc.close(); } catch { /* closed */ }
    },
  };
}

export interface Viewer {
  pc: ClientPc;
  frames(): number;
  firstFrameAt(): number | null;
  stop(): void;
}

/** A viewer receiving audio and video; counts decoded video frames. */
export function createViewer(opts: { audio?: boolean; video?: boolean } = {}): Viewer {
  const { audio = true, video = true } = opts;
  const pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  if (audio) pc.addTransceiver('audio', { direction: 'recvonly' });
  if (video) pc.addTransceiver('video', { direction: 'recvonly' });
  let frames = 0;
  let first: number | null = null;
  const sinks: any[] = [];
  pc.ontrack = (e: any) => {
    if (e.track.kind !== 'video') return;
    const sink = new wrtc.nonstandard.RTCVideoSink(e.track);
    sink.onframe = () => { frames++; if (first === null) first = Date.now(); };
    sinks.push(sink);
  };
  return {
    pc,
    frames: () => frames,
    firstFrameAt: () => first,
    stop() {
      for (const s of sinks) s.stop();
      try { pc.close(); } catch { /* closed */ }
    },
  };
}

/**
 * Negotiates `client` (offerer) with `server` (answerer) with trickle ICE both ways, in the order the
 * signaling service uses with KMS: processOffer, then gatherCandidates, candidates relayed as they come.
 * `mungeOffer` lets a test change the client's offer (e.g. other payload type numbers).
 */
export async function negotiate(client: ClientPc, server: MediaPeer, mungeOffer: (sdp: string) => string = (s) => s): Promise<{ answer: string }> {
  client.onicecandidate = (e: any) => {
    if (!e.candidate || !e.candidate.candidate) return;
    server.addIceCandidate({ candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex }).catch(() => undefined);
  };
  server.on('candidate', (c: IceCandidateInit) => { client.addIceCandidate(c).catch(() => undefined); });
  const offer = await client.createOffer();
  const sdp = mungeOffer(offer.sdp);
  await client.setLocalDescription({ type: 'offer', sdp });
  const answer = await server.processOffer(sdp);
  await client.setRemoteDescription({ type: 'answer', sdp: answer });
  await server.gatherCandidates();
  return { answer };
}

/** Renumbers every payload type in an SDP by adding `delta` (keeps rtx apt= references right). */
export function shiftPayloadTypes(sdp: string, map: (pt: number) => number): string {
  return sdp.split('\r\n').map((line) => {
    let m = /^m=(audio|video) (\d+) (\S+) (.*)$/.exec(line);
    if (m) return `m=${m[1]} ${m[2]} ${m[3]} ${m[4]!.split(' ').map((p) => String(map(Number(p)))).join(' ')}`;
    m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+) (.*)$/.exec(line);
    if (m) {
      const rest = m[3]!.replace(/apt=(\d+)/, (_s, p) => `apt=${map(Number(p))}`);
      return `a=${m[1]}:${map(Number(m[2]))} ${rest}`;
    }
    return line;
  }).join('\r\n');
}

/** Keeps only the given video codecs (by rtpmap name, e.g. ['H264']) in a client's offer. */
export function onlyVideoCodecs(sdp: string, names: string[]): string {
  const lines = sdp.split('\r\n');
  const keep = new Set<string>();
  const rtx = new Map<string, string>();
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
    if (m && names.map((n) => n.toLowerCase()).includes(m[2]!.toLowerCase())) keep.add(m[1]!);
    const f = /^a=fmtp:(\d+) apt=(\d+)/.exec(l);
    if (f) rtx.set(f[1]!, f[2]!);
  }
  for (const [r, apt] of rtx) if (keep.has(apt)) keep.add(r);
  let inVideo = false;
  return lines.filter((l) => {
    if (l.startsWith('m=')) inVideo = l.startsWith('m=video');
    if (!inVideo) return true;
    const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+) /.exec(l);
    return !m || keep.has(m[2]!);
  }).map((l) => {
    const m = /^(m=video \d+ \S+) (.*)$/.exec(l);
    return m ? `${m[1]} ${m[2]!.split(' ').filter((p) => keep.has(p)).join(' ')}` : l;
  }).join('\r\n');
}

export function udpSocketCount(): number {
  // Sockets the process holds (UDP among them): the leak check compares before/after.
  const handles = (process as any)._getActiveHandles() as any[];
  return handles.filter((h) => h && h.constructor && h.constructor.name === 'Socket' && typeof h.address === 'function' && h.type && String(h.type).startsWith('udp')).length;
}
