// Real WebRTC peers for the media tests and the benchmark: @roamhq/wrtc (libwebrtc) in a child
// process as presenter (synthetic 640x480 video + a tone) and as viewers (decoded frames counted with
// RTCVideoSink), wired to server MediaPeers with trickle ICE the way the object layer will.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { MediaPeer, IceCandidateInit } from '../src/media/types';

export interface RemoteStats {
  frames: number;
  firstFrameAt: number | null;
  video: { packetsReceived?: number; packetsLost?: number; packetsSent?: number; framesDecoded?: number; keyFramesDecoded?: number; bytesReceived?: number } | null;
  audio: { packetsReceived?: number; packetsLost?: number; packetsSent?: number } | null;
}

/** The host is plain JavaScript, next to this file in the source tree (also when running from dist/). */
function hostScript(): string {
  const here = path.join(__dirname, 'media-wrtc-host.js');
  return fs.existsSync(here) ? here : path.resolve(__dirname, '../../../kurento/test/media-wrtc-host.js');
}

/** A wrtc peer living in the host process. */
export class ClientPeer {
  constructor(readonly host: PeerHost, readonly id: number) {}
  stats(): Promise<RemoteStats> { return this.host.call('stats', { peer: this.id }); }
  async frames(): Promise<number> { return (await this.stats()).frames; }
  close(): Promise<void> { return this.host.call('close', { peer: this.id }).catch(() => undefined); }
}

/**
 * @roamhq/wrtc peers in a child process (see media-wrtc-host.js for why). `stop()` kills it.
 */
export class PeerHost {
  private proc: ChildProcess;
  private seq = 0;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private candidateHandlers = new Map<number, (c: IceCandidateInit) => void>();
  readonly ready: Promise<void>;

  constructor() {
    this.proc = fork(hostScript(), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = new Promise((resolve, reject) => {
      this.proc.once('error', reject);
      this.proc.once('exit', (code) => reject(new Error(`wrtc host exited (${code})`)));
      this.proc.on('message', (m: any) => {
        if (m.ev === 'ready') resolve();
        else if (m.ev === 'candidate') this.candidateHandlers.get(m.peer)?.(m.candidate);
        else if (m.id !== undefined) {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (!p) return;
          if (m.ok) p.resolve(m.result); else p.reject(new Error(m.error));
        }
      });
    });
  }

  get pid(): number | undefined { return this.proc.pid; }

  call<T = any>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, cmd, ...args });
    });
  }

  async presenter(opts: { fps?: number; width?: number; height?: number; audio?: boolean; video?: boolean } = {}): Promise<ClientPeer> {
    await this.ready;
    return new ClientPeer(this, await this.call<number>('presenter', opts));
  }

  async viewer(opts: { audio?: boolean; video?: boolean } = {}): Promise<ClientPeer> {
    await this.ready;
    return new ClientPeer(this, await this.call<number>('viewer', opts));
  }

  onCandidate(peer: ClientPeer, fn: (c: IceCandidateInit) => void): void {
    this.candidateHandlers.set(peer.id, fn);
  }

  cpuUsage(): Promise<NodeJS.CpuUsage> { return this.call('cpu'); }

  stop(): void {
    for (const p of this.pending.values()) p.reject(new Error('host stopped'));
    this.pending.clear();
    this.proc.kill('SIGKILL');
  }
}

/**
 * Negotiates `client` (offerer) with `server` (answerer) with trickle ICE both ways, in the order the
 * signaling service uses with KMS: processOffer, then gatherCandidates, candidates relayed as they come.
 * `mungeOffer` lets a test change the client's offer (e.g. other payload type numbers).
 */
