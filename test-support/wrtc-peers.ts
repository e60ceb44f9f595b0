// Real WebRTC peers for the tests and the benchmarks: @roamhq/wrtc (libwebrtc) in a child process
// (test-support/wrtc-host.js, see there for why) as presenters (synthetic video + a tone) and viewers
// (decoded frames counted with RTCVideoSink). Domain glue stays with its users: kurento/test/media-support.ts
// wires these peers to MediaPeers, signaling/test/support/peers.ts runs the busking protocol over STOMP.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { EventEmitter } from 'node:events';
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './ports';

export interface Candidate { candidate: string; sdpMid: string; sdpMLineIndex: number }

export interface PresenterOptions {
  /** Video frames per second (default 15). */
  fps?: number;
  /** Frame size (default 640x480). */
  width?: number;
  height?: number;
  /** Send a 440 Hz tone (default true). */
  audio?: boolean;
  /** Send the synthetic video (default true). */
  video?: boolean;
  /** A moving noisy band, so the encoder uses its whole bitrate budget like a camera (benchmark). */
  noise?: boolean;
}

export interface ViewerOptions {
  /** Receive audio / video (both default true). */
  audio?: boolean;
  video?: boolean;
}

export interface RtpStats {
  type?: 'inbound-rtp' | 'outbound-rtp';
  packetsReceived?: number;
  packetsLost?: number;
  packetsSent?: number;
  bytesReceived?: number;
  bytesSent?: number;
  framesDecoded?: number;
  framesEncoded?: number;
  keyFramesDecoded?: number;
  nackCount?: number;
  pliCount?: number;
}

export interface RemoteStats {
  /** Decoded video frames (viewer) or frames fed to the encoder (presenter). */
  frames: number;
  /** Epoch ms (Date.now() in the host process) of a viewer's first decoded frame. */
  firstFrameAt: number | null;
  ice: string;
  connection: string;
  video: RtpStats | null;
  audio: RtpStats | null;
}

/** The host script is plain JavaScript next to this file in the source tree (tsc does not copy it to dist/). */
function hostScript(): string {
  const here = path.join(__dirname, 'wrtc-host.js');
  return fs.existsSync(here) ? here : path.resolve(__dirname, '../../test-support/wrtc-host.js');
}

/**
 * A wrtc peer living in the host process. Events: 'candidate' (Candidate), 'frames' (count, firstAt;
 * a viewer's first decoded frame, then every 10th). Candidates gathered before anyone listens are kept
 * and handed to the first onCandidate() callback.
 */
export class ClientPeer extends EventEmitter {
  closed = false;
  /** Decoded frames as last reported by the host (pushed events, or stats()/frames()/waitFrames()). */
  framesReceived = 0;
  /** Epoch ms (Date.now() in the host process) of the first decoded frame. */
  firstFrameAt: number | null = null;
  private candidateCb: ((c: Candidate) => void) | null = null;
  private early: Candidate[] = [];

  constructor(readonly host: PeerHost, readonly id: number, readonly kind: 'presenter' | 'viewer') {
    super();
  }

  /** From the host. */
  deliverCandidate(c: Candidate): void {
    if (this.candidateCb) this.candidateCb(c);
    else if (this.listenerCount('candidate') === 0) { this.early.push(c); return; }
    this.emit('candidate', c);
  }

  /** From the host. */
  deliverFrames(count: number, firstAt: number | null): void {
    this.framesReceived = Math.max(this.framesReceived, count);
    if (firstAt !== null) this.firstFrameAt = firstAt;
    this.emit('frames', count, firstAt);
  }

  /** Sets (replaces) the candidate callback; candidates gathered earlier are passed to it first. */
  onCandidate(cb: (c: Candidate) => void): void {
    this.candidateCb = cb;
    for (const c of this.early.splice(0)) { cb(c); this.emit('candidate', c); }
  }

  /** A local offer (not applied unless `setLocal`); `iceRestart: 'auto'` restarts ICE when renegotiating. */
  createOffer(opts: { iceRestart?: boolean | 'auto'; setLocal?: boolean } = {}): Promise<string> {
    return this.host.call<string>('createOffer', { peer: this.id, ...opts });
  }
  /** Creates the answer to the remote offer and applies it locally. */
  createAnswer(): Promise<string> { return this.host.call<string>('createAnswer', { peer: this.id }); }
  setLocal(type: 'offer' | 'answer', sdp: string): Promise<void> { return this.host.call('setLocal', { peer: this.id, type, sdp }); }
  setRemote(type: 'offer' | 'answer', sdp: string): Promise<void> { return this.host.call('setRemote', { peer: this.id, type, sdp }); }
  /** Rejects when libwebrtc refuses the candidate (or the peer is gone). */
  addCandidate(candidate: Candidate): Promise<void> { return this.host.call('addCandidate', { peer: this.id, candidate }); }

  /** Offerer side in one step: createOffer (ICE restart when renegotiating) + setLocal; the SDP to send. */
  offer(): Promise<string> { return this.createOffer({ iceRestart: 'auto', setLocal: true }); }
  /** Applies the remote answer. */
  answer(sdp: string): Promise<void> { return this.setRemote('answer', sdp); }

