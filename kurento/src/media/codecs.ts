// The codecs and RTP header extensions the engine negotiates. Media is forwarded, never transcoded,
// so we accept what browsers send (Opus, VP8, H.264) and map payload types per sink.
import { RTCRtpCodecParameters, RTCRtpHeaderExtensionParameters, type RTCRtpCodecParameters as Codec } from 'werift';

const videoFeedback = () => [
  { type: 'nack' }, { type: 'nack', parameter: 'pli' }, { type: 'ccm', parameter: 'fir' }, { type: 'goog-remb' },
];

export function serverCodecs(): { audio: Codec[]; video: Codec[] } {
  return {
    audio: [
      new RTCRtpCodecParameters({ mimeType: 'audio/opus', clockRate: 48000, channels: 2, payloadType: 111, parameters: 'minptime=10;useinbandfec=1' }),
    ],
    video: [
      new RTCRtpCodecParameters({ mimeType: 'video/VP8', clockRate: 90000, payloadType: 96, rtcpFeedback: videoFeedback() }),
      new RTCRtpCodecParameters({
        mimeType: 'video/H264', clockRate: 90000, payloadType: 102, rtcpFeedback: videoFeedback(),
        parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f',
      }),
    ],
  };
}

export const EXT = {
  mid: 'urn:ietf:params:rtp-hdrext:sdes:mid',
  absSendTime: 'http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
  audioLevel: 'urn:ietf:params:rtp-hdrext:ssrc-audio-level',
  videoOrientation: 'urn:3gpp:video-orientation',
} as const;

/** Extensions whose payload is copied from the source packet (with the sink's id). The sender writes
 *  mid and abs-send-time itself; transport-cc is not negotiated (bandwidth is governed by REMB, as KMS). */
export const FORWARDED_EXTENSIONS: readonly string[] = [EXT.audioLevel, EXT.videoOrientation];

export function serverHeaderExtensions(): { audio: RTCRtpHeaderExtensionParameters[]; video: RTCRtpHeaderExtensionParameters[] } {
  return {
    audio: [
      new RTCRtpHeaderExtensionParameters({ id: 1, uri: EXT.mid }),
      new RTCRtpHeaderExtensionParameters({ id: 2, uri: EXT.absSendTime }),
      new RTCRtpHeaderExtensionParameters({ id: 3, uri: EXT.audioLevel }),
    ],
    video: [
      new RTCRtpHeaderExtensionParameters({ id: 1, uri: EXT.mid }),
      new RTCRtpHeaderExtensionParameters({ id: 2, uri: EXT.absSendTime }),
      new RTCRtpHeaderExtensionParameters({ id: 4, uri: EXT.videoOrientation }),
    ],
  };
}

function fmtp(codec: Codec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (codec.parameters ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return out;
}

/** True when a stream encoded as `a` can be decoded by a receiver that negotiated `b` (no transcoding). */
export function sameCodec(a: Codec, b: Codec): boolean {
  if (a.mimeType.toLowerCase() !== b.mimeType.toLowerCase() || a.clockRate !== b.clockRate) return false;
  if (a.mimeType.toLowerCase() !== 'video/h264') return true;
  const fa = fmtp(a);
  const fb = fmtp(b);
  // packetization-mode must match exactly (RFC 6184); profile (first byte of profile-level-id) must match.
  if ((fa['packetization-mode'] ?? '0') !== (fb['packetization-mode'] ?? '0')) return false;
  const pa = (fa['profile-level-id'] ?? '42001f').slice(0, 2).toLowerCase();
  const pb = (fb['profile-level-id'] ?? '42001f').slice(0, 2).toLowerCase();
  return pa === pb;
}

export function findMatchingCodec(source: Codec, sinkCodecs: readonly Codec[]): Codec | undefined {
  return sinkCodecs.find((c) => sameCodec(source, c));
}

export function codecName(c: Codec): string {
  const f = fmtp(c);
  const base = c.mimeType.split('/')[1] ?? c.mimeType;
  return base.toLowerCase() === 'h264' ? `H264 (packetization-mode=${f['packetization-mode'] ?? '0'}, profile-level-id=${f['profile-level-id'] ?? '42001f'})` : base;
}
