// RTP payload → encoded frames, without decoding: VP8 (RFC 7741), H.264 (RFC 6184, single NAL,
// STAP-A, FU-A; written out as Annex B) and Opus (RFC 7587: one packet is one frame). A frame is
// the payloads that share an RTP timestamp; a gap in sequence numbers inside a video frame drops
// that frame and everything up to the next keyframe (a decoder could not use it anyway).
import type { EncodedFrame, FrameCodec, FrameKind, RtpLike } from './types';

const CLOCK: Record<FrameCodec, number> = { vp8: 90000, h264: 90000, opus: 48000 };
const START_CODE = Uint8Array.of(0, 0, 0, 1);

export class Depacketizer {
  readonly kind: FrameKind;
  private parts: Uint8Array[] = [];
  private frameTs = -1;
  private lastSeq = -1;
  private broken = false;
  private frameKey = false;
  private needKeyframe: boolean;
  /** RTP timestamp of the last keyframe request while waiting for one (null: not waiting). */
  private askedAt: number | null = null;
  /** RTP timestamp unwrapped to 64 bits (a long recording outlives the 32-bit wrap at 90 kHz: 13 h). */
  private firstTs = -1;
  private lastRawTs = 0;
  private tsHigh = 0;

  /**
   * @param startAt seconds from the recording's start at which this stream's first frame lies
   * @param onLoss called when a lost packet makes the stream wait for a keyframe, and once a second
   *   of stream while it still waits (ask the sender for one)
   */
  constructor(readonly codec: FrameCodec, private readonly startAt: number, private readonly onLoss: () => void = () => undefined) {
    this.kind = codec === 'opus' ? 'audio' : 'video';
    this.needKeyframe = this.kind === 'video';
  }

  /** Feeds one packet; returns the frame it completed, if any. */
  push(rtp: RtpLike): EncodedFrame | null {
    if (this.codec === 'opus') {
      return rtp.payload.length ? this.frame(rtp.timestamp, [rtp.payload], true) : null;
    }
    let done: EncodedFrame | null = null;
    const gap = this.lastSeq >= 0 && ((this.lastSeq + 1) & 0xffff) !== rtp.sequenceNumber;
    if (rtp.timestamp !== this.frameTs) {
      // A new frame began before the old one's marker: the old one lost its end.
      if (this.parts.length) this.lose(this.frameTs);
      this.parts = [];
      this.frameKey = false;
      this.broken = gap; // its first packet may be the lost one
      this.frameTs = rtp.timestamp;
    } else if (gap) {
      this.broken = true;
    }
    this.lastSeq = rtp.sequenceNumber;
    if (this.codec === 'h264') this.frameKey ||= startsKeyframe(rtp.payload, 'h264');
    else if (this.parts.length === 0) this.frameKey = startsKeyframe(rtp.payload, 'vp8');
    const part = this.codec === 'vp8' ? vp8Payload(rtp.payload) : h264Nals(rtp.payload);
    if (part === null) this.broken = true;
    else if (part.length) this.parts.push(...(Array.isArray(part) ? part : [part]));
    if (rtp.marker) {
      if (this.broken) this.lose(rtp.timestamp);
      else if (this.parts.length) {
        const key = this.frameKey;
        if (key) { this.needKeyframe = false; this.askedAt = null; }
        if (!this.needKeyframe) done = this.frame(rtp.timestamp, this.parts, key);
        else this.askForKeyframe(rtp.timestamp);
      }
      this.parts = [];
      this.frameTs = -1;
    }
    return done;
  }

  private lose(rtpTs: number): void {
    this.needKeyframe = true;
    this.parts = [];
    this.askForKeyframe(rtpTs);
  }

