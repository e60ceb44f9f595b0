// A file played as a media source (KMS's PlayerEndpoint), on the engine's main thread: its frames are
// packetized to RTP at their own pace and fed to sinks through the same Routes as a peer's media
// (forwarder.ts), so a viewer takes a played file exactly as it takes a presenter: payload types and
// extensions mapped per sink, the codec checked (NOT_NEGOTIATED when the viewer cannot take it: nothing
// is re-encoded), late sinks started from the cached keyframe group. Sinks in media workers get it over
// a pipe (pipe.ts) from this thread, as from a peer in another worker.
//
// RTP timestamps follow the wall clock of the play-out, not the file's timeline: a seek, a pause or a
// replay from the start goes on forwards, which is what a receiver's jitter buffer expects of a sender.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { RTCRtpCodecParameters, RtpHeader, RtpPacket } from 'werift';
import { serverCodecs } from '../codecs';
import { FlowMonitor } from '../flow';
import { RouteSet, type ReceivedParameters, type Route, type RouteSource } from '../forwarder';
import { GopCache } from '../gop-cache';
import type { PipedSource } from '../pipe';
import { WeriftMediaPeer } from '../peer';
import type { FrameCodec } from '../record';
import { parseSps } from '../record/h264-sps';
import { addTicking, removeTicking, type Ticking } from '../ticker';
import type { MediaKind, MediaPeer, MediaPeerEvents, RtpTap } from '../types';
import { WorkerPeer } from '../workers/worker-peer';
import { MediaFile, PlayerError, type FileFrame } from './media-file';
import { packetize, type H264Parameters } from './packetize';

const KINDS: readonly MediaKind[] = ['audio', 'video'];
const CLOCK: Record<MediaKind, number> = { audio: 48000, video: 90000 };

export type PlayerState = 'stopped' | 'playing' | 'paused';

export interface PlayerSourceEvents {
  'state': [PlayerState];
  'end-of-stream': [];
  /** The file could not be played: PlayerError's code says why. Nothing plays until stop() and play(). */
  'error': [PlayerError];
  'flow-out': [{ kind: MediaKind; flowing: boolean }];
  'received-codec': MediaPeerEvents['received-codec'];
  /** The source closed: pipes from it end (workers/pool.ts). */
  '@closed': [];
}

let nextId = -1;

export class PlayerSource extends EventEmitter implements RouteSource, PipedSource, Ticking {
  /** This source's id towards media workers: negative, so it never names a worker's peer. */
  readonly id = nextId--;
  private readonly routes = new RouteSet(this);
  private readonly taps: Record<MediaKind, RtpTap[]> = { audio: [], video: [] };
  /** All the group it keeps: a file cannot make a keyframe when a sink joins. */
  private readonly gop = new GopCache(Infinity);
  private readonly flowOut = new FlowMonitor((kind, flowing) => this.emitSafe('flow-out', { kind, flowing }));
  private file: MediaFile | null = null;
  private opening: Promise<MediaFile> | null = null;
  private params: Partial<Record<MediaKind, { codec: RTCRtpCodecParameters; frameCodec: FrameCodec; h264?: H264Parameters }>> = {};
  private stateNow: PlayerState = 'stopped';
  /** Bumped on every play/pause/stop/seek: a pump of an older generation stops at its next step. */
  private generation = 0;
  /** File position (s) of the play-out clock's origin, and when (performance.now() ms) it was there. */
  private clock = { position: 0, at: 0 };
  /** Where a paused or stopped source resumes (s). */
  private resumeAt = 0;
  private readonly rtp: Record<MediaKind, { ssrc: number; seq: number; base: number }>;
  private readonly epoch = performance.now();
  private closed = false;

  constructor(readonly location: string) {
    super();
    const rnd = (n: number) => crypto.randomBytes(n).readUIntBE(0, n);
    this.rtp = {
      audio: { ssrc: rnd(4), seq: rnd(2), base: rnd(4) },
      video: { ssrc: rnd(4), seq: rnd(2), base: rnd(4) },
    };
    addTicking(this);
  }

  override on<E extends keyof PlayerSourceEvents>(event: E, listener: (...args: PlayerSourceEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); } // eslint-disable-line @typescript-eslint/no-explicit-any

  get state(): PlayerState { return this.stateNow; }
  get isClosed(): boolean { return this.closed; }

