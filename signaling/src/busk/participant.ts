// A session's media leg in one busk: the presenter's (source) or a viewer's (sink) endpoint.
// ICE candidates from the client may arrive before the endpoint exists (the offer is still being
// processed on the media server); they are held and applied in arrival order once it does.
import type { Endpoint, IceCandidate } from '../media';
import { AppError } from '../stomp/errors';

const MAX_HELD_CANDIDATES = 200;

export abstract class Participant {
  endpoint: Endpoint | null = null;
  closed = false;
  /** Bumped by every offer: a slower, older negotiation must not win over a newer one. */
  generation = 0;
  private held: IceCandidate[] = [];
  /** Candidates are applied strictly one after another, in order. */
  private chain: Promise<void> = Promise.resolve();

  constructor(readonly sessionId: string, readonly buskId: string) {}

  addCandidate(c: IceCandidate): void {
    if (this.closed) return;
    const ep = this.endpoint;
    if (!ep) {
      if (this.held.length >= MAX_HELD_CANDIDATES) throw new AppError('rate-limited', 'too many ICE candidates before the offer was answered');
      this.held.push(c);
      return;
    }
    this.chain = this.chain.then(() => ep.addIceCandidate(c)).catch(() => { /* a bad candidate must not block the next */ });
  }

  /** Holds candidates from the client while a new endpoint replaces the old (renegotiation). */
  detachEndpoint(): Endpoint | null {
    const ep = this.endpoint;
    this.endpoint = null;
    return ep;
  }

  /** The endpoint is ready (offer processed): apply held candidates, then take new ones directly. */
  attach(ep: Endpoint, early: IceCandidate[] = []): void {
    this.endpoint = ep;
    const held = [...early, ...this.held];
    this.held = [];
    for (const c of held) this.addCandidate(c);
  }

  /** Releases the endpoint on the media server (nothing left behind). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    const ep = this.detachEndpoint();
    if (ep) await ep.release();
  }

  /** Drops the endpoint without a media server call: it is already gone (pipeline released, server restarted). */
  forget(): void {
    this.closed = true;
    this.held = [];
    this.endpoint = null;
  }
}

export class Presenter extends Participant {}

export class Viewer extends Participant {
  /** Endpoints gone with the media server: the client has been (or will be) asked to reoffer. */
  stale = false;
  constructor(sessionId: string, buskId: string, readonly userId: string) {
    super(sessionId, buskId);
  }
}
