// A server-side WebRTC peer (werift) with KMS WebRtcEndpoint semantics: trickle ICE only after
// gatherCandidates(), answers/offers without candidates, media forwarded to connected sinks.
import { EventEmitter } from 'node:events';
import {
  RTCPeerConnection, RtcpPayloadSpecificFeedback, ReceiverEstimatedMaxBitrate,
  type RTCRtpTransceiver, type RtpPacket, type RTCTrackEvent, type MediaStreamTrack, type RtcpPacket, type RTCRtpCodecParameters,
} from 'werift';
import { serverCodecs, serverHeaderExtensions } from './codecs';
import { FlowMonitor } from './flow';
import { RouteSet, type ReceivedParameters, type Route, type RouteSink, type RouteSource } from './forwarder';
import { iceConfig } from './ice-config';
import { newDtlsKeys } from './dtls-identity';
import { installDtlsRetransmitFix } from './dtls-retransmit';
import { installEarlyDtlsStart } from './dtls-start';
import { installNativeEcdh } from './dtls-ecdh';
import { routeFeedbackByMediaSource } from './rtcp-routing';
import { installIceAddressFilter } from './ice-addresses';
import { KeyframeLimiter } from './keyframe';
import { GopCache, gopCodecOf } from './gop-cache';
import { checkSdp, isMdnsCandidate, stripCandidates, withoutMdnsCandidates } from './sdp';
import { addTicking, removeTicking, TICK_MS } from './ticker';
import { LossEstimate, rembBitrate, rtpBytes, videoBudget, type SinkBandwidth } from './bandwidth';
import {
  SdpError, type RtpStreamStats, type RtpTap, type IceCandidateInit, type IceComponentState, type MediaKind, type MediaPeer, type MediaPeerEvents, type PeerOptions,
} from './types';

const KINDS: readonly MediaKind[] = ['audio', 'video'];
const PLI = 1;
const FIR = 4;

export interface WeriftPeerOptions extends PeerOptions {
  /** Upper bound (kbps) advertised to the remote sender with REMB, as KMS maxVideoRecvBandwidth (default 500; 0 = none). */
  maxVideoRecvBandwidth?: number;
  /** Minimum interval between keyframe requests sent upstream (ms). */
  keyframeIntervalMs?: number;
}

let peerSeq = 0;

export class WeriftMediaPeer extends EventEmitter implements MediaPeer, RouteSink, RouteSource {
  readonly id = ++peerSeq;
  private readonly pc: RTCPeerConnection;
  private closed = false;
  private closing: Promise<void> | null = null;
  private localSdp: string | null = null;
  private remoteSdp: string | null = null;
  /** setLocalDescription runs in the background (it gathers): answers go out at once, as KMS's do. */
  private localApplied: Promise<void> = Promise.resolve();
  private offerPending = false;

  private gatherRequested = false;
  private gatherDone = false;
  private readonly pendingCandidates: IceCandidateInit[] = [];

  private readonly outRoutes = new RouteSet(this);
  private readonly inRoutes: Partial<Record<MediaKind, Route>> = {};
  private readonly subscribed = new WeakSet<MediaStreamTrack>();
  private readonly recvTx: Partial<Record<MediaKind, RTCRtpTransceiver>> = {};
  private lastVideoSsrc = 0;
  /** Codec of the last packet received per kind (to check a newly connected sink). */
  private readonly currentCodec: Partial<Record<MediaKind, RTCRtpCodecParameters>> = {};
  private readonly flowIn: FlowMonitor;
  private readonly flowOut: FlowMonitor;
  private readonly keyframes: KeyframeLimiter;
  private maxVideoRecvBps: number;
  private rembTicks = 0;
  /** As a sink: KMS's min/maxVideoSendBandwidth (kbps) and the remote's latest REMB (bandwidth.ts). */
  minVideoSendKbps: number;
  maxVideoSendKbps: number;
  private remb: { bps: number; at: number } | null = null;
  private readonly loss = new LossEstimate();
  /** RTP bytes sent to / received from the remote since the last tick second, and the rates they made (bps). */
  private readonly bytes = { sent: { audio: 0, video: 0 }, received: { audio: 0, video: 0 } };
  private readonly rates = { sent: { audio: 0, video: 0 }, received: { audio: 0, video: 0 } };
  /** The last REMB sent to the remote sender (bps; 0: none yet). */
  private rembSentBps = 0;
  private get sentBps(): number { return this.rates.sent.audio + this.rates.sent.video; }

