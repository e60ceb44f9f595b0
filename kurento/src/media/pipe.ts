// A pipe carries one source peer's media to sinks in another engine worker, as mediasoup's
// pipeToRouter does: the source's worker sends each received packet once per worker (not once per
// sink), and in the sinks' worker a PipeSource stands in for the source: it keeps the keyframe
// group, feeds its Routes (forwarder.ts) as a local source would, and sends back what the sinks
// need of the real one (keyframe requests, their bandwidth for the source's REMB).
//
// Both ends speak PipeMessage over a port (a MessagePort between the two workers in the engine);
// the ends know nothing of threads, so a test can join them with a plain function call.
import { RTCRtpCodecParameters, RtpPacket } from 'werift';
import type { SinkBandwidth } from './bandwidth';
import { RouteSet, type ReceivedParameters, type Route, type RouteSource } from './forwarder';
import { GopCache, gopCodecOf } from './gop-cache';
import type { WeriftMediaPeer } from './peer';
import { addTicking, removeTicking, TICK_MS, type Ticking } from './ticker';
import type { MediaKind, MediaPeerEvents, RtpTap } from './types';

const KINDS: readonly MediaKind[] = ['audio', 'video'];

/** A source's negotiated parameters as they cross threads (structured clone drops classes). */
type WireParameters = { codecs: Record<string, unknown>[]; headerExtensions: { id: number; uri: string }[] };

/** One sink's bandwidth, sent back to the source's worker (`age`: ms since its remote's estimate). */
type WireBandwidth = { bps: number; age: number; min: number; max: number };

/** From the sinks' worker to the source's. `s` is the source peer's id. */
export type PipeUpstream =
  | { t: 'open'; s: number }
  | { t: 'close'; s: number }
  | { t: 'keyframe'; s: number }
  | { t: 'budget'; s: number; sinks: WireBandwidth[] };

/** From the source's worker to the sinks'. */
export type PipeDownstream =
  | { t: 'params'; s: number; audio?: WireParameters; video?: WireParameters; sending: Partial<Record<MediaKind, number>> }
  | { t: 'rtp'; s: number; k: MediaKind; b: Uint8Array }
  | { t: 'gone'; s: number };

export type PipeMessage = PipeUpstream | PipeDownstream;

/**
 * What a pipe's source end needs of the source: a peer in a worker, or a file played on the main
 * thread (player/player-source.ts) feeding sinks in the workers.
 */
export interface PipedSource {
  receivedParameters(kind: MediaKind): ReceivedParameters | undefined;
  sendingCodec(kind: MediaKind): RTCRtpCodecParameters | undefined;
  keyframeCache(): readonly RtpPacket[] | null;
  /** Every RTP packet of `kind` the source sends on (its listener gets werift RtpPackets). */
  tap(kind: MediaKind, listener: RtpTap): () => void;
  requestKeyframe(): void;
  /** Far sinks' bandwidth, for the source's REMB (a file has no sender to tell: it ignores them). */
  addFarSinks(sinks: () => readonly SinkBandwidth[]): () => void;
  on(event: 'received-codec', listener: (...args: MediaPeerEvents['received-codec']) => void): unknown;
  off(event: 'received-codec', listener: (...args: MediaPeerEvents['received-codec']) => void): unknown;
}

/** The source's end: taps the source and sends what it receives down the pipe. */
export class PipeOut {
  private readonly untap: (() => void)[] = [];
  private far: SinkBandwidth[] = [];
  private closed = false;

  /** `sourceId`: the source's id in the engine (both ends name it so). */
  constructor(readonly peer: PipedSource, private readonly sourceId: number, private readonly send: (m: PipeDownstream) => void) {
    const s = sourceId;
    this.sendParameters();
    // The keyframe group first, so the far side can start its sinks at once as a local source would.
    for (const rtp of peer.keyframeCache() ?? []) send({ t: 'rtp', s, k: 'video', b: rtp.serialize() });
    for (const kind of KINDS) {
      this.untap.push(peer.tap(kind, (rtp) => send({ t: 'rtp', s, k: kind, b: (rtp as RtpPacket).serialize() })));
    }
    const onCodec = () => this.sendParameters();
    peer.on('received-codec', onCodec);
    this.untap.push(() => peer.off('received-codec', onCodec));
    this.untap.push(peer.addFarSinks(() => this.far));
  }

  /** Upstream messages for this source. */
  receive(m: PipeUpstream): void {
    if (this.closed) return;
    if (m.t === 'keyframe') this.peer.requestKeyframe();
    else if (m.t === 'budget') {
      const now = Date.now();
      this.far = m.sinks.map((b) => ({ remoteEstimate: { bps: b.bps, at: now - b.age }, minVideoSendKbps: b.min, maxVideoSendKbps: b.max }));
    }
  }

