// kurento.WebRtcEndpoint backed by one MediaPeer (kurento/src/media). This class keeps KMS's
// object-level rules (SDP negotiation states and their errors, properties with get/set, states
// for getMediaState/getConnectionState) and turns the peer's events into KMS events.
import { KurentoError, type KmsErrorType } from '../protocol/errors';
import { SdpError, type MediaKind, type MediaPeer, type MediaSource, type PeerOptions } from '../media/types';
import { rejectingAnswer } from '../media/sdp';
import { complexType } from './complex-types';
import { endpointStats } from './stats';
import { MediaElement, MEDIA_ELEMENT_EVENTS } from './media-element';
import type { ObjectHost, ObjectKind, Operation } from './media-object';
import type { MediaPipeline } from './media-pipeline';
import { kmsType, mediaKind, type KmsMediaType } from './params';

export const WEBRTC_ENDPOINT_KIND: ObjectKind = {
  type: 'WebRtcEndpoint',
  hierarchy: ['kurento.BaseRtpEndpoint', 'kurento.SdpEndpoint', 'kurento.SessionEndpoint', 'kurento.Endpoint', 'kurento.MediaElement', 'kurento.MediaObject'],
  events: [
    ...MEDIA_ELEMENT_EVENTS,
    'MediaSessionStarted', 'MediaSessionTerminated', // SessionEndpoint
    'ConnectionStateChanged', 'MediaStateChanged', // BaseRtpEndpoint
    'DataChannelClosed', 'DataChannelOpened', 'DtlsConnectionStateChange', 'IceCandidateFound', 'IceComponentStateChanged', 'IceGatheringDone', 'NewCandidatePairSelected',
  ],
};

export type PeerFactory = (options: PeerOptions) => MediaPeer;

/** Defaults for new endpoints: WebRtcEndpoint.conf.ini and BaseRtpEndpoint.conf.ini in KMS. */
export interface EndpointDefaults {
  stunServerAddress?: string;
  stunServerPort?: number;
  turnUrl?: string;
  portRange?: { min: number; max: number };
  bindAddress?: string;
}

type ConnState = 'CONNECTED' | 'DISCONNECTED';

export class WebRtcEndpoint extends MediaElement {
  private peerInstance: MediaPeer | null = null;
  // Properties, with KMS's defaults (kmsbasertpendpoint.c, kmsbasesdpendpoint.c, kmswebrtcendpoint.c).
  private stunServerAddress: string;
  private stunServerPort: number;
  private turnUrl: string;
  private minVideoRecvBandwidth = 0;
  private minVideoSendBandwidth = 100;
  private maxVideoSendBandwidth = 500;
  /** null until set: the peer keeps its own cap (500 kbps) and the property reads 0, as before. */
  private maxVideoRecvBandwidth: number | null = null;
  private maxAudioRecvBandwidth = 0;
  private mtu = 1200;
  private iceTcp = true;
  private networkInterfaces = '';
  // Negotiation state (SdpEndpointImpl): one offer/answer exchange per endpoint.
  private offerInProcess = false;
  private waitingAnswer = false;
  private answerProcessed = false;
  /** An offer with no WebRTC media was answered without a peer (every section rejected, as KMS does). */
  private rejected: { offer: string; answer: string } | null = null;
  private mediaState: ConnState = 'DISCONNECTED';
  private connectionState: ConnState = 'DISCONNECTED';
  private readonly iceStates = new Map<string, Record<string, unknown>>();
  private readonly candidatePairs = new Map<string, Record<string, unknown>>();

  constructor(host: ObjectHost, pipeline: MediaPipeline, private readonly createPeer: PeerFactory, private readonly defaults: EndpointDefaults, readonly direction: { recvonly: boolean; sendonly: boolean }) {
    super(host, WEBRTC_ENDPOINT_KIND, pipeline);
    this.stunServerAddress = defaults.stunServerAddress ?? '';
    this.stunServerPort = defaults.stunServerPort ?? 3478;
    this.turnUrl = defaults.turnUrl ?? '';
  }