  private connected = false;
  private iceState: IceComponentState | null = null;

  constructor(opts: WeriftPeerOptions = {}) {
    super();
    installIceAddressFilter();
    installDtlsRetransmitFix();
    installEarlyDtlsStart();
    installNativeEcdh();
    this.pc = new RTCPeerConnection({ ...iceConfig(opts), codecs: serverCodecs(), headerExtensions: serverHeaderExtensions(), dtls: { keys: newDtlsKeys() } });
    routeFeedbackByMediaSource(this.pc, {
      onRemb: (bps) => { this.remb = { bps, at: Date.now() }; },
      onLoss: (fraction) => this.loss.report(fraction, this.sentBps, Date.now()),
    });
    this.maxVideoRecvBps = (opts.maxVideoRecvBandwidth ?? 500) * 1000;
    this.minVideoSendKbps = opts.minVideoSendBandwidth ?? 100;
    this.maxVideoSendKbps = opts.maxVideoSendBandwidth ?? 500;
    this.flowIn = new FlowMonitor((kind, flowing) => {
      // Video back after a stall (the presenter's network dropped for a while): what comes first
      // references frames the sinks never got, and libwebrtc viewers ask for a keyframe only after
      // 3 s with nothing decodable. Ask the source now (chaos scenario 5: a 2 s drop froze viewers
      // 5 s about half the time, 2 s with this).
      if (kind === 'video' && flowing && this.flowIn.counts.video > 1) this.keyframes.request();
      this.emitSafe('flow-in', { kind, flowing });
    });
    this.flowOut = new FlowMonitor((kind, flowing) => this.emitSafe('flow-out', { kind, flowing }));
    this.keyframes = new KeyframeLimiter(() => this.sendKeyframeRequest(), opts.keyframeIntervalMs ?? 400);
    this.wire();
    addTicking(this);
  }

  // ---- typed events -------------------------------------------------------------------------
  override on<E extends keyof MediaPeerEvents>(event: E, listener: (...args: MediaPeerEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); }

  private emitSafe<E extends keyof MediaPeerEvents>(event: E, ...args: MediaPeerEvents[E]): void {
    if (this.closed) return;
    // An 'error' without listeners would throw from inside werift's callbacks: never let it.
    if (event === 'error' && this.listenerCount('error') === 0) return;
    try { this.emit(event, ...args); } catch { /* a listener's bug must not break media */ }
  }

  // ---- werift wiring --------------------------------------------------------------------------
  private wire(): void {
    const pc = this.pc;
    pc.onRemoteTransceiverAdded.subscribe((tx) => {
      // werift creates remote-offered transceivers recvonly; a WebRtcEndpoint is both sink and
      // source, so answer with the reverse of whatever the remote offered (sendonly ↔ recvonly).
      tx.setDirection('sendrecv');
      this.watchTransceiver(tx);
    });
    pc.on('track', (e: RTCTrackEvent) => this.watchTrack(e.track, e.transceiver));
    pc.onIceCandidate.subscribe((c) => {
      if (!c) {
        this.gatherDone = true;
        if (this.gatherRequested) this.emitSafe('gathering-done');
        return;
      }
      const cand: IceCandidateInit = {
        candidate: c.candidate.startsWith('candidate:') ? c.candidate : `candidate:${c.candidate}`,
        sdpMid: c.sdpMid ?? '0',
        sdpMLineIndex: c.sdpMLineIndex ?? 0,
      };
      if (this.gatherRequested) this.emitSafe('candidate', cand);
      else this.pendingCandidates.push(cand);
    });
    pc.iceConnectionStateChange.subscribe((s) => {
      const map: Record<string, IceComponentState | undefined> = {
        checking: 'CONNECTING', connected: 'CONNECTED', failed: 'FAILED', disconnected: 'DISCONNECTED', closed: 'DISCONNECTED',
      };
      const state = map[s];
      if (!state) return;
      this.setIceState(state);
      if (s === 'connected') {
        // libnice (KMS) reports CONNECTED then READY once a pair is nominated.
        this.emitPairSelected();
        this.setIceState('READY');
      }
    });
    pc.connectionStateChange.subscribe((s) => {
      if (s === 'connected' && !this.connected) {
        this.connected = true;
        this.inRoutes.video?.startNow();
        this.emitSafe('connection-state', 'CONNECTED');
      } else if ((s === 'disconnected' || s === 'failed' || s === 'closed') && this.connected) {
        this.connected = false;
        this.emitSafe('connection-state', 'DISCONNECTED');
      }
    });
  }