  async stats(): Promise<RemoteStats> {
    const s = await this.host.call<RemoteStats>('stats', { peer: this.id });
    this.framesReceived = Math.max(this.framesReceived, s.frames);
    if (s.firstFrameAt !== null) this.firstFrameAt = s.firstFrameAt;
    return s;
  }

  /** Frames decoded so far (asks the host, without getStats; the last known count once the peer is gone). */
  async frames(): Promise<number> {
    try {
      const s = await this.host.call<{ frames: number; firstFrameAt: number | null }>('frames', { peer: this.id });
      this.framesReceived = Math.max(this.framesReceived, s.frames);
      if (s.firstFrameAt !== null) this.firstFrameAt = s.firstFrameAt;
    } catch { /* closed: keep the last known count */ }
    return this.framesReceived;
  }

  /** Resolves once `n` frames were decoded. */
  async waitFrames(n: number, timeoutMs = 30000): Promise<void> {
    await waitFor(async () => this.framesReceived >= n || (await this.frames()) >= n,
      timeoutMs, `${n} decoded frames (got ${this.framesReceived})`, 100);
  }

  /** Idempotent; never rejects. */
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    this.host.peers.delete(this.id);
    return this.host.call('close', { peer: this.id }).then(() => undefined, () => undefined);
  }
}

/**
 * One child process (test-support/wrtc-host.js) holding many wrtc peers. `new PeerHost()` then `await
 * host.ready`, or `await PeerHost.start()`. `stop()` SIGKILLs it (never run wrtc's native teardown).
 * `defaults` apply to every presenter()/viewer() of this host.
 */
export class PeerHost {
  private readonly proc: ChildProcess;
  private seq = 0;
  private pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void }>();
  private exited: Error | null = null;
  readonly peers = new Map<number, ClientPeer>();
  readonly ready: Promise<void>;

  constructor(readonly defaults: { presenter?: PresenterOptions; viewer?: ViewerOptions } = {}) {
    this.proc = fork(hostScript(), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    this.ready = new Promise<void>((resolve, reject) => {
      this.proc.on('error', (e) => { reject(e); this.fail(e); });
      this.proc.once('exit', (code, signal) => {
        const e = new Error(`wrtc host exited (${code ?? signal})`);
        reject(e);
        this.fail(e);
      });
      this.proc.on('message', (m: any) => {
        if (m.ev === 'ready') resolve();
        else if (m.ev === 'candidate') this.peers.get(m.peer)?.deliverCandidate(m.candidate);
        else if (m.ev === 'frames') this.peers.get(m.peer)?.deliverFrames(m.count, m.firstAt);
        else if (m.id !== undefined) {
          const p = this.pending.get(m.id);
          this.pending.delete(m.id);
          if (!p) return;
          if (m.ok) p.resolve(m.result); else p.reject(new Error(m.error));
        }
      });
    });
    this.ready.catch(() => undefined); // rejections reach whoever awaits `ready`; none is unhandled
  }

  /** A started host (of the class it is called on). */
  static async start<T extends PeerHost>(this: new () => T): Promise<T> {
    const host = new this();
    await host.ready;
    return host;
  }

  get pid(): number | undefined { return this.proc.pid; }

  /** A raw host command (see wrtc-host.js); prefer the ClientPeer methods. */
  call<T = any>(cmd: string, args: Record<string, unknown> = {}): Promise<T> {
    if (this.exited) return Promise.reject(this.exited);
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, cmd, ...args }, (err) => {
        if (err && this.pending.delete(id)) reject(err);
      });
    });
  }

  async presenter(opts: PresenterOptions = {}): Promise<ClientPeer> {
    await this.ready;
    const id = await this.call<number>('presenter', { ...this.defaults.presenter, ...opts });
    const peer = new ClientPeer(this, id, 'presenter');
    this.peers.set(id, peer);
    return peer;
  }

  async viewer(opts: ViewerOptions = {}): Promise<ClientPeer> {
    await this.ready;
    const id = await this.call<number>('viewer', { ...this.defaults.viewer, ...opts });
    const peer = new ClientPeer(this, id, 'viewer');
    this.peers.set(id, peer);
    return peer;
  }

  /** Same as peer.onCandidate(fn). */
  onCandidate(peer: ClientPeer, fn: (c: Candidate) => void): void {
    peer.onCandidate(fn);
  }

  /** The host process's CPU time (process.cpuUsage() there). */
  cpuUsage(): Promise<NodeJS.CpuUsage> { return this.call('cpu'); }

  /** SIGKILL: wrtc's native teardown is what crashes, so it never runs. */
  stop(): void {
    this.fail(new Error('host stopped'));
    this.proc.kill('SIGKILL');
  }

  private fail(e: Error): void {
    this.exited ??= e;
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
    for (const peer of this.peers.values()) peer.closed = true;
    this.peers.clear();
  }
}
