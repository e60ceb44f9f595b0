// One forwarding route: RTP of one kind from a source peer to a sink peer, without transcoding.
// Everything the sink's browser negotiated differently from the source's is rewritten here:
// payload type (per codec), header extension ids (by URI); werift's RTCRtpSender then stamps the
// sink's SSRC, its own sequence/timestamp offsets, mid and abs-send-time, encrypts and sends.
// This is the hot path: lookups are cached per route and invalidated when either side renegotiates.
import { RtpHeader, RtpPacket, type RTCRtpCodecParameters, type RTCRtpTransceiver } from 'werift';
import { findMatchingCodec, codecName, FORWARDED_EXTENSIONS } from './codecs';
import { rtpBytes } from './bandwidth';
import { sendForwarded } from './rtp-send';
import type { MediaKind } from './types';

/** What the source's remote negotiated to send of one kind: codecs by payload type, extensions by id. */
export interface ReceivedParameters {
  readonly codecs: readonly RTCRtpCodecParameters[];
  readonly headerExtensions: readonly { id: number; uri: string }[];
}

/** The sending end of routes: a peer, or a pipe from a peer in another engine worker (pipe.ts). */
export interface RouteSource {
  receivedParameters(kind: MediaKind): ReceivedParameters | undefined;
  /** The codec the source sends now, or said it would before any packet: checked against a new sink. */
  sendingCodec(kind: MediaKind): RTCRtpCodecParameters | undefined;
  requestKeyframe(): void;
  /** The source's last keyframe and the video packets since (ending with the latest), if kept. */
  keyframeCache(): readonly RtpPacket[] | null;
  /** Stops feeding the route's sink (it closed, or it takes another source now). */
  unroute(route: Route): void;
}

/** The receiving end of a route: a peer. */
export interface RouteSink {
  /** The source feeding this sink `kind`, if any. */
  sourceOf(kind: MediaKind): RouteSource | undefined;
  /** `route` feeds this sink from now on; the source feeding it before lets it go (one per kind, as KMS). */
  attachRoute(route: Route): void;
  /** The transceiver of `kind` that sends to the remote. */
  sendTransceiver(kind: MediaKind): RTCRtpTransceiver | undefined;
  /** Packets actually handed to the transport (flow-out detection, the sink's send rate): RTP bytes. */
  packetSent(kind: MediaKind, bytes: number): void;
  codecMismatch(kind: MediaKind, description: string): void;
  /** The route no longer feeds this sink (its source let it go). */
  detachRoute(route: Route): void;
}

const KINDS: readonly MediaKind[] = ['audio', 'video'];
const NOT_NEGOTIATED = null;

/**
 * The routes one source feeds, by kind: a peer's, or a pipe's from another worker (pipe.ts).
 * Copy-on-write, so a route added or removed while a packet is forwarded leaves that loop alone.
 */
export class RouteSet {
  private routes: Record<MediaKind, readonly Route[]> = { audio: [], video: [] };

  constructor(private readonly source: RouteSource) {}

  of(kind: MediaKind): readonly Route[] {
    return this.routes[kind];
  }

  get isEmpty(): boolean {
    return this.routes.audio.length === 0 && this.routes.video.length === 0;
  }

  /** Feeds `sink` the `kinds` (all when empty) it does not already get from this source. */
  add(sink: RouteSink, kinds: readonly MediaKind[]): void {
    for (const kind of kinds.length ? kinds : KINDS) {
      if (sink.sourceOf(kind) === this.source) continue;
      const route = new Route(this.source, sink, kind);
      this.routes[kind] = [...this.routes[kind], route];
      sink.attachRoute(route);
      // With a cached keyframe the new sink starts from it (Route); otherwise ask the sender for one.
      if (kind === 'video' && !this.source.keyframeCache()) this.source.requestKeyframe();
    }
  }

  /** The routes to `sink` of the `kinds` (all when empty). */
  to(sink: RouteSink, kinds: readonly MediaKind[]): Route[] {
    const found: Route[] = [];
    for (const kind of kinds.length ? kinds : KINDS) {
      const route = this.routes[kind].find((r) => r.sink === sink);
      if (route) found.push(route);
    }
    return found;
  }

  /** Ends one route; its sink is told. */
  remove(route: Route): void {
    this.routes[route.kind] = this.routes[route.kind].filter((r) => r !== route);
    route.sink.detachRoute(route);
  }

