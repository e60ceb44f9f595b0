// The recording module's vocabulary. It knows RTP payloads and containers, nothing of Kurento's
// object model, so the signaling service's own recording leg and HLS packager reuse it as is.

export type FrameKind = 'audio' | 'video';
export type FrameCodec = 'vp8' | 'h264' | 'opus';

/** One encoded frame, as depacketized from RTP (H.264 in Annex B form). */
export interface EncodedFrame {
  kind: FrameKind;
  codec: FrameCodec;
  data: Uint8Array;
  /** Presentation time in seconds from the start of the recording. */
  timestamp: number;
  /** A frame a decoder can start from (always true for audio). */
  keyframe: boolean;
}

/** The fields of an RTP packet the depacketizers read. */
export interface RtpLike {
  payload: Uint8Array;
  marker: boolean;
  timestamp: number;
  sequenceNumber: number;
}

export class RecordError extends Error {
  constructor(message: string, readonly code: 'UNSUPPORTED_CODEC' | 'WRITE_FAILED' | 'CLOSED') {
    super(message);
    this.name = 'RecordError';
  }
}
