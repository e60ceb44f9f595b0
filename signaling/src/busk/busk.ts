// The runtime of one busk on the node that holds its presenter: the record, the pipeline, the
// presenter's leg, the grace timer and the media health derived from the presenter endpoint's flow
// events. Everything other nodes need (ids, media state, viewers) is mirrored in State.
import type { Endpoint, Pipeline } from '../media';
import type { BuskRecord, MediaState } from '../state';
import { log } from '../log';
import type { BuskContext, PeerChannel } from './context';
import { Leg } from './leg';
import { negotiate } from './negotiate';

export class Presenter extends Leg {}

export class Busk {
  pipeline: Pipeline | null = null;
  presenter: Presenter | null = null;
  ended = false;
  /** The media server lost our objects: viewers must reoffer once the presenter has a new endpoint. */
  private needsViewerReoffer = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private flow: { audio?: boolean; video?: boolean } = {};

  constructor(public rec: BuskRecord, private readonly ctx: BuskContext) {}

  get id(): string { return this.rec.id; }

  /** Changes the record here and in State. */
  async update(patch: Partial<BuskRecord>): Promise<void> {
    Object.assign(this.rec, patch);
    await this.ctx.o.state.updateBusk(this.id, patch);
  }

  async setMedia(state: MediaState): Promise<void> {
    if (this.rec.media === state || this.ended) return;
    await this.update({ media: state });
    this.ctx.publish(`/topic/busk.${this.id}`, { type: 'media', state });
    await this.ctx.publishUpdated(this.rec);
  }

  /** Presenter media in: flowing when any kind flows; stalled when all that flowed stopped. */
  private onFlow(kind: 'audio' | 'video', flowing: boolean): void {
    this.flow[kind] = flowing;
    this.setMedia(Object.values(this.flow).some(Boolean) ? 'flowing' : 'stalled').catch(() => {});
  }

  /** The presenter's media stopped (connection or media server lost): stalled until it flows again. */
  async stall(): Promise<void> {
    this.flow = {};
    await this.setMedia('stalled');
  }

  /**
   * A presenter offer from `peer`: the first one, a renegotiation, or the presenter back on a new
   * session after a drop (a new leg replaces the old). Viewers already connected take media from
   * the new endpoint.
   */
  async present(peer: PeerChannel, sdp: string): Promise<void> {
    let presenter = this.presenter;
    if (!presenter || presenter.sessionId !== peer.sessionId || presenter.closed) {
      if (presenter) await presenter.close();
      presenter = new Presenter(peer.sessionId, this.id, this.ctx.early);
      this.presenter = presenter;
      this.clearGrace();
      if (this.rec.presenterSession !== peer.sessionId) await this.update({ presenterSession: peer.sessionId });
    }
    if (!this.pipeline || this.pipeline.isReleased) {
      this.pipeline = await this.ctx.o.media.createPipeline();
      await this.update({ kmsUrl: this.pipeline.server.url, pipelineId: this.pipeline.id });
    }
    const { endpoint, previous } = await negotiate(presenter, {
      pipeline: this.pipeline, sdp, peer,
      // Flow state restarts with the new endpoint, before it can report anything.
      prepare: async () => { this.flow = {}; },
      onFlow: (kind, flowing) => this.onFlow(kind, flowing),
      stillWanted: () => !this.ended,
      undo: async () => {
        // A first offer that failed leaves no empty pipeline behind.
        if (!this.pipeline || this.rec.presenterEndpointId || this.ended) return;
        const p = this.pipeline;
        this.pipeline = null;
        await p.release();
        await this.update({ kmsUrl: null, pipelineId: null });
      },
    });
    await this.connectViewers(endpoint);
    if (previous) await previous.release();
    await this.update({ presenterEndpointId: endpoint.id });
    if (this.needsViewerReoffer) {
      this.needsViewerReoffer = false;
      this.ctx.o.bus.control({ type: 'reoffer-viewers', buskId: this.id });
    }
  }

  /** Every viewer leg in State, on any node, takes media from `source` (reached by id when remote). */
  private async connectViewers(source: Endpoint): Promise<void> {
    const entries = await this.ctx.o.state.viewers(this.id);
    await Promise.all(Object.values(entries).map(async (v) => {
      if (!v.endpointId) return;
      try {
        const sink = this.pipeline?.endpoint(v.endpointId) ?? (this.pipeline ? await this.pipeline.endpointById(v.endpointId) : null);
        if (sink && !sink.isReleased) await source.connect(sink);
      } catch { /* that viewer's endpoint is gone; it will leave or reoffer */ }
    }));
  }

  /** The presenter's connection dropped: keep the busk (and its viewers) for `graceMs`, then `expire`. */
  async startGrace(reason: string, graceMs: number, expire: () => Promise<void>): Promise<void> {
    log.info('busk', `presenter of ${this.id} dropped (${reason}); grace ${graceMs} ms`);
    const p = this.presenter;
    this.presenter = null;
    if (p) await p.close(); // its endpoint is useless without the peer; a new offer makes a new one
    await this.update({ presenterSession: null, presenterEndpointId: null });
    await this.stall();
    this.clearGrace();
    this.graceTimer = setTimeout(() => {
      this.graceTimer = null;
      if (this.rec.presenterSession === null) expire().catch((e) => log.error('busk', 'end failed', e));
    }, graceMs);
    this.graceTimer.unref?.();
  }

  clearGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  /** Ends the runtime: the pipeline's release takes every endpoint in it (viewers' on any node too). */
  async end(): Promise<void> {
    this.ended = true;
    this.clearGrace();
    this.presenter?.forget();
    const pipeline = this.pipeline;
    this.pipeline = null;
    if (pipeline) await pipeline.release();
  }

  /** Another node adopted this busk: stop here without touching its media. */
  handOver(): void {
    this.ended = true;
    this.clearGrace();
    this.presenter?.forget();
    this.pipeline?.handOver();
    this.pipeline = null;
  }

  /** The media server lost the pipeline (INVALID_SESSION): rebuild on the presenter's next offer. */
  async mediaLost(): Promise<void> {
    this.pipeline = null;
    this.presenter?.detachEndpoint();
    this.needsViewerReoffer = true;
    this.flow = {};
    await this.update({ pipelineId: null, kmsUrl: null, presenterEndpointId: null });
    await this.setMedia('connecting');
  }

  /** Stops timers only (a halted node). */
  halt(): void { this.clearGrace(); }
}
