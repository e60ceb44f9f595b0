// Small SDP checks and rewrites werift does not do itself.
import { SdpError } from './types';

type Kind = ConstructorParameters<typeof SdpError>[1];

/** Rejects text that is not an SDP at all (werift's parser accepts almost anything). */
export function checkSdp(sdp: unknown, kind: Kind): string {
  if (typeof sdp !== 'string' || sdp.trim() === '') throw new SdpError('Empty SDP', kind);
  const lines = sdp.split(/\r?\n/).filter((l) => l.length > 0);
  if (lines[0]?.trim() !== 'v=0') throw new SdpError('SDP does not start with v=0', 'SDP_PARSE_ERROR');
  for (const l of lines) {
    if (!/^[a-z]=/.test(l)) throw new SdpError(`Malformed SDP line: ${l.slice(0, 80)}`, 'SDP_PARSE_ERROR');
  }
  const media = lines.filter((l) => l.startsWith('m='));
  if (media.length === 0) throw new SdpError('SDP has no media sections', kind);
  if (!media.some((m) => /^m=(audio|video) /.test(m))) throw new SdpError('SDP has no audio or video media', kind);
  if (!lines.some((l) => l.startsWith('a=fingerprint:'))) throw new SdpError('SDP has no DTLS fingerprint (a=fingerprint)', kind);
  if (!lines.some((l) => l.startsWith('a=ice-ufrag:'))) throw new SdpError('SDP has no ICE credentials (a=ice-ufrag)', kind);
  return sdp.includes('\r\n') ? sdp : lines.join('\r\n') + '\r\n';
}

/** KMS answers/offers carry no candidates: they are trickled after gatherCandidates(). */
export function stripCandidates(sdp: string): string {
  return sdp
    .split('\r\n')
    .filter((l) => !l.startsWith('a=candidate:') && l !== 'a=end-of-candidates')
    .join('\r\n');
}
