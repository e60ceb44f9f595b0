// Which codecs the presenter's media arrives in, read from the answer its endpoint gave: the
// recorder leg offers exactly those (same fmtp), so the media server forwards the presenter's RTP
// as it is. Were the recorder to offer something else, KMS would transcode (agnosticbin) and the
// embedded engine could not forward at all.
import type { record } from '../../../kurento/src';

export interface TrackCodec {
  frame: record.FrameCodec;
  mimeType: string;
  clockRate: number;
  channels?: number;
  /** The fmtp line's parameters (H.264 profile and packetization mode must match). */
  parameters?: string;
}

export interface RecordedCodecs { audio?: TrackCodec; video?: TrackCodec }

const FRAME: Record<string, record.FrameCodec> = { vp8: 'vp8', h264: 'h264', opus: 'opus' };

/** The first (negotiated) codec of each active audio/video section of an SDP answer; unknown codecs are left out. */
export function negotiatedCodecs(answer: string): RecordedCodecs {
  const out: RecordedCodecs = {};
  for (const section of answer.split(/\r?\nm=/).slice(1)) {
    const lines = section.split(/\r?\n/);
    const m = /^(audio|video) (\d+) \S+ (\d+)/.exec(lines[0] ?? '');
    if (!m || m[2] === '0' || lines.includes('a=inactive') || out[m[1] as 'audio' | 'video']) continue;
    const pt = m[3];
    const map = lines.map((l) => new RegExp(`^a=rtpmap:${pt} ([^/]+)/(\\d+)(?:/(\\d+))?`).exec(l)).find(Boolean);
    const frame = map ? FRAME[map[1]!.toLowerCase()] : undefined;
    if (!map || !frame) continue;
    const fmtp = lines.map((l) => new RegExp(`^a=fmtp:${pt} (.+)$`).exec(l)).find(Boolean);
    out[m[1] as 'audio' | 'video'] = {
      frame, mimeType: `${m[1]}/${map[1]}`, clockRate: Number(map[2]),
      channels: map[3] ? Number(map[3]) : undefined, parameters: fmtp?.[1]?.trim(),
    };
  }
  return out;
}

export function sameCodecs(a: RecordedCodecs, b: RecordedCodecs): boolean {
  const key = (c?: TrackCodec) => (c ? `${c.frame}|${c.parameters ?? ''}` : '');
  return key(a.audio) === key(b.audio) && key(a.video) === key(b.video);
}
