// The SDP pieces WHIP and WHEP need beyond the busk service's offer/answer: the media server's
// candidates written into the one answer (RFC 9725: no server-side trickle), and the client's
// trickle-ice-sdpfrag bodies (RFC 8840) read into candidates for the media server.
import type { IceCandidate } from '../media';

const lines = (sdp: string) => sdp.split(/\r?\n/).filter((l, i, all) => l !== '' || i < all.length - 1);

/** Each m= section's a=mid, in order ('' where a section has none). */
export function mids(sdp: string): string[] {
  const out: string[] = [];
  for (const l of lines(sdp)) {
    if (l.startsWith('m=')) out.push('');
    else if (l.startsWith('a=mid:') && out.length) out[out.length - 1] = l.slice(6).trim();
  }
  return out;
}

/** The session's ICE username fragment (session level or the first section's). */
export function iceUfrag(sdp: string): string | null {
  const m = /^a=ice-ufrag:(\S+)/m.exec(sdp);
  return m ? m[1]! : null;
}

/** The answer with each candidate at the end of its m= section (by mid, else by index). */
export function withCandidates(answer: string, candidates: IceCandidate[]): string {
  const ls = lines(answer);
  const sectionMids = mids(answer);
  const bySection = new Map<number, string[]>();
  for (const c of candidates) {
    let idx = c.sdpMid ? sectionMids.indexOf(c.sdpMid) : -1;
    if (idx < 0) idx = c.sdpMLineIndex ?? 0;
    if (idx < 0 || idx >= sectionMids.length) continue;
    const list = bySection.get(idx) ?? [];
    list.push(`a=${c.candidate.replace(/^a=/, '')}`);
    bySection.set(idx, list);
  }
  const out: string[] = [];
  let section = -1;
  const flush = () => { if (section >= 0) out.push(...(bySection.get(section) ?? [])); };
  for (const l of ls) {
    if (l.startsWith('m=')) { flush(); section++; }
    out.push(l);
  }
  flush();
  return out.join('\r\n') + '\r\n';
}

export interface SdpFrag {
  ufrag: string | null;
  pwd: string | null;
  candidates: IceCandidate[];
  /** a=end-of-candidates was present. */
  ended: boolean;
}

/**
 * An application/trickle-ice-sdpfrag body: session-level ICE credentials and, per m= line (named by
 * its a=mid), candidates. Sections are matched to the offer's by mid, so the index is the offer's.
 */
export function parseSdpFrag(body: string, offerMids: string[]): SdpFrag {
  const frag: SdpFrag = { ufrag: null, pwd: null, candidates: [], ended: false };
  let mid: string | null = null;
  let section = -1;
  for (const l of lines(body)) {
    if (l.startsWith('m=')) { section++; mid = null; continue; }
    if (l.startsWith('a=mid:')) { mid = l.slice(6).trim(); continue; }
    if (l.startsWith('a=ice-ufrag:')) { frag.ufrag = l.slice(12).trim(); continue; }
    if (l.startsWith('a=ice-pwd:')) { frag.pwd = l.slice(10).trim(); continue; }
    if (l.startsWith('a=end-of-candidates')) { frag.ended = true; continue; }
    if (l.startsWith('a=candidate:')) {
      const byMid = mid !== null ? offerMids.indexOf(mid) : -1;
      const index = byMid >= 0 ? byMid : Math.max(section, 0);
      frag.candidates.push({ candidate: l.slice(2).trim(), sdpMid: mid ?? offerMids[index] ?? '', sdpMLineIndex: index });
    }
  }
  return frag;
}
