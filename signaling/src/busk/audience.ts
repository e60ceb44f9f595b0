// The viewer legs on this node, of busks presented here or on any other node. A viewer's
// WebRtcEndpoint is created in the busk's pipeline BY ID on the shared media server (kurento-client
// getMediaobjectById), so a viewer on node B watches a presenter on node A without any media or SDP
// crossing nodes. Every leg that sinks a busk's media (a browser today; a recording, HLS or WHEP
// leg later) joins through watch(): it needs a PeerChannel, not a STOMP request.
import { MediaError, type Endpoint, type MediaServerClient, type Pipeline } from '../media';
import { AppError } from '../stomp';
import type { BuskRecord } from '../state';
import type { Busk } from './busk';
import type { BuskContext, PeerChannel } from './context';
import { Leg, type EarlyCandidates } from './leg';
import { negotiate } from './negotiate';
import { HLS_VIEWER_PREFIX } from '../hls';

/** The peer left while its offer was being processed: nothing of it stays. */
function gone(): AppError {
  return new AppError('conflict', 'the session closed while its offer was processed');
}

export class Viewer extends Leg {
  /** Endpoints gone with the media server: the client has been (or will be) asked to reoffer. */
  stale = false;
  constructor(sessionId: string, buskId: string, readonly userId: string, early: EarlyCandidates) {
    super(sessionId, buskId, early);
  }
}

/** A busk presented on another node, as reached from here by object ids. */
interface Source {
  endpointId: string;
  pipeline: Pipeline;
  presenter: Endpoint;
}

export class Audience {
  private readonly viewers = new Map<string, Viewer>(); // key: session|busk
  private readonly remote = new Map<string, Source>(); // busks of other nodes we view

  constructor(private readonly ctx: BuskContext, private readonly localBusk: (id: string) => Busk | undefined) {}

  private key(sessionId: string, buskId: string) { return `${sessionId}|${buskId}`; }

  get size(): number { return this.viewers.size; }

  get(sessionId: string, buskId: string): Viewer | undefined { return this.viewers.get(this.key(sessionId, buskId)); }

  all(): Viewer[] { return [...this.viewers.values()]; }

  private async sourceFor(rec: BuskRecord): Promise<Source> {
    const local = this.localBusk(rec.id);
    if (local) {
      const ep = local.presenter?.endpoint;
      if (!local.pipeline || !ep || !rec.presenterEndpointId) throw new AppError('conflict', 'the presenter is not live yet; wait for media "connecting"/"flowing" and retry');
      return { endpointId: ep.id, pipeline: local.pipeline, presenter: ep };
    }
    if (!rec.presenterEndpointId || !rec.pipelineId || !rec.kmsUrl) throw new AppError('conflict', 'the presenter is not live yet; retry shortly');
    const cached = this.remote.get(rec.id);
    if (cached && cached.endpointId === rec.presenterEndpointId) return cached;
    const srv = this.ctx.o.media.server(rec.kmsUrl);
    if (!srv || !srv.isUp) throw new AppError('unavailable', 'the busk\'s media server is not reachable from this node');
    const pipeline = await srv.pipelineById(rec.pipelineId);
    const presenter = await srv.endpointById(rec.presenterEndpointId, rec.pipelineId);
    const src = { endpointId: rec.presenterEndpointId, pipeline, presenter };
    this.remote.set(rec.id, src);
    return src;
  }

  /** A viewer offer from `peer`: a new leg, or a renegotiation (ICE restart, reoffer) of its leg. */
  async watch(rec: BuskRecord, peer: PeerChannel, sdp: string): Promise<void> {
    const k = this.key(peer.sessionId, rec.id);
    const src = await this.sourceFor(rec);
    // The session may have closed while we waited (State, the media server): its cleanup found no
    // leg then, and a leg registered now would leak its endpoint and count a phantom viewer.
    if (!peer.isOpen()) throw gone();
    let v = this.viewers.get(k);
    const isNew = !v;
    if (isNew) await this.checkCapacity(rec, peer.sessionId);
    if (!v) {
      v = new Viewer(peer.sessionId, rec.id, peer.userId, this.ctx.early);
      this.viewers.set(k, v);
    }
    const viewer = v;
    let result: Awaited<ReturnType<typeof negotiate>>;
    try {
      result = await negotiate(viewer, {
        pipeline: src.pipeline, sdp, peer,
        video: { direction: 'send', kbps: this.ctx.o.config.videoMaxKbps },
        prepare: (ep) => src.presenter.connect(ep),
        undo: async () => { if (isNew && this.viewers.get(k) === viewer) this.viewers.delete(k); },
      });
    } catch (e) {
      if (e instanceof MediaError) this.remote.delete(rec.id); // a cached remote source may be stale
      // A join racing the busk's end meets released media objects: the viewer is told the show
      // ended, not that its offer was bad (the soak saw media-error for such joins).
      if (e instanceof MediaError && !(await this.ctx.o.state.getBusk(rec.id).catch(() => rec))) throw new AppError('not-found', `no busk ${rec.id}: it ended`);
      throw e;
    }
    viewer.stale = false;
    if (result.previous) result.previous.release().catch(() => {});
    await this.ctx.o.state.setViewer(rec.id, peer.sessionId, { node: this.ctx.nodeId, user: viewer.userId, endpointId: result.endpoint.id });
    if (viewer.closed || this.viewers.get(k) !== viewer) {
      // Removed (session closed, busk ended) while State was being written: undo the entry.
      const n = await this.ctx.o.state.removeViewer(rec.id, peer.sessionId);
      if (n !== null) this.ctx.countChanged(rec.id);
      throw gone();
    }
    if (isNew) this.ctx.countChanged(rec.id);
  }

