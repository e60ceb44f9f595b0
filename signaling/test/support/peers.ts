// The busking protocol (offer, answer, trickle ICE) through a StompTestClient, for Node WebRTC peers
// from the shared wrtc host (test-support/wrtc-peers.ts: @roamhq/wrtc in a child process): a presenter
// sending synthetic video frames and viewers that decode and count them.
import { StompTestClient, Inbox } from './stomp-client';
import { waitFor } from '../../../test-support/ports';
import { PeerHost as WrtcPeerHost, type ClientPeer, type Candidate } from '../../../test-support/wrtc-peers';

export type { Candidate };
export type Peer = ClientPeer;
export type PresenterPeer = ClientPeer;
export type ViewerPeer = ClientPeer;

/** The signaling tests' peers: a small video-only presenter (160x120) and video-only viewers. */
export class PeerHost extends WrtcPeerHost {
  constructor() {
    super({ presenter: { width: 160, height: 120, audio: false }, viewer: { audio: false } });
  }
}

/**
 * How a peer reaches the media server when a test routes it, e.g. through a relay it can make lossy
 * (test-support/udp-proxy.ts, the flapping presenter). Without one, candidates go through unchanged.
 */
export interface IceRoute {
  /** Each of the server's candidates (trickled, or in the answer SDP) as the peer is to use it; null: not at all. */
  remoteCandidate?(c: Candidate): Candidate | null | Promise<Candidate | null>;
  /** Each of the peer's own candidates before it goes to the server; null: not sent. */
  localCandidate?(c: Candidate): Candidate | null;
}

/** The answer's a=candidate lines through `route.remoteCandidate` (the engine trickles its own, but a server may not). */
async function routeAnswer(sdp: string, route: IceRoute): Promise<string> {
  if (!route.remoteCandidate || !sdp.includes('a=candidate:')) return sdp;
  const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
  const out: string[] = [];
  let mLine = -1;
  for (const line of sdp.split(eol)) {
    if (line.startsWith('m=')) mLine++;
    if (!line.startsWith('a=candidate:')) { out.push(line); continue; }
    const c = await route.remoteCandidate({ candidate: line.slice(2), sdpMid: String(Math.max(0, mLine)), sdpMLineIndex: Math.max(0, mLine) });
    if (c) out.push(`a=${c.candidate}`);
  }
  return out.join(eol);
}

/** Runs offer/answer/trickle for `peer` in busk `buskId` through `client`; resolves after the answer. */
export async function negotiate(client: StompTestClient, buskId: string, peer: Peer, route: IceRoute = {}): Promise<{ inbox: Inbox; answerMs: number }> {
  const inbox = await client.subscribeSync(`/user/queue/busk.${buskId}`);
  const seen = new Set<unknown>();
  const add = async (c: Candidate) => {
    const routed = route.remoteCandidate ? await route.remoteCandidate(c) : c;
    if (routed) await peer.addCandidate(routed);
  };
  const applyIce = () => {
    for (const m of inbox.messages) {
      if (m.body?.type === 'ice' && !seen.has(m)) { seen.add(m); void add(m.body.candidate).catch(() => {}); }
    }
  };
  peer.onCandidate((c) => {
    const routed = route.localCandidate ? route.localCandidate(c) : c;
    if (routed && !client.closed) client.send(`/app/busk.${buskId}.ice`, { candidate: routed });
  });
  const answersBefore = inbox.ofType('answer').length;
  const sdp = await peer.offer();
  const t0 = performance.now();
  const res = await client.request(`/app/busk.${buskId}.offer`, { sdpOffer: sdp });
  if (res !== 'ok') throw Object.assign(new Error(`offer refused: ${res.code} ${res.message}`), { code: res.code });
  const answer = await waitFor(() => inbox.ofType('answer')[answersBefore], 15000, 'answer');
  const answerMs = performance.now() - t0;
  await peer.answer(await routeAnswer(answer.body.sdpAnswer, route));
  applyIce();
  const timer = setInterval(() => { if (peer.closed || client.closed) clearInterval(timer); else applyIce(); }, 25);
  timer.unref();
  return { inbox, answerMs };
}

/** `busk.start` as `client`; resolves with the new busk's id once `started` is in. */
export async function requestBusk(client: StompTestClient, body: Record<string, unknown>): Promise<string> {
  const q = await client.subscribeSync('/user/queue/busk');
  const before = q.messages.length;
  const r = await client.request('/app/busk.start', body);
  if (r !== 'ok') throw new Error(`busk.start refused: ${r.code} ${r.message}`);
  const started = await waitFor(() => q.messages.slice(before).find((m) => m.body?.type === 'started'), 10000, 'started');
  return started.body.buskId as string;
}

/** Starts a busk as `client` and presents with a synthetic camera; resolves once the answer is in. */
export async function startBusk(host: PeerHost, client: StompTestClient, body: Record<string, unknown> = { title: 'Test busk' }): Promise<{ buskId: string; presenter: PresenterPeer; inbox: Inbox }> {
  const buskId = await requestBusk(client, body);
  const presenter = await host.presenter();
  const { inbox } = await negotiate(client, buskId, presenter);
  return { buskId, presenter, inbox };
}

export async function watchBusk(host: PeerHost, client: StompTestClient, buskId: string): Promise<{ viewer: ViewerPeer; inbox: Inbox; answerMs: number }> {
  const viewer = await host.viewer();
  const { inbox, answerMs } = await negotiate(client, buskId, viewer);
  return { viewer, inbox, answerMs };
}
