// Glue between the shared wrtc test peers (test-support/wrtc-peers.ts: @roamhq/wrtc in a child
// process, presenters with synthetic video + a tone, viewers counting decoded frames) and the engine's
// MediaPeers, for the media tests and the benchmark: trickle ICE negotiation the way the object layer
// does it, and SDP munging helpers.
import { RTCPeerConnection } from 'werift';
import type { MediaPeer, IceCandidateInit, MediaKind } from '../src/media/types';
import type { ClientPeer, PeerHost } from '../../test-support/wrtc-peers';
import { waitFor } from '../../test-support/ports';

export { PeerHost, ClientPeer, type RemoteStats } from '../../test-support/wrtc-peers';

/**
 * Negotiates `client` (offerer) with `server` (answerer) with trickle ICE both ways, in the order the
 * signaling service uses with KMS: processOffer, then gatherCandidates, candidates relayed as they come.
 * `mungeOffer` lets a test change the client's offer (e.g. other payload type numbers).
 */
export async function negotiate(client: ClientPeer, server: MediaPeer, mungeOffer: (sdp: string) => string = (s) => s): Promise<{ answer: string; processOfferMs: number }> {
  client.onCandidate((c) => { server.addIceCandidate(c).catch(() => undefined); });
  server.on('candidate', (c: IceCandidateInit) => { client.addCandidate(c).catch(() => undefined); });
  const offer = mungeOffer(await client.createOffer());
  await client.setLocal('offer', offer);
  const t0 = process.hrtime.bigint();
  const answer = await server.processOffer(offer);
  const processOfferMs = Number(process.hrtime.bigint() - t0) / 1e6;
  await client.setRemote('answer', answer);
  await server.gatherCandidates();
  return { answer, processOfferMs };
}

/**
 * A receive-only werift viewer of `sink` on 127.0.0.1 (werift as a client needs max-bundle here),
 * negotiated as `negotiate()` does: its offer, processOffer, gatherCandidates, trickle both ways.
 * `configure` runs on the peer before its offer (a test's own listeners, werift's debug switches).
 */
export async function weriftViewer(sink: MediaPeer, kinds: MediaKind[] = ['audio', 'video'], config: Record<string, unknown> = {}, configure: (pc: RTCPeerConnection) => void = () => undefined): Promise<RTCPeerConnection> {
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', iceUseIpv4: true, iceUseIpv6: false, iceAdditionalHostAddresses: ['127.0.0.1'], iceInterfaceAddresses: { udp4: '127.0.0.1' }, ...config });
  for (const kind of kinds) pc.addTransceiver(kind, { direction: 'recvonly' });
  configure(pc);
  pc.onIceCandidate.subscribe((c) => { if (c?.candidate) sink.addIceCandidate({ candidate: c.candidate, sdpMid: c.sdpMid ?? '0', sdpMLineIndex: c.sdpMLineIndex ?? 0 }).catch(() => undefined); });
  sink.on('candidate', (c: IceCandidateInit) => { pc.addIceCandidate(c as never).catch(() => undefined); });
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await pc.setRemoteDescription({ type: 'answer', sdp: await sink.processOffer(offer.sdp) });
  await sink.gatherCandidates();
  return pc;
}

/** The server offers (generateOffer), the client answers (processAnswer), trickle ICE both ways. */
export async function negotiateServerOffer(client: ClientPeer, server: MediaPeer): Promise<{ offer: string; answer: string }> {
  client.onCandidate((c) => { server.addIceCandidate(c).catch(() => undefined); });
  server.on('candidate', (c: IceCandidateInit) => { client.addCandidate(c).catch(() => undefined); });
  const offer = await server.generateOffer();
  await client.setRemote('offer', offer);
  const answer = await client.createAnswer();
  await server.processAnswer(answer);
  await server.gatherCandidates();
  return { offer, answer };
}

/** Renumbers every payload type in an SDP by adding `delta` (keeps rtx apt= references right). */
export function shiftPayloadTypes(sdp: string, map: (pt: number) => number): string {
  return sdp.split('\r\n').map((line) => {
    let m = /^m=(audio|video) (\d+) (\S+) (.*)$/.exec(line);
    if (m) return `m=${m[1]} ${m[2]} ${m[3]} ${m[4]!.split(' ').map((p) => String(map(Number(p)))).join(' ')}`;
    m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+) (.*)$/.exec(line);
    if (m) {
      const rest = m[3]!.replace(/apt=(\d+)/, (_s, p) => `apt=${map(Number(p))}`);
      return `a=${m[1]}:${map(Number(m[2]))} ${rest}`;
    }
    return line;
  }).join('\r\n');
}

/** Keeps only the given video codecs (by rtpmap name, e.g. ['H264']) in a client's offer. */
export function onlyVideoCodecs(sdp: string, names: string[]): string {
  const lines = sdp.split('\r\n');
  const keep = new Set<string>();
  const rtx = new Map<string, string>();
  for (const l of lines) {
    const m = /^a=rtpmap:(\d+) ([^/]+)\//.exec(l);
    if (m && names.map((n) => n.toLowerCase()).includes(m[2]!.toLowerCase())) keep.add(m[1]!);
    const f = /^a=fmtp:(\d+) apt=(\d+)/.exec(l);
    if (f) rtx.set(f[1]!, f[2]!);
  }
  for (const [r, apt] of rtx) if (keep.has(apt)) keep.add(r);
  let inVideo = false;
  return lines.filter((l) => {
    if (l.startsWith('m=')) inVideo = l.startsWith('m=video');
    if (!inVideo) return true;
    const m = /^a=(rtpmap|fmtp|rtcp-fb):(\d+) /.exec(l);
    return !m || keep.has(m[2]!);
  }).map((l) => {
    const m = /^(m=video \d+ \S+) (.*)$/.exec(l);
    return m ? `${m[1]} ${m[2]!.split(' ').filter((p) => keep.has(p)).join(' ')}` : l;
  }).join('\r\n');
}

/** Renumbers the header extension ids of an SDP (browsers pick different ids). */
export function remapExtmapIds(sdp: string, map: (id: number) => number): string {
  return sdp.replace(/^a=extmap:(\d+)/gm, (_s, id) => `a=extmap:${map(Number(id))}`);
}

/** Makes a client offer claim H.264 instead of VP8 (the codec-mismatch case: the sink can't take VP8). */
export function claimH264Only(sdp: string): string {
  const vp8 = /a=rtpmap:(\d+) VP8\/90000/.exec(sdp)?.[1];
  const munged = onlyVideoCodecs(sdp, ['VP8']);
  return munged
    .replace(`a=rtpmap:${vp8} VP8/90000`, `a=rtpmap:${vp8} H264/90000\r\na=fmtp:${vp8} level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f`);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 15 fps wrtc presenter negotiated into `source`; resolves once audio and video flow in. */
export async function presentInto(host: PeerHost, source: MediaPeer): Promise<ClientPeer> {
  const presenter = await host.presenter({ fps: 15 });
  await negotiate(presenter, source);
  await waitFor(() => source.isMediaFlowingIn('video') && source.isMediaFlowingIn('audio'), 15000, 'presenter media flowing in');
  return presenter;
}
