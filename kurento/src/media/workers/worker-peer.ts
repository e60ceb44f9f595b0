// The main thread's stand-in for a peer that lives in a media worker: the MediaPeer the object layer
// uses, with every call sent to the worker and every event brought back. What MediaPeer answers
// synchronously (descriptions, flow states, the received codec) is mirrored from replies and events.
import { EventEmitter } from 'node:events';
import type { PipedSource } from '../pipe';
import { SdpError, type IceCandidateInit, type MediaKind, type MediaPeer, type MediaPeerEvents, type RtpStreamStats, type RtpTap } from '../types';
import { MAIN_THREAD, type FromWorker, type PeerCall, type PeerPost, type SdpState, type ToWorker } from './protocol';

/** A source on the main thread (a played file) that feeds peers in workers through pipes. */
export interface MainThreadSource extends PipedSource {
  readonly id: number;
  readonly isClosed: boolean;
  once(event: '@closed', listener: () => void): unknown;
}

/** What a WorkerPeer needs of its worker (pool.ts). */
export interface PeerWorker {
  readonly index: number;
  send(m: ToWorker): void;
  call(peer: number, method: PeerCall, args: unknown[]): Promise<{ value: unknown; sdp?: SdpState }>;
  /** Makes `source` known to the worker's pipes from this thread (it opens one when a sink asks). */
  adoptSource(source: MainThreadSource): void;
}

export class WorkerPeer extends EventEmitter implements MediaPeer {
  private local: string | null = null;
  private remote: string | null = null;
  private readonly flowingIn = { audio: false, video: false };
  private readonly flowingOut = { audio: false, video: false };
  private readonly codecs: Partial<Record<MediaKind, string>> = {};
  private readonly taps: Record<MediaKind, RtpTap[]> = { audio: [], video: [] };
  private connected = false;
  private closing: Promise<void> | null = null;

  constructor(readonly id: number, readonly worker: PeerWorker) {
    super();
  }

  get closed(): boolean { return this.closing !== null; }

  override on<E extends keyof MediaPeerEvents>(event: E, listener: (...args: MediaPeerEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this; // eslint-disable-line @typescript-eslint/no-explicit-any
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); } // eslint-disable-line @typescript-eslint/no-explicit-any

  // ---- from the worker ------------------------------------------------------------------------
  /** One of the real peer's events. */
  deliver(m: Extract<FromWorker, { op: 'event' }>): void {
    if (this.closed) return;
    switch (m.name) {
      case 'flow-in': this.flowingIn[m.args[0].kind] = m.args[0].flowing; break;
      case 'flow-out': this.flowingOut[m.args[0].kind] = m.args[0].flowing; break;
      case 'received-codec': this.codecs[m.args[0].kind] = m.args[0].mimeType; break;
      case 'connection-state': this.connected = m.args[0] === 'CONNECTED'; break;
      case 'error': if (this.listenerCount('error') === 0) return; break;
    }
    try { this.emit(m.name, ...m.args); } catch { /* a listener's bug must not stop the others */ }
  }

