// The SDP/ICE steps of one offer, written once for presenter and viewer legs: a new endpoint in the
// pipeline, its candidates to the peer, the offer processed, the answer sent, held candidates
// applied. A newer offer on the same leg supersedes a slower older one; on failure the leg keeps
// the endpoint it had (a renegotiation that fails must not cut working media).
import { MediaError } from '../media';
import type { Endpoint, Pipeline } from '../media';
import { AppError } from '../stomp';
import type { PeerChannel } from './context';
import type { Leg } from './leg';

export interface Negotiation {
  pipeline: Pipeline;
  sdp: string;
  peer: PeerChannel;
  /** Presenter legs report media flowing in; only while the endpoint is the leg's current one. */
  onFlow?: (kind: 'audio' | 'video', flowing: boolean) => void;
  /** The leg's video bandwidth (VIDEO_MAX_KBPS): what a presenter's endpoint receives, a viewer's sends. */
  video?: { direction: 'recv' | 'send'; kbps: number };
  /** Runs after the endpoint exists and before the offer is processed (a viewer's source connects here). */
  prepare?: (ep: Endpoint) => Promise<void>;
  /** False when the negotiation no longer matters (the busk ended meanwhile). */
  stillWanted?: () => boolean;
  /** On failure, when the leg had no previous endpoint to fall back on. */
  undo?: () => Promise<void>;
}

/** The new endpoint, attached to the leg, the one it replaced (the caller releases it) and the answer sent. */
export async function negotiate(leg: Leg, n: Negotiation): Promise<{ endpoint: Endpoint; previous: Endpoint | null; answer: string }> {
  const gen = ++leg.generation;
  const previous = leg.detachEndpoint();
  const superseded = () => leg.closed || gen !== leg.generation || (n.stillWanted ? !n.stillWanted() : false);
  let ep: Endpoint | null = null;
  try {
    ep = await n.pipeline.createEndpoint();
    if (superseded()) throw new AppError('conflict', 'superseded by a newer offer');
    const endpoint = ep;
    const onFlow = n.onFlow;
    const peer = n.peer;
    endpoint.listen({ candidates: true, flow: !!onFlow, gathering: !!peer.gathered, mediaState: !!peer.mediaState });
    endpoint.on('candidate', (candidate) => peer.send({ type: 'ice', candidate }));
    if (peer.gathered) endpoint.on('gathered', () => peer.gathered?.());
    if (peer.mediaState) endpoint.on('media-state', (up) => { if (leg.endpoint === endpoint) peer.mediaState?.(up); });
    // Only the leg's current endpoint speaks for it: a superseded endpoint's late NOT_FLOWING must
    // not turn a flowing busk into "stalled".
    if (onFlow) endpoint.on('flow-in', ({ kind, flowing }) => { if (leg.endpoint === endpoint) onFlow(kind, flowing); });
    // Not awaited: one more round trip per join would lengthen every join storm. The call goes out
    // on the same socket before processOffer, and a bandwidth property applies whenever it is set.
    if (n.video && n.video.kbps > 0) endpoint.limitVideo(n.video.direction, n.video.kbps).catch(() => undefined);
    if (n.prepare) await n.prepare(endpoint);
    const answer = await endpoint.processOffer(n.sdp);
    // KMS (and the engine, like it) answers an offer it cannot use with every section rejected
    // (port 0) instead of an error; a leg with no media is of no use to anyone, so it fails here.
    if (!/^m=\S+ [1-9]/m.test(answer)) throw new MediaError('media-error', 'the media server accepted none of the media in the offer');
    if (superseded()) throw new AppError('conflict', 'superseded by a newer offer');
    n.peer.send({ type: 'answer', sdpAnswer: answer });
    leg.attach(endpoint);
    leg.channel = n.peer;
    endpoint.gatherCandidates().catch(() => {});
    return { endpoint, previous, answer };
  } catch (e) {
    if (ep) await ep.release();
    if (previous && !leg.closed && gen === leg.generation) leg.attach(previous); // keep the working endpoint
    else if (!previous && n.undo) await n.undo();
    throw e;
  }
}