  private setIceState(state: IceComponentState): void {
    if (this.iceState === state) return;
    this.iceState = state;
    this.emitSafe('ice-component-state', { state, streamId: '1', componentId: 1 });
  }

  private emitPairSelected(): void {
    const conn = this.pc.iceTransports[0]?.connection as unknown as {
      nominated?: { localCandidate: { toSdp(): string }; remoteCandidate: { toSdp(): string } };
    } | undefined;
    const pair = conn?.nominated;
    if (!pair) return;
    const sdp = (c: { toSdp(): string }) => { const s = c.toSdp(); return s.startsWith('candidate:') ? s : `candidate:${s}`; };
    this.emitSafe('candidate-pair-selected', {
      streamID: '1', componentID: 1, localCandidate: sdp(pair.localCandidate), remoteCandidate: sdp(pair.remoteCandidate),
    });
  }

  private watchTransceiver(tx: RTCRtpTransceiver): void {
    // Keyframe requests (PLI/FIR) that this peer's remote (a viewer) sends about what we send it.
    tx.sender.onRtcp.subscribe((p: RtcpPacket) => {
      if (p.type !== RtcpPayloadSpecificFeedback.type) return;
      const count = (p as RtcpPayloadSpecificFeedback).feedback.count;
      if (count === PLI || count === FIR) {
        this.keyframeRequestsReceived++;
        this.inRoutes.video?.source.requestKeyframe();
      }
    });
  }

  private watchTrack(track: MediaStreamTrack, tx: RTCRtpTransceiver): void {
    const kind = track.kind as MediaKind;
    this.recvTx[kind] = tx;
    if (this.subscribed.has(track)) return;
    this.subscribed.add(track);
    track.onReceiveRtp.subscribe((rtp: RtpPacket) => this.onRtp(kind, rtp));
  }

  /** Hot path: one RTP packet from the remote peer. */
  private onRtp(kind: MediaKind, rtp: RtpPacket): void {
    if (this.closed) return;
    this.flowIn.packet(kind);
    const pt = rtp.header.payloadType;
    if (kind === 'video') this.lastVideoSsrc = rtp.header.ssrc;
    this.bytes.received[kind] += rtpBytes(rtp.header, rtp.payload);
    const cur = this.currentCodec[kind];
    if (!cur || cur.payloadType !== pt) {
      const codec = this.recvTx[kind]?.codecs.find((c) => c.payloadType === pt);
      if (codec) { this.currentCodec[kind] = codec; this.emitSafe('received-codec', { kind, mimeType: codec.mimeType }); }
      if (kind === 'video') {
        this.gopCodec = gopCodecOf(codec?.mimeType);
        this.gop.clear();
      }
    }
    if (kind === 'video' && this.gopCodec) this.gop.push(rtp, this.gopCodec);
    this.outRoutes.forward(kind, rtp);
    const taps = this.taps[kind];
    for (let i = 0; i < taps.length; i++) {
      try { taps[i]!(rtp); } catch { /* a tap's failure must not stop forwarding */ }
    }
  }

  private readonly taps: Record<MediaKind, RtpTap[]> = { audio: [], video: [] };
  private readonly gop = new GopCache();
  private gopCodec: 'vp8' | 'h264' | null = null;

  keyframeCache(): readonly RtpPacket[] | null {
    return this.gop.packets;
  }

  tap(kind: MediaKind, listener: RtpTap): () => void {
    this.taps[kind] = [...this.taps[kind], listener]; // copy-on-write, as routes
    if (kind === 'video') this.requestKeyframe();
    return () => { this.taps[kind] = this.taps[kind].filter((t) => t !== listener); };
  }