  /**
   * The peer is made on first use, so that STUN/TURN properties set right after creation (the
   * usual kurento-client order) apply to it, as they apply to KMS's ICE agent before gathering.
   */
  get peer(): MediaPeer {
    if (!this.peerInstance) {
      const peer = this.createPeer({
        stunServerAddress: this.stunServerAddress || undefined,
        stunServerPort: this.stunServerPort,
        turnUrl: this.turnUrl || undefined,
        portRange: this.defaults.portRange,
        bindAddress: this.defaults.bindAddress,
        minVideoSendBandwidth: this.minVideoSendBandwidth,
        maxVideoSendBandwidth: this.maxVideoSendBandwidth,
        ...(this.maxVideoRecvBandwidth !== null ? { maxVideoRecvBandwidth: this.maxVideoRecvBandwidth } : {}),
      });
      this.peerInstance = peer;
      this.listen(peer);
    }
    return this.peerInstance;
  }

  /** The REMB this endpoint's viewer sends upstream is held within the new bounds from now on. */
  private sendBandwidthChanged(): void {
    this.peerInstance?.setVideoSendBandwidth(this.minVideoSendBandwidth, this.maxVideoSendBandwidth);
  }

  private listen(peer: MediaPeer): void {
    peer.on('candidate', (c) => this.raise('IceCandidateFound', {
      candidate: complexType('IceCandidate', { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex }),
    }));
    peer.on('gathering-done', () => this.raise('IceGatheringDone'));
    peer.on('ice-component-state', (s) => {
      const streamId = Number.parseInt(s.streamId, 10) || 0;
      this.iceStates.set(`${s.streamId}_${s.componentId}`, complexType('IceConnection', { streamId: s.streamId, componentId: s.componentId, state: s.state }));
      this.raise('IceComponentStateChanged', { streamId, componentId: s.componentId, state: s.state });
    });
    peer.on('candidate-pair-selected', (p) => {
      const pair = complexType('IceCandidatePair', { streamId: p.streamID, componentId: p.componentID, localCandidate: p.localCandidate, remoteCandidate: p.remoteCandidate });
      this.candidatePairs.set(`${p.streamID}_${p.componentID}`, pair);
      this.raise('NewCandidatePairSelected', { candidatePair: pair });
    });
    peer.on('connection-state', (state) => {
      // KMS's MediaState follows RTCP flow and ConnectionState the transport; both follow the
      // ICE+DTLS transport here, which is up exactly when RTCP can flow.
      if (state !== this.connectionState) {
        const old = this.connectionState;
        this.connectionState = state;
        this.raise('ConnectionStateChanged', { oldState: old, newState: state });
      }
      if (state !== this.mediaState) {
        const old = this.mediaState;
        this.mediaState = state;
        this.raise('MediaStateChanged', { oldState: old, newState: state });
      }
    });
    peer.on('flow-in', (f) => this.raise('MediaFlowInStateChanged', { state: f.flowing ? 'FLOWING' : 'NOT_FLOWING', padName: 'default', mediaType: kmsType(f.kind) }));
    peer.on('flow-out', (f) => this.raise('MediaFlowOutStateChanged', { state: f.flowing ? 'FLOWING' : 'NOT_FLOWING', padName: 'default', mediaType: kmsType(f.kind) }));
    peer.on('error', (e) => this.raiseError(e.type, e.description, e.errorCode));
  }

  async processOffer(offer: string): Promise<string> {
    if (!offer) throw new KurentoError('SDP_PARSE_ERROR', 'Empty offer not valid');
    checkSdp(offer);
    if (this.offerInProcess) throw new KurentoError('SDP_END_POINT_ALREADY_NEGOTIATED', 'Endpoint already negotiated');
    this.offerInProcess = true;
    const rejecting = rejectingAnswer(offer);
    if (rejecting) {
      this.rejected = { offer, answer: rejecting };
      this.raise('MediaSessionStarted');
      return rejecting;
    }
    try {
      const answer = await this.peer.processOffer(offer);
      this.raise('MediaSessionStarted');
      return answer;
    } catch (e) {
      this.offerInProcess = false;
      throw sdpFailure(e, 'SDP_END_POINT_PROCESS_OFFER_ERROR', 'Error processing offer');
    }
  }