  /**
   * WEBRTC_VIEWERS_PER_BUSK: a busk's media server share is full; `full` sends the watch page to the
   * crowd tier (when the busk has one). HLS viewers (State keys `hls:…`) do not count against it. A
   * soft cap: joins racing on several nodes may pass it by a few.
   */
  private async checkCapacity(rec: BuskRecord, sessionId: string): Promise<void> {
    const cap = this.ctx.o.config.webrtcViewersPerBusk;
    if (cap <= 0) return;
    const entries = await this.ctx.o.state.viewers(rec.id);
    const webrtc = Object.keys(entries).filter((k) => !k.startsWith(HLS_VIEWER_PREFIX) && k !== sessionId).length;
    if (webrtc >= cap) {
      throw new AppError('full', rec.hls
        ? `this show's ${cap} WebRTC places are taken: watch it on its crowd tier (${rec.hls})`
        : `this show's ${cap} viewer places are taken; try again later`);
    }
  }

  /** The viewer leaves (or its session closed): its endpoint released, State and the count updated. */
  async remove(v: Viewer): Promise<void> {
    const k = this.key(v.sessionId, v.buskId);
    if (this.viewers.get(k) === v) this.viewers.delete(k);
    await v.close();
    const n = await this.ctx.o.state.removeViewer(v.buskId, v.sessionId);
    if (n !== null) this.ctx.countChanged(v.buskId);
  }

  /** The busk's pipeline is gone (ended, here or elsewhere): forget its legs without media calls. */
  dropBusk(buskId: string): void {
    for (const [k, v] of this.viewers) {
      if (v.buskId === buskId) {
        v.forget();
        this.viewers.delete(k);
      }
    }
    this.remote.delete(buskId);
    this.ctx.forgetBusk(buskId);
  }

  /** The busk moved to another node: its presenter endpoint there is new. */
  forgetSource(buskId: string): void { this.remote.delete(buskId); }

  /** The media server lost the busk's objects: our legs' endpoints are gone; they wait for a reoffer. */
  reset(buskId: string): void {
    for (const v of this.viewers.values()) if (v.buskId === buskId) this.markStale(v);
    this.remote.delete(buskId);
  }

  private markStale(v: Viewer): void {
    v.detachEndpoint();
    v.stale = true;
  }

  /** Asks every stale leg of the busk for a new offer (its presenter has a new endpoint). */
  reofferStale(buskId: string): void {
    this.remote.delete(buskId);
    for (const v of this.viewers.values()) if (v.buskId === buskId && v.stale) this.reoffer(v);
  }

  /** This node was written off (cluster.ts): the others released our legs' endpoints. */
  staleAll(): void {
    for (const v of this.viewers.values()) this.markStale(v);
    this.remote.clear();
  }

  /** State is back after `staleAll`: every stale leg offers again. */
  reofferAllStale(reason: string): void {
    for (const v of this.viewers.values()) if (v.stale) this.reoffer(v, reason);
  }

  private reoffer(v: Viewer, reason = 'media-server-restarted'): void {
    this.ctx.o.metrics.reoffers.inc({ who: 'viewer' });
    const msg = { type: 'reoffer', reason } as const;
    // Through the leg's own channel: a WHEP session has no STOMP queue (it ends itself on reoffer).
    if (v.channel) v.channel.send(msg);
    else this.ctx.toSession(v.sessionId, `/queue/busk.${v.buskId}`, msg);
  }

  /**
   * `srv` lost our session. Viewers of busks owned elsewhere whose presenter is fine: only our legs
   * were lost; they reoffer now (the owner's own busks reoffer through 'reoffer-viewers').
   */
  async mediaLost(srv: MediaServerClient): Promise<void> {
    for (const v of this.all()) {
      if (this.localBusk(v.buskId) || v.stale || !v.endpoint) continue;
      const rec = await this.ctx.o.state.getBusk(v.buskId);
      if (rec?.kmsUrl === srv.url) {
        this.markStale(v);
        this.remote.delete(v.buskId);
        this.reoffer(v);
      }
    }
  }

  /** Drops every leg without media calls or State changes (a halted node). */
  clear(): void { this.viewers.clear(); }
}