  receivedCodec(kind: MediaKind): string | undefined {
    return (this.currentCodec[kind] ?? this.negotiatedCodec(kind))?.mimeType;
  }

  tick(): void {
    this.flowIn.tick();
    this.flowOut.tick();
    // REMB every ~1 s: what the remote may send us, from maxVideoRecvBandwidth and our sinks (bandwidth.ts).
    if (++this.rembTicks * TICK_MS < 1000) return;
    const seconds = (this.rembTicks * TICK_MS) / 1000;
    this.rembTicks = 0;
    for (const dir of ['sent', 'received'] as const) {
      for (const kind of KINDS) { this.rates[dir][kind] = (this.bytes[dir][kind] * 8) / seconds; this.bytes[dir][kind] = 0; }
    }
    if (!this.lastVideoSsrc || !this.flowIn.isFlowing('video')) return;
    const sinks: SinkBandwidth[] = this.outRoutes.of('video').map((r) => r.sink as WeriftMediaPeer);
    for (const more of this.farSinks) sinks.push(...more());
    const budget = videoBudget(this.maxVideoRecvBps, sinks, this.rates.received.audio, Date.now());
    if (budget > 0) this.sendRemb(budget);
  }

  /** As a sink: what the remote can take, by its REMB and by its loss, whichever is lower (bandwidth.ts). */
  get remoteEstimate(): { bps: number; at: number } | null {
    const byLoss = this.loss.bps > 0 ? { bps: this.loss.bps, at: this.loss.at } : null;
    if (!this.remb || !byLoss) return this.remb ?? byLoss;
    return this.remb.bps <= byLoss.bps ? this.remb : byLoss;
  }

  /** Sinks fed through pipes in other engine workers (pipe.ts): their bandwidth counts in the REMB. */
  private farSinks: (() => readonly SinkBandwidth[])[] = [];

  addFarSinks(sinks: () => readonly SinkBandwidth[]): () => void {
    this.farSinks = [...this.farSinks, sinks];
    return () => { this.farSinks = this.farSinks.filter((s) => s !== sinks); };
  }

  setVideoRecvBandwidth(kbps: number): void {
    this.maxVideoRecvBps = kbps * 1000;
  }

  /** KMS's minVideoSendBandwidth / maxVideoSendBandwidth (kbps; max 0 = none), changed at any time. */
  setVideoSendBandwidth(minKbps: number, maxKbps: number): void {
    this.minVideoSendKbps = minKbps;
    this.maxVideoSendKbps = maxKbps;
  }

  private sendRemb(bps: number): void {
    this.rembSentBps = bps;
    const tx = this.recvTx.video;
    if (!tx || tx.receiver.dtlsTransport?.state !== 'connected') return;
    if (!tx.codecs.some((c) => c.rtcpFeedback.some((f) => f.type === 'goog-remb'))) return;
    const packet = new RtcpPayloadSpecificFeedback({
      feedback: new ReceiverEstimatedMaxBitrate({
        senderSsrc: tx.receiver.rtcpSsrc, mediaSsrc: 0, ssrcNum: 1, ssrcFeedbacks: [this.lastVideoSsrc], ...rembBitrate(bps),
      }),
    });
    tx.receiver.dtlsTransport.sendRtcp([packet]).catch(() => undefined);
  }

  // ---- RouteSource / RouteSink ----------------------------------------------------------------
  private recvTransceiver(kind: MediaKind): RTCRtpTransceiver | undefined {
    return this.recvTx[kind] ?? this.pc.getTransceivers().find((t) => t.kind === kind && /recv/.test(t.currentDirection ?? ''));
  }

  sendTransceiver(kind: MediaKind): RTCRtpTransceiver | undefined {
    return this.pc.getTransceivers().find((t) => t.kind === kind && /send/.test(t.currentDirection ?? ''));
  }

  receivedParameters(kind: MediaKind): ReceivedParameters | undefined {
    const tx = this.recvTransceiver(kind);
    return tx && { codecs: tx.codecs, headerExtensions: tx.headerExtensions };
  }