  async generateOffer(): Promise<string> {
    if (this.offerInProcess) throw new KurentoError('SDP_END_POINT_ALREADY_NEGOTIATED', 'Endpoint already negotiated');
    this.offerInProcess = true;
    try {
      const offer = await this.peer.generateOffer();
      this.waitingAnswer = true;
      return offer;
    } catch (e) {
      this.offerInProcess = false;
      throw sdpFailure(e, 'SDP_END_POINT_GENERATE_OFFER_ERROR', 'Error generating offer');
    }
  }

  async processAnswer(answer: string): Promise<string> {
    if (!answer) throw new KurentoError('SDP_PARSE_ERROR', 'Empty answer not valid');
    if (!this.waitingAnswer) throw new KurentoError('SDP_END_POINT_NOT_OFFER_GENERATED', 'Offer not generated. It is not possible to process an answer.');
    checkSdp(answer);
    if (this.answerProcessed) throw new KurentoError('SDP_END_POINT_ANSWER_ALREADY_PROCCESED', 'Sdp Answer already processed');
    this.answerProcessed = true;
    try {
      const local = await this.peer.processAnswer(answer);
      this.raise('MediaSessionStarted');
      return local;
    } catch (e) {
      throw sdpFailure(e, 'SDP_END_POINT_PROCESS_ANSWER_ERROR', 'Error processing answer');
    }
  }

  async gatherCandidates(): Promise<void> {
    try {
      await this.peer.gatherCandidates();
    } catch (e) {
      throw new KurentoError('ICE_GATHER_CANDIDATES_ERROR', `Error gathering candidates: ${messageOf(e)}`);
    }
  }

  async addIceCandidate(candidate: Record<string, unknown>): Promise<void> {
    const line = typeof candidate.candidate === 'string' ? candidate.candidate : '';
    // An empty candidate is the end-of-candidates notification of trickle ICE: KMS ignores it.
    if (!line) return;
    const sdpMid = typeof candidate.sdpMid === 'string' ? candidate.sdpMid : String(candidate.sdpMid ?? '');
    const sdpMLineIndex = Number(candidate.sdpMLineIndex ?? 0);
    try {
      await this.peer.addIceCandidate({ candidate: line, sdpMid, sdpMLineIndex: Number.isFinite(sdpMLineIndex) ? sdpMLineIndex : 0 });
    } catch (e) {
      throw new KurentoError('ICE_ADD_CANDIDATE_ERROR', `Error adding candidate: ${messageOf(e)}`);
    }
  }

  mediaSource(create: boolean): MediaSource | null {
    return create ? this.peer : this.peerInstance;
  }

  /** Which origin (an endpoint's peer, a player's file) feeds this one, per kind (resolved through PassThroughs). */
  private readonly fedBy: Partial<Record<MediaKind, MediaElement>> = {};

  protected feedFrom(type: KmsMediaType, origin: MediaElement | null): void {
    const kind = mediaKind(type);
    if (!kind) return;
    const next = origin && origin !== this ? origin : undefined;
    const current = this.fedBy[kind];
    if (current === next) return;
    const currentSource = current?.mediaSource(false);
    if (currentSource && this.peerInstance) currentSource.disconnect(this.peerInstance, [kind]);
    if (next) this.fedBy[kind] = next; else delete this.fedBy[kind];
    if (next && !next.isReleased && !this.isReleased) next.mediaSource(true)?.connect(this.peer, [kind]);
  }

  isFlowingIn(type: KmsMediaType): boolean {
    const kind = mediaKind(type);
    return !!(kind && this.peerInstance?.isMediaFlowingIn(kind));
  }

  isFlowingOut(type: KmsMediaType): boolean {
    const kind = mediaKind(type);
    return !!(kind && this.peerInstance?.isMediaFlowingOut(kind));
  }

  protected dispose(): Promise<void> | void {
    super.dispose();
    const peer = this.peerInstance;
    this.peerInstance = null;
    if (peer) {
      return peer.close().finally(() => peer.removeAllListeners());
    }
  }