  /**
   * Asks for a keyframe, and again after every second of stream that still brings none: one request
   * can be lost on the way (RTCP is unreliable, senders and media servers throttle them), and a
   * stream that waits for a keyframe gives its owner no frame that could remind it to ask.
   */
  private askForKeyframe(rtpTs: number): void {
    const since = this.askedAt === null ? Infinity : (rtpTs - this.askedAt) | 0;
    if (since >= 0 && since < CLOCK[this.codec]) return;
    this.askedAt = rtpTs;
    this.onLoss();
  }

  private frame(rtpTs: number, parts: Uint8Array[], keyframe: boolean): EncodedFrame {
    if (this.firstTs < 0) { this.firstTs = rtpTs; this.lastRawTs = rtpTs; }
    if (rtpTs < this.lastRawTs && this.lastRawTs - rtpTs > 0x80000000) this.tsHigh += 0x100000000;
    this.lastRawTs = rtpTs;
    const ticks = this.tsHigh + rtpTs - this.firstTs;
    return { kind: this.kind, codec: this.codec, data: concat(parts), timestamp: this.startAt + Math.max(0, ticks) / CLOCK[this.codec], keyframe };
  }
}

/** The VP8 payload after the payload descriptor; null when malformed. */
function vp8Payload(p: Uint8Array): Uint8Array | null {
  if (p.length < 1) return null;
  let i = 1;
  if (p[0]! & 0x80) {
    const x = p[i++];
    if (x === undefined) return null;
    if (x & 0x80) i += (p[i]! & 0x80) ? 2 : 1; // PictureID, 7 or 15 bits
    if (x & 0x40) i += 1; // TL0PICIDX
    if (x & 0x30) i += 1; // TID / KEYIDX
  }
  return i <= p.length ? p.subarray(i) : null;
}

/**
 * True when this RTP payload starts a keyframe: VP8, the first packet of a key frame (S bit,
 * partition 0, P bit of the frame tag clear); H.264, an SPS or the start of an IDR slice (an
 * encoder sends SPS/PPS right before each IDR). Also used by the forwarders' keyframe cache.
 */
export function startsKeyframe(p: Uint8Array, codec: FrameCodec): boolean {
  if (codec === 'vp8') {
    if (p.length < 1 || (p[0]! & 0x17) !== 0x10) return false;
    const body = vp8Payload(p);
    return !!body && body.length > 0 && (body[0]! & 1) === 0;
  }
  if (codec !== 'h264') return false;
  const type = (p[0] ?? 0) & 0x1f;
  if (type === 5 || type === 7) return true;
  if (type === 28) return ((p[1] ?? 0) & 0x80) !== 0 && ((p[1] ?? 0) & 0x1f) === 5;
  if (type === 24) {
    for (let i = 1; i + 2 < p.length;) {
      const t = (p[i + 2] ?? 0) & 0x1f;
      if (t === 5 || t === 7) return true;
      i += 2 + ((p[i]! << 8) | p[i + 1]!);
    }
  }
  return false;
}

/** Annex B pieces (start code, NAL, start code, NAL...) of one H.264 RTP payload; null when malformed. */
function h264Nals(p: Uint8Array): Uint8Array[] | null {
  if (p.length < 1) return null;
  const type = p[0]! & 0x1f;
  if (type >= 1 && type <= 23) return [START_CODE, p];
  if (type === 24) { // STAP-A: 16-bit size + NAL, repeated
    const out: Uint8Array[] = [];
    for (let i = 1; i + 2 <= p.length;) {
      const size = (p[i]! << 8) | p[i + 1]!;
      i += 2;
      if (size === 0 || i + size > p.length) return null;
      out.push(START_CODE, p.subarray(i, i + size));
      i += size;
    }
    return out;
  }
  if (type === 28) { // FU-A: the first fragment carries the rebuilt NAL header
    if (p.length < 2) return null;
    const fu = p[1]!;
    if (fu & 0x80) return [START_CODE, Uint8Array.of((p[0]! & 0xe0) | (fu & 0x1f)), p.subarray(2)];
    return [p.subarray(2)];
  }
  return []; // other packetizations (STAP-B, MTAP, FU-B) are not used by browsers
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!.slice();
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}