  /** Hot path: one packet of `kind` to every sink. */
  forward(kind: MediaKind, rtp: RtpPacket): void {
    const routes = this.routes[kind];
    for (let i = 0; i < routes.length; i++) routes[i]!.forward(rtp);
  }

  /** Ends every route (the source goes); each sink is told. */
  clear(): void {
    for (const kind of KINDS) {
      const routes = this.routes[kind];
      this.routes[kind] = [];
      for (const r of routes) r.sink.detachRoute(r);
    }
  }
}

/**
 * Senders that have carried forwarded RTP, by this route or an earlier one: a sink whose source is
 * replaced (a presenter that came back, connect() of another source) gets a new Route on the same
 * sender, whose sequence numbers and timestamps must go on from where the old source left them.
 */
const usedSenders = new WeakSet<object>();

export class Route {
  /** source payload type → sink codec (null: the sink did not negotiate that codec). */
  private ptMap = new Map<number, RTCRtpCodecParameters | null>();
  /** source extension id → sink extension id (0: drop). One-byte ids are 1..14; two-byte up to 255. */
  private extMap: Uint8Array | null = null;
  private sinkTx: RTCRtpTransceiver | null = null;
  private lastSsrc = -1;
  private started = false;

  constructor(readonly source: RouteSource, readonly sink: RouteSink, readonly kind: MediaKind) {}

  /** Either side renegotiated: recompute the mappings on the next packet. */
  invalidate(): void {
    this.ptMap.clear();
    this.extMap = null;
    this.sinkTx = null;
  }

  /** Checks, before any packet flows, whether the sink can take `codec` (the source's current codec). */
  check(codec: RTCRtpCodecParameters | undefined): void {
    if (!codec) return;
    const tx = this.sink.sendTransceiver(this.kind);
    if (!tx || tx.codecs.length === 0) return; // sink not negotiated yet: checked again when it is
    if (!findMatchingCodec(codec, tx.codecs)) this.reportMismatch(codec, tx);
  }

  /**
   * The sink's transport just connected: a video sink starts from the cached keyframe group now, not
   * at the source's next packet (up to a frame interval later: 67 ms at 15 fps).
   */
  startNow(): void {
    if (this.started || this.kind !== 'video') return;
    const gop = this.source.keyframeCache();
    if (gop && gop.length > 1) this.forward(gop[gop.length - 1]!);
  }

  forward(rtp: RtpPacket): void {
    let tx = this.sinkTx;
    if (!tx) {
      // Not cached until found: the sink may still be applying its local description.
      const found = this.sink.sendTransceiver(this.kind);
      if (!found) return;
      tx = this.sinkTx = found;
    }
    const sender = tx.sender;
    if (sender.dtlsTransport?.state !== 'connected') return;
    const h = rtp.header;
    if (rtp.payload.length === 0) return; // padding-only probe: meaningless to the sink

    let codec = this.ptMap.get(h.payloadType);
    if (codec === undefined) codec = this.resolveCodec(h.payloadType, tx);
    if (codec === NOT_NEGOTIATED) return;

    // A new sink starts from the source's cached keyframe when it has one: the packets since that
    // keyframe go out first, so the sink decodes at once instead of waiting for a new keyframe.
    let replay: readonly RtpPacket[] | null = null;
    if (!this.started && this.kind === 'video') {
      const gop = this.source.keyframeCache();
      if (gop && gop.length > 1 && gop[gop.length - 1] === rtp) replay = gop;
    }
    if (h.ssrc !== this.lastSsrc) {
      // A new upstream stream (first packet, the source re-negotiated, or this sink was fed by another
      // source before): keep the sink's sequence numbers and timestamps continuous, and ask for a
      // keyframe so the sink can start decoding. Without this the sink's receiver sees a random jump
      // (half the time backwards: every frame dropped as older than the last one decoded).
      if (this.lastSsrc !== -1 || usedSenders.has(sender)) continueFrom(sender, replay ? replay[0]!.header : h);
      this.lastSsrc = h.ssrc;
    }
    if (!this.started) {
      this.started = true;
      usedSenders.add(sender);
      if (replay) {
        for (let i = 0; i < replay.length - 1; i++) {
          const p = replay[i]!;
          let c = this.ptMap.get(p.header.payloadType);
          if (c === undefined) c = this.resolveCodec(p.header.payloadType, tx);
          if (c) this.send(sender, tx, p, c);
        }
      } else if (this.kind === 'video') {
        this.source.requestKeyframe();
      }
    }
    this.send(sender, tx, rtp, codec);
  }