  sendingCodec(kind: MediaKind): RTCRtpCodecParameters | undefined {
    return this.currentCodec[kind] ?? this.negotiatedCodec(kind);
  }

  sourceOf(kind: MediaKind): RouteSource | undefined {
    return this.inRoutes[kind]?.source;
  }

  attachRoute(route: Route): void {
    const existing = this.inRoutes[route.kind];
    if (existing) existing.source.unroute(existing);
    this.inRoutes[route.kind] = route;
    route.check(route.source.sendingCodec(route.kind));
  }

  detachRoute(route: Route): void {
    if (this.inRoutes[route.kind] !== route) return;
    delete this.inRoutes[route.kind];
    this.flowOut.stop(route.kind);
  }

  packetSent(kind: MediaKind, bytes: number): void {
    this.flowOut.packet(kind);
    this.bytes.sent[kind] += bytes;
  }

  codecMismatch(kind: MediaKind, description: string): void {
    // KMS reports caps negotiation failures with GStreamer's NOT_NEGOTIATED flow return.
    this.emitSafe('error', { type: 'NOT_NEGOTIATED', description, errorCode: 2 });
    void kind;
  }

  requestKeyframe(): void {
    if (!this.closed) this.keyframes.request();
  }

  private keyframeRequestsSent = 0;
  private keyframeRequestsReceived = 0;

  private sendKeyframeRequest(): void {
    const tx = this.recvTx.video;
    if (!tx || !this.lastVideoSsrc || tx.receiver.dtlsTransport?.state !== 'connected') return;
    this.keyframeRequestsSent++;
    tx.receiver.sendRtcpPLI(this.lastVideoSsrc).catch(() => undefined);
  }

  // ---- SDP ------------------------------------------------------------------------------------
  get localDescription(): string | null { return this.localSdp; }
  get remoteDescription(): string | null { return this.remoteSdp; }

  async processOffer(offer: string): Promise<string> {
    this.assertOpen();
    const sdp = checkSdp(offer, 'SDP_END_POINT_PROCESS_OFFER_ERROR');
    if (this.offerPending) throw new SdpError('An offer was generated by this endpoint: call processAnswer', 'SDP_END_POINT_PROCESS_OFFER_ERROR');
    if (this.localSdp && this.remoteSdp) throw new SdpError('Endpoint already negotiated', 'SDP_END_POINT_ALREADY_NEGOTIATED');
    let answerSdp: string;
    try {
      await this.pc.setRemoteDescription({ type: 'offer', sdp: withoutMdnsCandidates(sdp) });
      const answer = await this.pc.createAnswer();
      answerSdp = answer.sdp;
      this.localApplied = this.applyLocal({ type: 'answer', sdp: answer.sdp });
    } catch (e) {
      throw new SdpError(`Cannot process offer: ${errText(e)}`, 'SDP_END_POINT_PROCESS_OFFER_ERROR');
    }
    this.remoteSdp = sdp;
    this.localSdp = stripCandidates(answerSdp);
    // Directions (hence which transceiver sends) are final once the local answer is applied.
    void this.localApplied.then(() => { if (!this.closed) this.negotiated(); });
    return this.localSdp;
  }

  async generateOffer(): Promise<string> {
    this.assertOpen();
    if (this.localSdp) throw new SdpError('Endpoint already negotiated or offer already generated', 'SDP_END_POINT_ALREADY_NEGOTIATED');
    try {
      for (const kind of KINDS) {
        if (!this.pc.getTransceivers().some((t) => t.kind === kind)) this.watchTransceiver(this.pc.addTransceiver(kind, { direction: 'sendrecv' }));
      }
      const offer = await this.pc.createOffer();
      this.localApplied = this.applyLocal({ type: 'offer', sdp: offer.sdp });
      this.localSdp = stripCandidates(offer.sdp);
      this.offerPending = true;
      return this.localSdp;
    } catch (e) {
      throw new SdpError(`Cannot generate offer: ${errText(e)}`, 'SDP_END_POINT_GENERATE_OFFER_ERROR');
    }
  }

