// The last keyframe of a source and every video packet since, so that a sink connected mid-stream
// starts decoding at once instead of waiting for the sender's next keyframe (which WebRTC senders
// make only when asked: a PLI round trip plus the keyframe throttle, about half a second).
import type { RtpPacket } from 'werift';
import { startsKeyframe, type FrameCodec } from './record';

/** The codec a GopCache needs to find keyframes, from a video mime type; null: not one it knows (nothing kept). */
export function gopCodecOf(mimeType: string | undefined): 'vp8' | 'h264' | null {
  const name = mimeType?.toLowerCase();
  return name === 'video/vp8' ? 'vp8' : name === 'video/h264' ? 'h264' : null;
}

/** Largest group kept (packets); a longer one (a sender that never makes keyframes) is dropped. */
const MAX_PACKETS = 2500;

/**
 * Longest group a new sink is started from, for a source that can make a keyframe when asked (a
 * browser's encoder): about 2-6 s of video. Beyond it, a keyframe is asked for instead. A browser
 * makes keyframes only when asked, so a busk's group can be a minute old: replaying that to each of
 * 200 viewers joining at once was 200 × up to 2,500 packets to encrypt and send (bench:join's slow
 * rounds, 6-10 s to a first keyframe), and a burst of up to 3 MB into each viewer's link. One fresh
 * keyframe serves the whole storm, and the joiners after it start from a short group again.
 */
export const REPLAY_MAX_PACKETS = 200;

export class GopCache {
  /** `replayMax`: the longest group `packets` offers (a file, which cannot make a keyframe on request, offers all it keeps). */
  constructor(private readonly replayMax = REPLAY_MAX_PACKETS) {}

  /** Packets of the frame being received (an H.264 keyframe's SPS/PPS may precede its IDR packet). */
  private frame: RtpPacket[] = [];
  private frameTs = -1;
  private gop: RtpPacket[] | null = null;
  private ssrc = -1;

  push(rtp: RtpPacket, codec: FrameCodec): void {
    const h = rtp.header;
    if (h.ssrc !== this.ssrc) { this.ssrc = h.ssrc; this.gop = null; this.frame = []; }
    if (h.timestamp !== this.frameTs) { this.frameTs = h.timestamp; this.frame = []; }
    this.frame.push(rtp);
    if (startsKeyframe(rtp.payload, codec)) {
      this.gop = this.frame.slice();
    } else if (this.gop) {
      if (this.gop.length >= MAX_PACKETS) this.gop = null;
      else this.gop.push(rtp);
    }
  }

  /** The packets from the last keyframe up to and including the latest one; null when none is kept or the group is longer than `replayMax`. */
  get packets(): readonly RtpPacket[] | null {
    return this.gop && this.gop.length <= this.replayMax ? this.gop : null;
  }

  clear(): void {
    this.gop = null;
    this.frame = [];
  }
}
