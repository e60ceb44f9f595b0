// The seam between the Kurento Protocol layer (objects, JSON-RPC, events: kurento/src/protocol,
// kurento/src/objects) and the media layer (real WebRTC with werift, RTP forwarding: kurento/src/media).
// One MediaPeer backs one WebRtcEndpoint. The object layer translates these events into KMS events
// (IceCandidateFound, MediaFlowInStateChanged, ...) with KMS's payloads.
import type { EventEmitter } from 'node:events';

export type MediaKind = 'audio' | 'video';

export interface IceCandidateInit {
  candidate: string; // "candidate:..." line without the "a=" prefix
  sdpMid: string;
  sdpMLineIndex: number;
}

/** KMS IceComponentState values. */
export type IceComponentState = 'DISCONNECTED' | 'GATHERING' | 'CONNECTING' | 'CONNECTED' | 'READY' | 'FAILED';

export type RtpTap = (rtp: { payload: Buffer; header: { marker: boolean; timestamp: number; sequenceNumber: number } }) => void;

export interface PeerOptions {
  stunServerAddress?: string;
  stunServerPort?: number;
  turnUrl?: string; // KMS form: user:password@address:port[?transport=udp|tcp]
  portRange?: { min: number; max: number };
  /** Address to bind media sockets to and to advertise in candidates (tests: 127.0.0.1). */
  bindAddress?: string;
  /** KMS's minVideoSendBandwidth / maxVideoSendBandwidth (kbps): what this peer's REMB may ask of a source. */
  minVideoSendBandwidth?: number;
  maxVideoSendBandwidth?: number;
}

/** One RTP stream of a peer, as getStats reports it (KMS's RTCInbound/OutboundRTPStreamStats). */
export interface RtpStreamStats {
  direction: 'inbound' | 'outbound';
  kind: MediaKind;
  ssrc: number;
  packets: number;
  bytes: number;
  /** inbound: lost on the way here; outbound: lost on the way to the remote (its receiver reports). */
  packetsLost: number;
  /** outbound: the remote's last reported fraction lost (0–1). */
  fractionLost: number;
  /** inbound: interarrival jitter, in seconds. */
  jitter: number;
  /** outbound: round-trip time from the remote's receiver reports, in seconds. */
  roundTripTime: number;
  nackCount: number;
  pliCount: number;
  firCount: number;
  /** The stream's bitrate over the last second (bps): for an outbound stream, what this sink is sent. */
  bitrate: number;
  /** Video: inbound, the REMB this endpoint sends the remote sender; outbound, what the remote can take (REMB and loss). */
  remb: number;
}

export interface MediaPeerEvents {
  /** A local candidate, only after gatherCandidates() was called (trickle ICE, as KMS). */
  candidate: [IceCandidateInit];
  'gathering-done': [];
  'ice-component-state': [{ state: IceComponentState; streamId: string; componentId: number }];
  'candidate-pair-selected': [{ streamID: string; componentID: number; localCandidate: string; remoteCandidate: string }];
  /** ICE+DTLS transport up/down: KMS ConnectionStateChanged. */
  'connection-state': ['CONNECTED' | 'DISCONNECTED'];
  /** Media received from the remote peer started/stopped (per kind). KMS MediaFlowInStateChanged. */
  'flow-in': [{ kind: MediaKind; flowing: boolean }];
  /** Media sent to the remote peer started/stopped (per kind). KMS MediaFlowOutStateChanged. */
  'flow-out': [{ kind: MediaKind; flowing: boolean }];
  /** KMS Error event: e.g. { type: 'NOT_NEGOTIATED', description, errorCode } when a sink can't take the source's codec. */
  error: [{ type: string; description: string; errorCode: number }];
  /** What receivedCodec(kind) says changed (a first packet, a new payload type, a negotiation): engine workers mirror it. */
  'received-codec': [{ kind: MediaKind; mimeType: string | undefined }];
}

/**
 * What sinks take media from: a peer (what its remote sends), or a played file (player/). connect()
 * makes `sink` (a peer of the same engine) receive this source's `kinds`.
 */
export interface MediaSource {
  connect(sink: MediaPeer, kinds: readonly MediaKind[]): void;
  disconnect(sink: MediaPeer, kinds: readonly MediaKind[]): void;
  /** Every RTP packet of `kind` this source sends on; returns the function that stops the tap. */
  tap(kind: MediaKind, listener: RtpTap): () => void;
  /** Mime type (e.g. video/VP8) of what the source sends or said it would send. */
  receivedCodec(kind: MediaKind): string | undefined;
  /** Asks for a keyframe (rate-limited; a file cannot make one and ignores it). */
  requestKeyframe(): void;
}

/**
 * One WebRTC peer on the server side. SDP methods throw SdpError for SDP they cannot use.
 * connect() makes `this` a source for `sink`: RTP of the given kinds is forwarded without
 * transcoding, with payload types, SSRCs and header extension ids rewritten for the sink, and
 * the sink's keyframe requests (PLI/FIR) forwarded to this peer's remote sender, rate-limited.
 */
export interface MediaPeer extends EventEmitter, MediaSource {
  processOffer(offer: string): Promise<string>;
  generateOffer(): Promise<string>;
  processAnswer(answer: string): Promise<string>;
  gatherCandidates(): Promise<void>;
  addIceCandidate(candidate: IceCandidateInit): Promise<void>;
  readonly localDescription: string | null;
  readonly remoteDescription: string | null;
  connect(sink: MediaPeer, kinds: readonly MediaKind[]): void;
  disconnect(sink: MediaPeer, kinds: readonly MediaKind[]): void;
  /**
   * Every RTP packet of `kind` received from the remote, as received (recorders); returns the
   * function that stops the tap. A video tap asks the sender for a keyframe.
   */
  tap(kind: MediaKind, listener: RtpTap): () => void;
  /** Mime type (e.g. video/VP8) of what the remote sends or said it would send. */
  receivedCodec(kind: MediaKind): string | undefined;
  /** Asks the remote sender for a keyframe (rate-limited). */
  requestKeyframe(): void;
  /** The peer's RTP streams with their figures (getStats). */
  rtpStats(): Promise<RtpStreamStats[]>;
  /** KMS's maxVideoRecvBandwidth (kbps; 0 = none) changed on the endpoint: the REMB cap to the remote sender. */
  setVideoRecvBandwidth(kbps: number): void;
  /** KMS's minVideoSendBandwidth / maxVideoSendBandwidth (kbps) changed on the endpoint. */
  setVideoSendBandwidth(minKbps: number, maxKbps: number): void;
  isMediaFlowingIn(kind: MediaKind): boolean;
  isMediaFlowingOut(kind: MediaKind): boolean;
  /** Frees sockets, ports and timers; idempotent. */
  close(): Promise<void>;
}

export class SdpError extends Error {
  constructor(message: string, public readonly kind: 'SDP_PARSE_ERROR' | 'SDP_END_POINT_PROCESS_OFFER_ERROR' | 'SDP_END_POINT_PROCESS_ANSWER_ERROR' | 'SDP_END_POINT_GENERATE_OFFER_ERROR' | 'SDP_END_POINT_ALREADY_NEGOTIATED' | 'SDP_END_POINT_NOT_OFFER_GENERATED') {
    super(message);
  }
}