export async function negotiate(client: ClientPeer, server: MediaPeer, mungeOffer: (sdp: string) => string = (s) => s): Promise<{ answer: string; processOfferMs: number }> {
  client.host.onCandidate(client, (c) => { server.addIceCandidate(c).catch(() => undefined); });
  server.on('candidate', (c: IceCandidateInit) => { client.host.call('addCandidate', { peer: client.id, candidate: c }).catch(() => undefined); });
  const offer = mungeOffer(await client.host.call<string>('createOffer', { peer: client.id }));
  await client.host.call('setLocal', { peer: client.id, type: 'offer', sdp: offer });
  const t0 = process.hrtime.bigint();
  const answer = await server.processOffer(offer);
  const processOfferMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await client.host.call('setRemote', { peer: client.id, type: 'answer', sdp: answer });
  await server.gatherCandidates();
  return { answer, processOfferMs };
}

/** The server offers (generateOffer), the client answers (processAnswer), trickle ICE both ways. */
export async function negotiateServerOffer(client: ClientPeer, server: MediaPeer): Promise<{ offer: string; answer: string }> {
  client.host.onCandidate(client, (c) => { server.addIceCandidate(c).catch(() => undefined); });
  server.on('candidate', (c: IceCandidateInit) => { client.host.call('addCandidate', { peer: client.id, candidate: c }).catch(() => undefined); });
  const offer = await server.generateOffer();
  await client.host.call('setRemote', { peer: client.id, type: 'offer', sdp: offer });
  const answer = await client.host.call<string>('createAnswer', { peer: client.id });
  await server.processAnswer(answer);
  await server.gatherCandidates();
  return { offer, answer };
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

/** Renumbers the header extension ids of an SDP (browsers pick different ids). */
export function remapExtmapIds(sdp: string, map: (id: number) => number): string {
  return sdp.replace(/^a=extmap:(\d+)/gm, (_s, id) => `a=extmap:${map(Number(id))}`);
}

/** Makes a client offer claim H.264 instead of VP8 (the codec-mismatch case: the sink can't take VP8). */
export function claimH264Only(sdp: string): string {
  const vp8 = /a=rtpmap:(\d+) VP8\/90000/.exec(sdp)?.[1];
  const munged = onlyVideoCodecs(sdp, ['VP8']);
  return munged
    .replace(`a=rtpmap:${vp8} VP8/90000`, `a=rtpmap:${vp8} H264/90000\r\na=fmtp:${vp8} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---- In-process wrtc peers (kept for kurento/test/kms-client.test.ts) -----------------------------
// CAUTION: after media has flowed, @roamhq/wrtc's native threads keep the process alive (jest reports
// "did not exit") and stopping its tracks around close() segfaults. Prefer PeerHost (child process).
// wrtc's typings lean on DOM lib types this project does not load: keep it loosely typed here.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const wrtc = (): any => require('@roamhq/wrtc'); // lazy: the benchmark imports this file too

export type ClientPc = any;

export interface Presenter {
  pc: ClientPc;
  frames(): number;
  stop(): void;
}

/** A presenter sending 640x480 frames at `fps` and 10 ms audio chunks. */
export function createPresenter(opts: { fps?: number; audio?: boolean; video?: boolean; width?: number; height?: number } = {}): Presenter {
  const { fps = 15, audio = true, video = true, width = 640, height = 480 } = opts;
  const pc = new (wrtc()).RTCPeerConnection({ iceServers: [] });
  const timers: NodeJS.Timeout[] = [];
  let frames = 0;
  if (video) {
    const source = new (wrtc()).nonstandard.RTCVideoSource();
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
  }
  if (audio) {
    const source = new (wrtc()).nonstandard.RTCAudioSource();
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
      for (const t of timers) clearInterval(t);
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
  const pc = new (wrtc()).RTCPeerConnection({ iceServers: [] });
  if (audio) pc.addTransceiver('audio', { direction: 'recvonly' });
  if (video) pc.addTransceiver('video', { direction: 'recvonly' });
  let frames = 0;
  let first: number | null = null;
  const sinks: any[] = [];
  pc.ontrack = (e: any) => {
    if (e.track.kind !== 'video') return;
    const sink = new (wrtc()).nonstandard.RTCVideoSink(e.track);
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