  protected operations(): Record<string, Operation> {
    const int = (name: string, get: () => number, set: (v: number) => void): Record<string, Operation> => ({
      [`get${cap(name)}`]: get,
      [`set${cap(name)}`]: (p) => set(p.int(name)),
    });
    return {
      ...super.operations(),
      getStats: async (p) => {
        const type = p.optMediaType('mediaType');
        const kind = type ? mediaKind(type) : null;
        const streams = type && !kind ? [] : (await this.peerInstance?.rtpStats()) ?? []; // DATA: no RTP streams
        return endpointStats(this.id, streams, kind, Date.now());
      },
      processOffer: (p) => this.processOffer(p.string('offer')),
      processAnswer: (p) => this.processAnswer(p.string('answer')),
      generateOffer: () => this.generateOffer(),
      getLocalSessionDescriptor: () => {
        const sdp = this.rejected?.answer ?? this.peerInstance?.localDescription;
        if (!sdp) throw new KurentoError('SDP_END_POINT_NO_LOCAL_SDP_ERROR', 'No local SDP');
        return sdp;
      },
      getRemoteSessionDescriptor: () => {
        const sdp = this.rejected?.offer ?? this.peerInstance?.remoteDescription;
        if (!sdp) throw new KurentoError('SDP_END_POINT_NO_REMOTE_SDP_ERROR', 'No remote SDP');
        return sdp;
      },
      gatherCandidates: () => this.gatherCandidates(),
      addIceCandidate: (p) => this.addIceCandidate(p.record('candidate', 'IceCandidate')),
      getMediaState: () => this.mediaState,
      getConnectionState: () => this.connectionState,
      getICECandidatePairs: () => [...this.candidatePairs.values()],
      getIceConnectionState: () => [...this.iceStates.values()],
      getDtlsConnectionState: () => [],
      requestKeyframe: () => undefined,
      getStunServerAddress: () => this.stunServerAddress,
      setStunServerAddress: (p) => { this.stunServerAddress = p.string('stunServerAddress'); },
      getTurnUrl: () => this.turnUrl,
      setTurnUrl: (p) => { this.turnUrl = p.string('turnUrl'); },
      ...int('stunServerPort', () => this.stunServerPort, (v) => { this.stunServerPort = v; }),
      ...int('minVideoRecvBandwidth', () => this.minVideoRecvBandwidth, (v) => { this.minVideoRecvBandwidth = v; }),
      ...int('minVideoSendBandwidth', () => this.minVideoSendBandwidth, (v) => { this.minVideoSendBandwidth = v; this.sendBandwidthChanged(); }),
      ...int('maxVideoSendBandwidth', () => this.maxVideoSendBandwidth, (v) => { this.maxVideoSendBandwidth = v; this.sendBandwidthChanged(); }),
      ...int('maxVideoRecvBandwidth', () => this.maxVideoRecvBandwidth ?? 0, (v) => {
        this.maxVideoRecvBandwidth = v;
        this.peerInstance?.setVideoRecvBandwidth(v);
      }),
      ...int('maxAudioRecvBandwidth', () => this.maxAudioRecvBandwidth, (v) => { this.maxAudioRecvBandwidth = v; }),
      ...int('mtu', () => this.mtu, (v) => { this.mtu = v; }),
      getIceTcp: () => this.iceTcp,
      setIceTcp: (p) => { this.iceTcp = p.bool('iceTcp'); },
      getNetworkInterfaces: () => this.networkInterfaces,
      setNetworkInterfaces: (p) => { this.networkInterfaces = p.string('networkInterfaces'); },
      createDataChannel: () => { throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'Data channels are not supported'); },
      closeDataChannel: () => { throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'Data channels are not supported'); },
    };
  }
}

function cap(s: string): string {
  return s[0].toUpperCase() + s.slice(1);
}

/** KMS parses every SDP with GStreamer first; text without a version line is "Invalid SDP". */
function checkSdp(sdp: string): void {
  if (!/^v=\d+\s*$/m.test(sdp)) throw new KurentoError('SDP_PARSE_ERROR', 'Invalid SDP');
}

function sdpFailure(e: unknown, fallback: KmsErrorType, message: string): KurentoError {
  if (e instanceof KurentoError) return e;
  if (e instanceof SdpError || (e instanceof Error && e.name === 'SdpError' && 'kind' in e)) {
    return new KurentoError((e as SdpError).kind, (e as SdpError).message || message);
  }
  return new KurentoError(fallback, `${message}: ${messageOf(e)}`);
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
