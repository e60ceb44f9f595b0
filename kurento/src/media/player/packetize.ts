// Encoded frames from a file → RTP payloads, the inverse of record/depacketize.ts: VP8 per RFC 7741
// (a one-byte payload descriptor, S on the first packet of the frame), H.264 per RFC 6184 in
// packetization-mode 1 (one NAL unit per packet, FU-A for the larger ones) and Opus per RFC 7587
// (one frame per packet). The last packet of a video frame carries the marker bit.
import type { FrameCodec } from '../record';

/** Payload bytes per packet: under a 1200-byte datagram with RTP header, extensions and SRTP tag. */
export const MAX_PAYLOAD = 1100;

export interface RtpPayload { payload: Buffer; marker: boolean }

/** The H.264 parameter sets a keyframe must be preceded by when the file keeps them out of band (avcC). */
export interface H264Parameters { sps: Uint8Array[]; pps: Uint8Array[] }

export function packetize(codec: FrameCodec, frame: Uint8Array, keyframe: boolean, h264?: H264Parameters): RtpPayload[] {
  if (codec === 'opus') return [{ payload: Buffer.from(frame), marker: false }];
  const out = codec === 'vp8' ? vp8(frame) : h264Packets(h264Nals(frame, keyframe, h264));
  if (out.length) out[out.length - 1]!.marker = true;
  return out;
}

function vp8(frame: Uint8Array): RtpPayload[] {
  const out: RtpPayload[] = [];
  const step = MAX_PAYLOAD - 1;
  for (let o = 0; o < frame.length || o === 0; o += step) {
    const chunk = frame.subarray(o, Math.min(frame.length, o + step));
    const p = Buffer.allocUnsafe(1 + chunk.length);
    p[0] = o === 0 ? 0x10 : 0x00; // X=0 N=0 S=start-of-partition PID=0
    p.set(chunk, 1);
    out.push({ payload: p, marker: false });
    if (frame.length === 0) break;
  }
  return out;
}

/**
 * The frame's NAL units: Annex B (start codes) or length-prefixed (an MP4's avcC samples, 4-byte
 * lengths); a keyframe without its own SPS/PPS gets the file's out-of-band ones first.
 */
export function h264Nals(frame: Uint8Array, keyframe: boolean, params?: H264Parameters): Uint8Array[] {
  const nals = isAnnexB(frame) ? splitAnnexB(frame) : splitLengthPrefixed(frame);
  if (keyframe && params && !nals.some((n) => (n[0]! & 0x1f) === 7)) return [...params.sps, ...params.pps, ...nals];
  return nals;
}

function isAnnexB(d: Uint8Array): boolean {
  return d.length >= 4 && d[0] === 0 && d[1] === 0 && (d[2] === 1 || (d[2] === 0 && d[3] === 1));
}

function splitAnnexB(d: Uint8Array): Uint8Array[] {
  const nals: Uint8Array[] = [];
  let start = -1;
  for (let i = 0; i + 2 < d.length; i++) {
    if (d[i] === 0 && d[i + 1] === 0 && d[i + 2] === 1) {
      if (start >= 0) nals.push(trimZeros(d.subarray(start, i)));
      start = i + 3;
      i += 2;
    }
  }
  if (start >= 0 && start < d.length) nals.push(d.subarray(start));
  return nals.filter((n) => n.length > 0);
}

/** A NAL unit followed by a 4-byte start code keeps that code's leading zero: drop trailing zeros. */
function trimZeros(n: Uint8Array): Uint8Array {
  let end = n.length;
  while (end > 0 && n[end - 1] === 0) end--;
  return n.subarray(0, end);
}

function splitLengthPrefixed(d: Uint8Array): Uint8Array[] {
  const nals: Uint8Array[] = [];
  for (let o = 0; o + 4 <= d.length;) {
    const len = ((d[o]! << 24) | (d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!) >>> 0;
    o += 4;
    if (len === 0 || o + len > d.length) break; // a damaged sample: send what parsed
    nals.push(d.subarray(o, o + len));
    o += len;
  }
  return nals;
}

function h264Packets(nals: Uint8Array[]): RtpPayload[] {
  const out: RtpPayload[] = [];
  for (const nal of nals) {
    if (nal.length <= MAX_PAYLOAD) { out.push({ payload: Buffer.from(nal), marker: false }); continue; }
    // FU-A (RFC 6184 §5.8): the NAL header's F/NRI bits in the indicator, its type in the FU header.
    const indicator = (nal[0]! & 0xe0) | 28;
    const type = nal[0]! & 0x1f;
    const step = MAX_PAYLOAD - 2;
    for (let o = 1; o < nal.length; o += step) {
      const chunk = nal.subarray(o, Math.min(nal.length, o + step));
      const p = Buffer.allocUnsafe(2 + chunk.length);
      p[0] = indicator;
      p[1] = (o === 1 ? 0x80 : 0) | (o + step >= nal.length ? 0x40 : 0) | type;
      p.set(chunk, 2);
      out.push({ payload: p, marker: false });
    }
  }
  return out;
}

/** SPS and PPS from an avcC record (ISO/IEC 14496-15 §5.3.3.1), the decoder configuration of an MP4's H.264 track. */
export function parseAvcC(avcC: Uint8Array): H264Parameters {
  const sps: Uint8Array[] = [];
  const pps: Uint8Array[] = [];
  if (avcC.length < 7) return { sps, pps };
  let o = 5;
  const read = (count: number, into: Uint8Array[]) => {
    for (let i = 0; i < count && o + 2 <= avcC.length; i++) {
      const len = (avcC[o]! << 8) | avcC[o + 1]!;
      o += 2;
      if (o + len > avcC.length) return;
      into.push(avcC.subarray(o, o + len));
      o += len;
    }
  };
  read(avcC[o++]! & 0x1f, sps);
  if (o < avcC.length) read(avcC[o++]!, pps);
  return { sps, pps };
}
