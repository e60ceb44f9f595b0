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

/**
 * An mDNS host candidate (`<uuid>.local`, what browsers send to hide local addresses). The engine
 * never resolves mDNS: werift would open a multicast-dns socket per lookup, with no error handler,
 * so a failed bind throws out of the process. Such candidates are dropped; the browser's srflx and
 * relay candidates (and peer-reflexive discovery) still connect.
 */
export function isMdnsCandidate(candidate: string): boolean {
  const address = candidate.replace(/^a=/, '').split(/\s+/)[4] ?? '';
  return /\.local\.?$/i.test(address);
}

/** The SDP without its mDNS candidate lines (offers and answers that carry their candidates: WHIP, OBS). */
export function withoutMdnsCandidates(sdp: string): string {
  return sdp.split('\r\n').filter((l) => !(l.startsWith('a=candidate:') && isMdnsCandidate(l))).join('\r\n');
}

/** The only media transport a WebRtcEndpoint negotiates (KMS registers its handlers for this proto). */
const WEBRTC_PROTO = /^UDP\/TLS\/RTP\/SAVPF$/i;

/**
 * KMS's answer to an offer none of whose media sections a WebRtcEndpoint can handle (plain
 * `RTP/AVP`, no DTLS fingerprint, no ICE credentials): it does not refuse the offer. Its SDP agent
 * answers every such section as rejected (RFC 3264: port 0, the offered proto and formats, and
 * `a=inactive` + the offered `a=mid` when there was one), with the offer's session id and version in
 * the origin. Returns null when some section is WebRTC media (the normal path handles the offer).
 */
export function rejectingAnswer(offer: string): string | null {
  const lines = offer.split(/\r?\n/).filter((l) => l.length > 0);
  const sections: string[][] = [];
  for (const l of lines) {
    if (l.startsWith('m=')) sections.push([l]);
    else sections[sections.length - 1]?.push(l);
  }
  if (sections.length === 0) return null;
  if (sections.some((s) => WEBRTC_PROTO.test(s[0]!.split(/\s+/)[2] ?? ''))) return null;
  const origin = /^o=\S+ (\S+) (\S+) IN (IP[46]) /.exec(lines.find((l) => l.startsWith('o=')) ?? '');
  const ipv = origin?.[3] ?? 'IP4';
  const any = ipv === 'IP6' ? '::' : '0.0.0.0';
  const out = [
    'v=0',
    `o=- ${origin?.[1] ?? '0'} ${origin?.[2] ?? '0'} IN ${ipv} ${any}`,
    's=Kurento Media Server',
    `c=IN ${ipv} ${any}`,
    't=0 0',
  ];
  for (const s of sections) {
    const [media = 'm=video', , proto = 'RTP/AVP', ...formats] = s[0]!.split(/\s+/);
    out.push(`${media} 0 ${proto} ${formats.join(' ')}`.trimEnd());
    const mid = s.find((l) => l.startsWith('a=mid:'));
    if (mid) out.push('a=inactive', mid);
  }
  return out.join('\r\n') + '\r\n';
}
