// The RTP of one source's tracks → frames on the recording's clock. A track's Depacketizer is made at
// its first packet, starting at that moment of the recording's clock, and made again when the track's
// stream changes under it (a new SSRC or codec, or an RTP timestamp jump: the presenter came back on
// a new connection, the source was switched), so every run of the stream lands where it happened in
// time and starts at a keyframe. The engine's RecorderEndpoint and the signaling service's recorder
// leg both feed packets through one of these.
import { Depacketizer } from './depacketize';
import type { EncodedFrame, FrameCodec, FrameKind, RtpLike } from './types';

/** A jump larger than this between consecutive packets is a new stream, not a gap. */
const MAX_JUMP_S = 5;
const CLOCK: Record<FrameCodec, number> = { vp8: 90000, h264: 90000, opus: 48000 };

export interface RtpFramesOptions {
  /** Seconds from the recording's start, now (where a new run of a track begins). */
  clock: () => number;
  onFrame: (frame: EncodedFrame) => void;
  /** Video waits for a keyframe (a lost packet broke a frame, or none came yet): ask the sender (RTCP PLI). Called again once a second of stream while it waits. */
  onLoss?: (kind: FrameKind) => void;
}

interface Track { depacketizer: Depacketizer; ssrc: number | undefined; lastTs: number }

export class RtpFrames {
  private tracks: Partial<Record<FrameKind, Track>> = {};

  constructor(private readonly o: RtpFramesOptions) {}

  /** One packet of the `kind` track, sent as `codec`; `ssrc` when the caller knows it. */
  push(kind: FrameKind, codec: FrameCodec, rtp: RtpLike & { ssrc?: number }): void {
    let t = this.tracks[kind];
    if (!t || t.depacketizer.codec !== codec || (rtp.ssrc !== undefined && rtp.ssrc !== t.ssrc)
      || Math.abs((rtp.timestamp - t.lastTs) | 0) > MAX_JUMP_S * CLOCK[codec]) {
      const depacketizer = new Depacketizer(codec, this.o.clock(), () => this.o.onLoss?.(kind));
      t = this.tracks[kind] = { depacketizer, ssrc: rtp.ssrc, lastTs: rtp.timestamp };
    }
    t.lastTs = rtp.timestamp;
    const frame = t.depacketizer.push(rtp);
    if (frame) this.o.onFrame(frame);
  }

  /** The next packet of `kind` (of every track when omitted) starts a new run. */
  reset(kind?: FrameKind): void {
    if (kind) delete this.tracks[kind];
    else this.tracks = {};
  }
}