  /** The file's facts once opened (play() opens it): duration in seconds, its tracks' kinds. */
  get info(): { durationSec: number; kinds: MediaKind[] } | null {
    return this.file && { durationSec: this.file.durationSec, kinds: KINDS.filter((k) => this.file!.tracks[k]) };
  }

  /** The play-out position in seconds of the file. */
  get position(): number {
    if (this.stateNow !== 'playing') return this.resumeAt;
    return Math.max(0, this.clock.position + (performance.now() - this.clock.at) / 1000);
  }

  // ---- control ---------------------------------------------------------------------------------
  /** Plays from where a pause left it, or from the start. A file that cannot be played: 'error' (the state stays playing, as KMS's START). */
  play(): void {
    if (this.closed || this.stateNow === 'playing') return;
    const from = this.stateNow === 'paused' ? this.resumeAt : 0;
    this.setState('playing');
    void this.run(++this.generation, from);
  }

  pause(): void {
    if (this.stateNow !== 'playing') return;
    this.resumeAt = this.position;
    this.generation++;
    this.setState('paused');
    this.stopFlows();
  }

  stop(): void {
    if (this.stateNow === 'stopped') return;
    this.generation++;
    this.resumeAt = 0;
    this.setState('stopped');
    this.stopFlows();
  }

  /**
   * Moves to `seconds` (from the video keyframe at or before it, where a decoder can start). False when
   * the file is not open (never played) or the position is outside it: KMS's PLAYER_SEEK_FAIL.
   */
  async seek(seconds: number): Promise<boolean> {
    const file = this.file;
    if (!file || this.closed || this.stateNow === 'stopped' || !(seconds >= 0) || seconds > file.durationSec) return false;
    if (this.stateNow === 'paused') { this.resumeAt = await file.startAt(seconds); return true; }
    void this.run(++this.generation, seconds);
    return true;
  }

  // ---- the play-out ----------------------------------------------------------------------------
  private async run(gen: number, from: number): Promise<void> {
    let file: MediaFile;
    try {
      file = await this.open();
    } catch (e) {
      // KMS raises the error and stays in START (nothing plays): stop() then play() tries again.
      if (gen === this.generation) this.emitSafe('error', e instanceof PlayerError ? e : new PlayerError(String(e), 'UNREADABLE'));
      return;
    }
    try {
      const start = await file.startAt(from);
      if (gen !== this.generation) return;
      this.clock = { position: start, at: performance.now() };
      for await (const frame of file.frames(start)) {
        if (gen !== this.generation) return;
        const due = this.clock.at + (frame.timestamp - this.clock.position) * 1000;
        const wait = due - performance.now();
        if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        if (gen !== this.generation) return;
        this.send(frame, due);
      }
      if (gen !== this.generation) return;
      // KMS: the player stops (UriEndpointStateChanged STOP), then EndOfStream; play() starts over.
      this.generation++;
      this.resumeAt = 0;
      this.setState('stopped');
      this.stopFlows();
      this.emitSafe('end-of-stream');
    } catch (e) {
      if (gen !== this.generation) return;
      this.stopFlows();
      this.emitSafe('error', new PlayerError(`Cannot play ${this.location}: ${(e as Error)?.message ?? String(e)}`, 'UNREADABLE'));
    }
  }

  private open(): Promise<MediaFile> {
    this.opening ??= MediaFile.open(this.location).then((f) => {
      if (this.closed) { f.close(); throw new PlayerError('The player was released', 'UNREADABLE'); }
      this.file = f;
      for (const kind of KINDS) {
        const t = f.tracks[kind];
        if (!t) continue;
        this.params[kind] = { codec: codecParameters(t.codec, t.h264), frameCodec: t.codec, h264: t.h264 };
        this.emitSafe('received-codec', { kind, mimeType: this.params[kind]!.codec.mimeType });
      }
      for (const kind of KINDS) for (const r of this.routes.of(kind)) { r.invalidate(); r.check(this.sendingCodec(kind)); }
      return f;
    }, (e) => { this.opening = null; throw e; }); // a file that appears later can be played then
    return this.opening;
  }