  deliverRtp(m: Extract<FromWorker, { op: 'rtp' }>): void {
    const rtp = { payload: Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength), header: { marker: m.marker, timestamp: m.timestamp, sequenceNumber: m.sequenceNumber } };
    for (const t of this.taps[m.kind]) {
      try { t(rtp); } catch { /* a tap's failure must not stop the others */ }
    }
  }

  /** The worker died: whatever was up is down, and the object layer hears it as an error. */
  workerLost(): void {
    if (this.closed) return;
    if (this.connected) { this.connected = false; this.emit('connection-state', 'DISCONNECTED'); }
    for (const kind of ['audio', 'video'] as const) {
      if (this.flowingIn[kind]) { this.flowingIn[kind] = false; this.emit('flow-in', { kind, flowing: false }); }
      if (this.flowingOut[kind]) { this.flowingOut[kind] = false; this.emit('flow-out', { kind, flowing: false }); }
    }
    if (this.listenerCount('error') > 0) this.emit('error', { type: 'MEDIA_WORKER_LOST', description: `media worker ${this.worker.index} stopped`, errorCode: 1 });
  }

  // ---- MediaPeer ------------------------------------------------------------------------------
  get localDescription(): string | null { return this.local; }
  get remoteDescription(): string | null { return this.remote; }

  processOffer(offer: string): Promise<string> { return this.sdpCall('processOffer', [offer]); }
  generateOffer(): Promise<string> { return this.sdpCall('generateOffer', []); }
  processAnswer(answer: string): Promise<string> { return this.sdpCall('processAnswer', [answer]); }
  async gatherCandidates(): Promise<void> { await this.invoke('gatherCandidates', []); }
  async addIceCandidate(candidate: IceCandidateInit): Promise<void> { await this.invoke('addIceCandidate', [candidate]); }
  async rtpStats(): Promise<RtpStreamStats[]> { return (await this.invoke('rtpStats', [])) as RtpStreamStats[]; }

  connect(sink: MediaPeer, kinds: readonly MediaKind[]): void {
    this.assertOpen();
    if (!(sink instanceof WorkerPeer)) throw new Error('sink is not a media peer of this engine');
    if (sink.closed) throw new Error('sink is closed');
    sink.worker.send({ op: 'connect', source: this.id, from: this.worker.index, sink: sink.id, kinds: [...kinds] });
  }

  disconnect(sink: MediaPeer, kinds: readonly MediaKind[]): void {
    if (!(sink instanceof WorkerPeer) || sink.closed) return;
    sink.worker.send({ op: 'disconnect', source: this.id, from: this.worker.index, sink: sink.id, kinds: [...kinds] });
  }

  /** `source`, on the main thread, feeds this peer the `kinds` (a pipe from here to the worker). */
  feedFrom(source: MainThreadSource, kinds: readonly MediaKind[]): void {
    if (this.closed) throw new Error('sink is closed');
    this.worker.adoptSource(source);
    this.worker.send({ op: 'connect', source: source.id, from: MAIN_THREAD, sink: this.id, kinds: [...kinds] });
  }

  unfeedFrom(source: MainThreadSource, kinds: readonly MediaKind[]): void {
    if (!this.closed) this.worker.send({ op: 'disconnect', source: source.id, from: MAIN_THREAD, sink: this.id, kinds: [...kinds] });
  }

  tap(kind: MediaKind, listener: RtpTap): () => void {
    const wasEmpty = this.taps[kind].length === 0;
    this.taps[kind] = [...this.taps[kind], listener];
    if (wasEmpty && !this.closed) this.worker.send({ op: 'tap', peer: this.id, kind, on: true });
    return () => {
      const before = this.taps[kind].length;
      this.taps[kind] = this.taps[kind].filter((t) => t !== listener);
      if (before > 0 && this.taps[kind].length === 0 && !this.closed) this.worker.send({ op: 'tap', peer: this.id, kind, on: false });
    };
  }

  receivedCodec(kind: MediaKind): string | undefined { return this.codecs[kind]; }
  requestKeyframe(): void { this.post('requestKeyframe', []); }
  setVideoRecvBandwidth(kbps: number): void { this.post('setVideoRecvBandwidth', [kbps]); }
  setVideoSendBandwidth(minKbps: number, maxKbps: number): void { this.post('setVideoSendBandwidth', [minKbps, maxKbps]); }
  isMediaFlowingIn(kind: MediaKind): boolean { return this.flowingIn[kind]; }
  isMediaFlowingOut(kind: MediaKind): boolean { return this.flowingOut[kind]; }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.taps.audio = [];
      this.taps.video = [];
      await this.worker.call(this.id, 'close', []).catch(() => undefined);
      this.emit('@closed'); // the worker handle forgets this peer
      this.removeAllListeners();
    })();
    return this.closing;
  }

  // ---- helpers --------------------------------------------------------------------------------
  private async sdpCall(method: PeerCall, args: unknown[]): Promise<string> {
    this.assertOpen();
    const { value, sdp } = await this.worker.call(this.id, method, args);
    if (sdp) { this.local = sdp.local; this.remote = sdp.remote; }
    return value as string;
  }

  private async invoke(method: PeerCall, args: unknown[]): Promise<unknown> {
    this.assertOpen();
    return (await this.worker.call(this.id, method, args)).value;
  }

  private post(method: PeerPost, args: number[]): void {
    if (!this.closed) this.worker.send({ op: 'post', peer: this.id, method, args });
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('media peer is closed');
  }
}

/** A failed call's error as the peer threw it in the worker (SdpError keeps its kind: the object layer maps it to KMS codes). */
export function callError(message: string, sdpKind?: string): Error {
  return sdpKind ? new SdpError(message, sdpKind as SdpError['kind']) : new Error(message);
}