  async processAnswer(answer: string): Promise<string> {
    this.assertOpen();
    if (!this.offerPending) {
      if (this.remoteSdp) throw new SdpError('Endpoint already negotiated', 'SDP_END_POINT_ALREADY_NEGOTIATED');
      throw new SdpError('No offer was generated: call generateOffer first', 'SDP_END_POINT_NOT_OFFER_GENERATED');
    }
    const sdp = checkSdp(answer, 'SDP_END_POINT_PROCESS_ANSWER_ERROR');
    try {
      await this.localApplied;
      await this.pc.setRemoteDescription({ type: 'answer', sdp: withoutMdnsCandidates(sdp) });
    } catch (e) {
      throw new SdpError(`Cannot process answer: ${errText(e)}`, 'SDP_END_POINT_PROCESS_ANSWER_ERROR');
    }
    this.offerPending = false;
    this.remoteSdp = sdp;
    this.negotiated();
    return this.localSdp!;
  }

  private async applyLocal(desc: { type: 'offer' | 'answer'; sdp: string }): Promise<void> {
    try {
      await this.pc.setLocalDescription(desc);
    } catch (e) {
      if (!this.closed) this.emitSafe('error', { type: 'SDP_ERROR', description: `Cannot apply local description: ${errText(e)}`, errorCode: 40208 });
    }
  }

  /** Both descriptions are set: mappings may have changed; check codecs of connected routes now. */
  private negotiated(): void {
    for (const kind of KINDS) {
      for (const r of this.outRoutes.of(kind)) { r.invalidate(); r.check(this.currentCodec[kind]); }
      const inR = this.inRoutes[kind];
      if (inR) { inR.invalidate(); inR.check(inR.source.sendingCodec(kind)); }
      this.emitSafe('received-codec', { kind, mimeType: this.receivedCodec(kind) });
    }
  }

  /** The codec the remote said it would send first, before any packet arrived. */
  private negotiatedCodec(kind: MediaKind): RTCRtpCodecParameters | undefined {
    const tx = this.recvTransceiver(kind);
    if (!tx || !/recv/.test(tx.currentDirection ?? '')) return undefined;
    return tx.codecs[0];
  }

  // ---- ICE ------------------------------------------------------------------------------------
  async gatherCandidates(): Promise<void> {
    this.assertOpen();
    if (this.gatherRequested) return;
    this.gatherRequested = true;
    const pending = this.pendingCandidates.splice(0);
    for (const c of pending) this.emitSafe('candidate', c);
    if (this.gatherDone) this.emitSafe('gathering-done');
    else this.setIceState('GATHERING');
  }

  async addIceCandidate(candidate: IceCandidateInit): Promise<void> {
    this.assertOpen();
    const text = typeof candidate?.candidate === 'string' ? candidate.candidate.replace(/^a=/, '') : '';
    if (text === '') return; // end-of-candidates marker: nothing to do
    if (!/^candidate:\S+ \d+ (udp|tcp) \d+ \S+ \d+ typ (host|srflx|prflx|relay)\b/i.test(text)) {
      throw new SdpError(`Invalid ICE candidate: ${text.slice(0, 120)}`, 'SDP_PARSE_ERROR');
    }
    if (isMdnsCandidate(text)) return; // never resolved (see isMdnsCandidate): accepted and ignored
    const mid = candidate.sdpMid ?? null;
    try {
      // Chrome's non-standard `generation N` counts ICE restarts on ITS connection; werift compares
      // it with its own count and never nominates a pair whose numbers differ. A browser that
      // restarts ICE towards a new endpoint (generation 1+ meets a fresh 0) would then stay checking
      // for ever. libnice (KMS) ignores the attribute: so does this engine.
      await this.pc.addIceCandidate({ candidate: text.replace(/ generation \d+/, ''), sdpMid: mid ?? undefined, sdpMLineIndex: candidate.sdpMLineIndex ?? 0 });
    } catch (e) {
      throw new SdpError(`Cannot add ICE candidate: ${errText(e)}`, 'SDP_PARSE_ERROR');
    }
  }

  // ---- connections ----------------------------------------------------------------------------
  connect(sink: MediaPeer, kinds: readonly MediaKind[]): void {
    this.assertOpen();
    if (!(sink instanceof WeriftMediaPeer)) throw new Error('sink is not a media peer of this engine');
    if (sink.closed) throw new Error('sink is closed');
    this.outRoutes.add(sink, kinds);
  }

