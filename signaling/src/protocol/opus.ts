// Opus parameters in SDP, shared by the web app (sound modes) and the service (WHEP answers): no
// Node or DOM dependencies, so esbuild bundles it for the browser.

/**
 * Merges `params` into the `a=fmtp` line of every Opus payload type of `sdp` (adding the line where
 * an Opus rtpmap has none); a parameter already there is overwritten. Other codecs and lines are
 * untouched, and the line ends stay as they were.
 */
export function withOpusParameters(sdp: string, params: Record<string, string>): string {
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const lines = sdp.split(eol);
  const opus = new Set<string>();
  const withFmtp = new Set<string>();
  for (const l of lines) {
    const r = /^a=rtpmap:(\d+) opus\/48000/i.exec(l);
    if (r) opus.add(r[1]);
    const f = /^a=fmtp:(\d+) /.exec(l);
    if (f) withFmtp.add(f[1]);
  }
  return lines.flatMap((l) => {
    const f = /^a=fmtp:(\d+) (.*)$/.exec(l);
    if (f && opus.has(f[1])) return [`a=fmtp:${f[1]} ${mergeFmtp(f[2], params)}`];
    const r = /^a=rtpmap:(\d+) opus\/48000/i.exec(l);
    // An Opus rtpmap without an fmtp line gets one right after it.
    if (r && !withFmtp.has(r[1])) return [l, `a=fmtp:${r[1]} ${mergeFmtp('', params)}`];
    return [l];
  }).join(eol);
}

function mergeFmtp(existing: string, params: Record<string, string>): string {
  const merged = new Map<string, string>();
  for (const part of existing.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) merged.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  for (const [k, v] of Object.entries(params)) merged.set(k, v);
  return [...merged].map(([k, v]) => `${k}=${v}`).join(';');
}