  private sendParameters(): void {
    const wire = (kind: MediaKind): WireParameters | undefined => {
      const p = this.peer.receivedParameters(kind);
      return p && { codecs: p.codecs.map((c) => ({ ...c })), headerExtensions: p.headerExtensions.map((e) => ({ id: e.id, uri: e.uri })) };
    };
    const sending: Partial<Record<MediaKind, number>> = {};
    for (const kind of KINDS) {
      const pt = this.peer.sendingCodec(kind)?.payloadType;
      if (pt !== undefined) sending[kind] = pt;
    }
    this.send({ t: 'params', s: this.sourceId, audio: wire('audio'), video: wire('video'), sending });
  }

  /** Stops sending. `gone`: the source itself closed, and the far end is told. */
  close(gone: boolean): void {
    if (this.closed) return;
    this.closed = true;
    for (const u of this.untap.splice(0)) u();
    if (gone) this.send({ t: 'gone', s: this.sourceId });
  }
}

/**
 * The sinks' end: a RouteSource for the sinks of this worker. Closes itself when its last route
 * goes (and tells the source's worker), or when the source is gone.
 */
export class PipeSource implements RouteSource, Ticking {
  private readonly routes = new RouteSet(this);
  private params: Partial<Record<MediaKind, ReceivedParameters>> = {};
  private sending: Partial<Record<MediaKind, number>> = {};
  private readonly gop = new GopCache();
  private gopCodec: 'vp8' | 'h264' | null = null;
  private ticks = 0;
  private closed = false;

  /** `from`: the source's worker. */
  constructor(readonly sourceId: number, readonly from: number, private readonly send: (m: PipeUpstream) => void, private readonly onClose: () => void) {
    send({ t: 'open', s: sourceId });
    addTicking(this);
  }

  get isClosed(): boolean { return this.closed; }

  connect(sink: WeriftMediaPeer, kinds: readonly MediaKind[]): void {
    if (!this.closed) this.routes.add(sink, kinds);
  }

  disconnect(sink: WeriftMediaPeer, kinds: readonly MediaKind[]): void {
    for (const route of this.routes.to(sink, kinds)) this.unroute(route);
  }

  unroute(route: Route): void {
    this.routes.remove(route);
    if (this.routes.isEmpty) this.close(true);
  }

  /** Downstream messages for this source. */
  receive(m: PipeDownstream): void {
    if (this.closed) return;
    if (m.t === 'rtp') this.forward(m.k, RtpPacket.deSerialize(Buffer.from(m.b.buffer, m.b.byteOffset, m.b.byteLength)));
    else if (m.t === 'params') this.setParameters(m);
    else if (m.t === 'gone') this.close(false);
  }

  private setParameters(m: Extract<PipeDownstream, { t: 'params' }>): void {
    for (const kind of KINDS) {
      const w = m[kind];
      this.params[kind] = w && { codecs: w.codecs.map((c) => new RTCRtpCodecParameters(c as never)), headerExtensions: w.headerExtensions };
    }
    this.sending = m.sending;
    const gopCodec = gopCodecOf(this.sendingCodec('video')?.mimeType);
    if (gopCodec !== this.gopCodec) { this.gopCodec = gopCodec; this.gop.clear(); }
    for (const kind of KINDS) {
      for (const r of this.routes.of(kind)) { r.invalidate(); r.check(this.sendingCodec(kind)); }
    }
  }

  private forward(kind: MediaKind, rtp: RtpPacket): void {
    if (kind === 'video' && this.gopCodec) this.gop.push(rtp, this.gopCodec);
    this.routes.forward(kind, rtp);
  }

  receivedParameters(kind: MediaKind): ReceivedParameters | undefined {
    return this.params[kind];
  }

  sendingCodec(kind: MediaKind): RTCRtpCodecParameters | undefined {
    const pt = this.sending[kind];
    const codecs = this.params[kind]?.codecs;
    return pt === undefined ? codecs?.[0] : codecs?.find((c) => c.payloadType === pt);
  }

  keyframeCache(): readonly RtpPacket[] | null {
    return this.gop.packets;
  }

  requestKeyframe(): void {
    if (!this.closed) this.send({ t: 'keyframe', s: this.sourceId });
  }

  /** Every second: what this worker's video sinks can take, for the source's REMB (bandwidth.ts). */
  tick(): void {
    if (++this.ticks * TICK_MS < 1000) return;
    this.ticks = 0;
    const now = Date.now();
    const sinks: WireBandwidth[] = [];
    for (const r of this.routes.of('video')) {
      const s = r.sink as WeriftMediaPeer;
      const e = s.remoteEstimate;
      if (e) sinks.push({ bps: e.bps, age: now - e.at, min: s.minVideoSendKbps, max: s.maxVideoSendKbps });
    }
    if (sinks.length) this.send({ t: 'budget', s: this.sourceId, sinks });
  }

  /** `tell`: the source's worker is told to stop sending (not when it told us the source is gone). */
  close(tell: boolean): void {
    if (this.closed) return;
    this.closed = true;
    removeTicking(this);
    this.routes.clear();
    this.gop.clear();
    if (tell) this.send({ t: 'close', s: this.sourceId });
    this.onClose();
  }
}