  disconnect(sink: MediaPeer, kinds: readonly MediaKind[]): void {
    if (!(sink instanceof WeriftMediaPeer)) return;
    for (const route of this.outRoutes.to(sink, kinds)) this.outRoutes.remove(route);
  }

  unroute(route: Route): void {
    this.outRoutes.remove(route);
  }

  /** Sinks currently fed by this peer (for the object layer and tests). */
  sinks(kind: MediaKind): MediaPeer[] {
    return this.outRoutes.of(kind).map((r) => r.sink as WeriftMediaPeer);
  }

  /**
   * Every RTP stream of this peer, as KMS's getStats reports them: werift's counters (packets,
   * bytes, loss, jitter, RTT from the receiver reports) with the rates and REMBs measured here.
   */
  async rtpStats(): Promise<RtpStreamStats[]> {
    const out: RtpStreamStats[] = [];
    const report = await this.pc.getStats();
    const all = [...report.values()] as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
    const byId = new Map(all.map((s) => [s.id as string, s]));
    for (const s of all) {
      if (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp') continue;
      const kind = s.kind as MediaKind;
      if (kind !== 'audio' && kind !== 'video') continue;
      const inbound = s.type === 'inbound-rtp';
      const remote = s.remoteId ? byId.get(s.remoteId) : undefined;
      out.push({
        direction: inbound ? 'inbound' : 'outbound', kind, ssrc: s.ssrc,
        packets: (inbound ? s.packetsReceived : s.packetsSent) ?? 0,
        bytes: (inbound ? s.bytesReceived : s.bytesSent) ?? 0,
        packetsLost: (inbound ? s.packetsLost : remote?.packetsLost) ?? 0,
        fractionLost: inbound ? 0 : remote?.fractionLost ?? 0,
        jitter: inbound ? s.jitter ?? 0 : 0,
        roundTripTime: inbound ? 0 : remote?.roundTripTime ?? 0,
        nackCount: s.nackCount ?? 0, pliCount: s.pliCount ?? 0, firCount: s.firCount ?? 0,
        bitrate: Math.round((inbound ? this.rates.received : this.rates.sent)[kind]),
        remb: kind !== 'video' ? 0 : inbound ? this.rembSentBps : Math.round(this.remoteEstimate?.bps ?? 0),
      });
    }
    return out;
  }

  /** Packet counters (received from the remote / handed to the transport towards it), for metrics. */
  stats(): { packetsIn: Record<MediaKind, number>; packetsOut: Record<MediaKind, number>; keyframeRequestsSent: number; keyframeRequestsReceived: number } {
    return {
      packetsIn: { ...this.flowIn.counts }, packetsOut: { ...this.flowOut.counts },
      keyframeRequestsSent: this.keyframeRequestsSent, keyframeRequestsReceived: this.keyframeRequestsReceived,
    };
  }

  isMediaFlowingIn(kind: MediaKind): boolean { return this.flowIn.isFlowing(kind); }
  isMediaFlowingOut(kind: MediaKind): boolean { return this.flowOut.isFlowing(kind); }

  // ---- lifecycle ------------------------------------------------------------------------------
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    // Sinks learn at once that nothing flows to them any more (KMS: MediaFlowOut NOT_FLOWING).
    this.outRoutes.clear();
    for (const kind of KINDS) {
      const inR = this.inRoutes[kind];
      if (inR) inR.source.unroute(inR);
    }
    this.closed = true;
    this.taps.audio = [];
    this.taps.video = [];
    this.farSinks = [];
    this.gop.clear();
    removeTicking(this);
    this.keyframes.close();
    this.pendingCandidates.length = 0;
    // The local description (and its gathering) may have failed: the peer connection is closed
    // anyway, or its ICE sockets stay open and hold the whole peer (found by the chaos fuzzer).
    await this.localApplied.catch(() => undefined);
    await this.pc.close().catch(() => undefined);
    this.removeAllListeners();
  }

  private assertOpen(): void {
    if (this.closed || this.closing) throw new Error('media peer is closed');
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