  /** One frame out as RTP, stamped with its due time on the play-out clock. */
  private send(frame: FileFrame, dueMs: number): void {
    const p = this.params[frame.kind];
    if (!p) return;
    const s = this.rtp[frame.kind];
    const timestamp = (s.base + Math.round(((dueMs - this.epoch) / 1000) * CLOCK[frame.kind])) >>> 0;
    const routes = this.routes.of(frame.kind);
    const taps = this.taps[frame.kind];
    for (const part of packetize(frame.codec, frame.data, frame.keyframe, p.h264)) {
      s.seq = (s.seq + 1) & 0xffff;
      const rtp = new RtpPacket(new RtpHeader({ payloadType: p.codec.payloadType, sequenceNumber: s.seq, timestamp, ssrc: s.ssrc, marker: part.marker }), part.payload);
      if (frame.kind === 'video' && (p.frameCodec === 'vp8' || p.frameCodec === 'h264')) this.gop.push(rtp, p.frameCodec);
      if (routes.length || taps.length) this.flowOut.packet(frame.kind);
      this.routes.forward(frame.kind, rtp);
      for (let i = 0; i < taps.length; i++) {
        try { taps[i]!(rtp); } catch { /* a tap's failure must not stop the others */ }
      }
    }
  }

  private setState(state: PlayerState): void {
    this.stateNow = state;
    this.emitSafe('state', state);
  }

  private stopFlows(): void {
    for (const kind of KINDS) this.flowOut.stop(kind);
  }

  tick(): void {
    this.flowOut.tick();
  }

  // ---- as a source -----------------------------------------------------------------------------
  /** Feeds `sink` (a peer of this engine, on this thread or in a media worker). */
  connect(sink: MediaPeer, kinds: readonly MediaKind[]): void {
    if (this.closed) throw new Error('the player is closed');
    if (sink instanceof WeriftMediaPeer) this.routes.add(sink, kinds);
    else if (sink instanceof WorkerPeer) sink.feedFrom(this, kinds);
    else throw new Error('sink is not a media peer of this engine');
  }

  disconnect(sink: MediaPeer, kinds: readonly MediaKind[]): void {
    if (sink instanceof WeriftMediaPeer) for (const route of this.routes.to(sink, kinds)) this.routes.remove(route);
    else if (sink instanceof WorkerPeer) sink.unfeedFrom(this, kinds);
  }

  unroute(route: Route): void {
    this.routes.remove(route);
  }

  tap(kind: MediaKind, listener: RtpTap): () => void {
    this.taps[kind] = [...this.taps[kind], listener]; // copy-on-write, as routes
    return () => { this.taps[kind] = this.taps[kind].filter((t) => t !== listener); };
  }

  receivedParameters(kind: MediaKind): ReceivedParameters | undefined {
    const p = this.params[kind];
    return p && { codecs: [p.codec], headerExtensions: [] };
  }

  sendingCodec(kind: MediaKind): RTCRtpCodecParameters | undefined {
    return this.params[kind]?.codec;
  }

  receivedCodec(kind: MediaKind): string | undefined {
    return this.params[kind]?.codec.mimeType;
  }

  keyframeCache(): readonly RtpPacket[] | null {
    return this.gop.packets;
  }

  /** A file's keyframes come when they come: a late sink starts from the cached group instead. */
  requestKeyframe(): void {}

  addFarSinks(): () => void {
    return () => undefined;
  }

  isMediaFlowingOut(kind: MediaKind): boolean {
    return this.flowOut.isFlowing(kind);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.generation++;
    removeTicking(this);
    this.routes.clear();
    this.gop.clear();
    this.taps.audio = [];
    this.taps.video = [];
    this.file?.close();
    this.emitSafe('@closed');
    this.removeAllListeners();
  }

  private emitSafe<E extends keyof PlayerSourceEvents>(event: E, ...args: PlayerSourceEvents[E]): void {
    if (event === 'error' && this.listenerCount('error') === 0) return;
    try { this.emit(event, ...args); } catch { /* a listener's failure must not stop the play-out */ }
  }
}

/** The file's codec as RTP parameters, with the engine's payload types (H.264: the file's profile and level). */
function codecParameters(codec: FrameCodec, h264?: H264Parameters): RTCRtpCodecParameters {
  const server = serverCodecs();
  if (codec === 'opus') return server.audio[0]!;
  const c = server.video.find((v) => v.mimeType.toLowerCase() === (codec === 'vp8' ? 'video/vp8' : 'video/h264'))!;
  if (codec !== 'h264') return c;
  const sps = h264?.sps[0];
  const profileLevel = sps && parseSps(sps) && sps.length >= 4 ? Buffer.from(sps.subarray(1, 4)).toString('hex') : '42e01f';
  return new RTCRtpCodecParameters({ ...c, parameters: `level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=${profileLevel}` });
}