  /** Rewrites one source packet for the sink (payload type, extension ids) and hands it to the sender. */
  private send(sender: RTCRtpTransceiver['sender'], tx: RTCRtpTransceiver, rtp: RtpPacket, codec: RTCRtpCodecParameters): void {
    const h = rtp.header;
    const extMap = this.extMap ?? this.buildExtMap(tx);
    let exts = NO_EXTENSIONS;
    const srcExts = h.extensions;
    for (let i = 0; i < srcExts.length; i++) {
      const e = srcExts[i]!;
      const id = extMap[e.id];
      if (id) {
        if (exts === NO_EXTENSIONS) exts = [];
        exts.push({ id, payload: e.payload });
      }
    }
    // werift's sender stamps `sender.codec.payloadType`; a sink that negotiated several codecs gets
    // the one matching this packet.
    if (sender.codec !== codec) sender.codec = codec;
    if (!sendForwarded(sender, rtp, codec.payloadType, exts)) {
      const header = new RtpHeader({
        marker: h.marker,
        payloadType: codec.payloadType,
        sequenceNumber: h.sequenceNumber,
        timestamp: h.timestamp,
        ssrc: h.ssrc,
        csrc: h.csrc,
        csrcLength: h.csrcLength,
        extensionProfile: h.extensionProfile,
        extensions: exts === NO_EXTENSIONS ? [] : exts,
      });
      sender.sendRtp(new RtpPacket(header, rtp.payload)).catch(() => undefined);
    }
    this.sink.packetSent(this.kind, rtpBytes(h, rtp.payload));
  }

  private resolveCodec(pt: number, tx: RTCRtpTransceiver): RTCRtpCodecParameters | null {
    const srcCodec = this.source.receivedParameters(this.kind)?.codecs.find((c) => c.payloadType === pt);
    if (!srcCodec) {
      // Not a payload type the source negotiated (werift already drops those): ignore silently.
      this.ptMap.set(pt, NOT_NEGOTIATED);
      return NOT_NEGOTIATED;
    }
    const sinkCodec = findMatchingCodec(srcCodec, tx.codecs) ?? NOT_NEGOTIATED;
    this.ptMap.set(pt, sinkCodec);
    if (!sinkCodec) this.reportMismatch(srcCodec, tx);
    return sinkCodec;
  }

  private reported = false;
  private reportMismatch(codec: RTCRtpCodecParameters, tx: RTCRtpTransceiver): void {
    if (this.reported) return;
    this.reported = true;
    const offered = [...new Set(tx.codecs.map(codecName))].join(', ') || 'none';
    this.sink.codecMismatch(this.kind,
      `The source sends ${this.kind} as ${codecName(codec)}, which this endpoint's remote peer did not negotiate ` +
      `(it accepts: ${offered}). Media is forwarded without transcoding, so no ${this.kind} will flow to it.`);
  }

  private buildExtMap(tx: RTCRtpTransceiver): Uint8Array {
    const map = new Uint8Array(256);
    for (const src of this.source.receivedParameters(this.kind)?.headerExtensions ?? []) {
      if (!FORWARDED_EXTENSIONS.includes(src.uri)) continue;
      const dst = tx.headerExtensions.find((e) => e.uri === src.uri);
      if (dst && src.id > 0 && src.id < 256) map[src.id] = dst.id;
    }
    this.extMap = map;
    return map;
  }
}

const NO_EXTENSIONS: { id: number; payload: Buffer }[] = [];

/**
 * The sender's next packet (`h`, of a new upstream stream) goes out with sequence number last + 2 (one
 * missing: the receiver knows to wait for a keyframe) and timestamp last + 1. werift 0.24's own
 * `replaceRTP(h, true)` means the same but adds the 1 with uint16Add, truncating the 32-bit timestamp
 * offset: a random timestamp jump, half the time backwards (libwebrtc then drops every frame).
 */
function continueFrom(sender: { replaceRTP(h: { sequenceNumber: number; timestamp: number }, discontinuity?: boolean): void }, h: RtpHeader): void {
  sender.replaceRTP({ sequenceNumber: (h.sequenceNumber - 2) & 0xffff, timestamp: (h.timestamp - 1) >>> 0 }, false);
}
