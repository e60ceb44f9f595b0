// A peer's media leg in one busk: the presenter's (source) or a viewer's (sink) endpoint.
// ICE candidates from the client may arrive before the endpoint exists (the offer is still being
// processed on the media server, or a renegotiation replaces the endpoint); EarlyCandidates holds
// them, whether the leg exists yet or not, and the leg applies them in arrival order once it has one.
// Every candidate costs the media server a connectivity check pair and memory (5,000 of them took
// 46 MB, issue 17): a leg takes at most ICE_CANDIDATES_PER_LEG per offer, held or applied.
import type { Endpoint, IceCandidate } from '../media';
import type { PeerChannel } from './context';
import { AppError } from '../stomp';

function tooMany(max: number): AppError {
  return new AppError('rate-limited', `at most ${max} ICE candidates per offer`);
}

export class EarlyCandidates {
  private readonly held = new Map<string, IceCandidate[]>(); // key: session|busk

  /** `max`: candidates per leg and offer (ICE_CANDIDATES_PER_LEG), held ones included. */
  constructor(readonly max: number) {}

  private key(sessionId: string, buskId: string): string { return `${sessionId}|${buskId}`; }

  /** Legs with candidates held. */
  get size(): number { return this.held.size; }

  hold(sessionId: string, buskId: string, c: IceCandidate): void {
    const k = this.key(sessionId, buskId);
    const l = this.held.get(k) ?? [];
    if (l.length >= this.max) throw tooMany(this.max);
    l.push(c);
    this.held.set(k, l);
  }

  /** Removes and returns what was held for this peer in this busk, oldest first. */
  take(sessionId: string, buskId: string): IceCandidate[] {
    const k = this.key(sessionId, buskId);
    const l = this.held.get(k) ?? [];
    this.held.delete(k);
    return l;
  }

  dropSession(sessionId: string): void {
    for (const k of [...this.held.keys()]) if (k.startsWith(`${sessionId}|`)) this.held.delete(k);
  }

  dropBusk(buskId: string): void {
    for (const k of [...this.held.keys()]) if (k.endsWith(`|${buskId}`)) this.held.delete(k);
  }
}

export abstract class Leg {
  endpoint: Endpoint | null = null;
  /**
   * How the leg's peer is reached (its last negotiation's channel): a STOMP session's queue, or a
   * WHIP/WHEP session, which has no STOMP session for `reoffer` to go to.
   */
  channel: PeerChannel | null = null;
  closed = false;
  /** Bumped by every offer: a slower, older negotiation must not win over a newer one. */
  generation = 0;
  /** Candidates are applied strictly one after another, in order. */
  private chain: Promise<void> = Promise.resolve();
  /** Candidates given to the current endpoint (held ones included once applied). */
  private applied = 0;

  constructor(readonly sessionId: string, readonly buskId: string, private readonly early: EarlyCandidates) {}

  addCandidate(c: IceCandidate): void {
    if (this.closed) return;
    const ep = this.endpoint;
    if (!ep) {
      this.early.hold(this.sessionId, this.buskId, c);
      return;
    }
    if (this.applied >= this.early.max) throw tooMany(this.early.max);
    this.applied++;
    this.chain = this.chain.then(() => ep.addIceCandidate(c)).catch(() => { /* a bad candidate must not block the next */ });
  }

  /** Candidates from the client are held while a new endpoint replaces the old (renegotiation). */
  detachEndpoint(): Endpoint | null {
    const ep = this.endpoint;
    this.endpoint = null;
    return ep;
  }

  /** The endpoint is ready (offer processed): apply held candidates, then take new ones directly. */
  attach(ep: Endpoint): void {
    this.endpoint = ep;
    this.applied = 0; // a new offer (ICE restart) brings new candidates
    for (const c of this.early.take(this.sessionId, this.buskId)) this.addCandidate(c);
  }

  /** Releases the endpoint on the media server (nothing left behind). */
  async close(): Promise<void> {
    if (this.closed) return;
    const ep = this.detachEndpoint();
    this.forget();
    if (ep) await ep.release();
  }

  /** Stops without a media server call: the endpoint is gone already (pipeline released, server restarted). */
  forget(): void {
    this.closed = true;
    this.early.take(this.sessionId, this.buskId);
    this.endpoint = null;
  }
}
