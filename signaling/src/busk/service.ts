// The busk service: one instance per signaling node. It holds the busks presented here and the
// viewer legs watching from here, and offers the operations of PROTOCOL.md in transport-neutral
// form (create, present, watch, addCandidate, leave, move): the /app handlers (handlers.ts) call
// them for STOMP requests, and REST handlers (WHIP/WHEP) can call them the same way.
//
// Who holds what:
//  - a Busk (pipeline, presenter leg, grace timer) lives on the node of the presenter's session;
//  - a Viewer leg lives on the node of the viewer's session (Audience), in the busk's pipeline by id;
//  - State holds the records (ids, media state, viewers, chat); the Bus carries STOMP messages and
//    control events (ended, reset, reoffer, moved) between nodes (Cluster).
import crypto from 'node:crypto';
import { AppError } from '../stomp';
import type { CloseReason, Principal, SessionInfo } from '../stomp';
import type { IceCandidate } from '../media';
import type { BuskRecord, Location } from '../state';
import { toPublic } from '../state';
import { log } from '../log';
import { Audience } from './audience';
import { Busk } from './busk';
import { Chat } from './chat';
import { Cluster } from './cluster';
import { BuskContext, type BuskServiceOptions, type PeerChannel } from './context';
import { AppHandlers } from './handlers';
import { Recovery } from './recovery';
import type { StartRequest } from './validate';

/** Session close reasons that mean "the connection dropped": the presenter gets its grace period. */
const DROPS: ReadonlySet<string> = new Set(['socket-closed', 'heartbeat-timeout', 'error', 'slow-consumer', 'rate-limited', 'frame-timeout']);

function tooManyBusks(max: number): AppError {
  return new AppError('rate-limited', `at most ${max} live busks per busker; end one first`);
}

export class BuskService {
  private readonly ctx: BuskContext;
  private readonly busks = new Map<string, Busk>();
  readonly audience: Audience;
  readonly chat: Chat;
  readonly handlers: AppHandlers;
  private readonly cluster: Cluster;
  private readonly recovery: Recovery;
  private closed = false;

  constructor(o: BuskServiceOptions) {
    this.ctx = new BuskContext(o);
    this.audience = new Audience(this.ctx, (id) => this.busks.get(id));
    this.chat = new Chat(this.ctx);
    this.handlers = new AppHandlers(this.ctx, this);
    this.cluster = new Cluster(this.ctx, {
      get: (id) => this.busks.get(id),
      all: () => [...this.busks.values()],
      lose: (b, reason) => this.endBusk(b, reason),
      add: (b) => { this.busks.set(b.id, b); },
      remove: (b) => { if (this.busks.get(b.id) === b) this.busks.delete(b.id); },
    }, this.audience);
    this.recovery = new Recovery(this.ctx, () => [...this.busks.values()], this.audience);
  }

  get nodeId(): string { return this.ctx.nodeId; }

  start(): void {
    const o = this.ctx.o;
    this.handlers.register();
    o.broker.on('session-close', (s, reason) => { this.onSessionClose(s, reason).catch((e) => log.error('busk', 'session close cleanup failed', e)); });
    o.broker.on('subscribe', (s, sub) => { this.chat.onSubscribe(s, sub).catch((e) => log.warn('busk', 'chat replay failed', e)); });
    o.bus.on('control', (m) => { this.cluster.onControl(m).catch((e) => log.warn('busk', `control ${m.type} failed`, e)); });
    o.media.on('session-lost', (srv) => { this.recovery.onSessionLost(srv).catch((e) => log.error('busk', 'media rebuild failed', e)); });
    o.media.on('down', (srv) => { this.recovery.onDown(srv).catch(() => {}); });
    this.cluster.start();
  }

  stats() {
    let endpoints = 0;
    for (const b of this.busks.values()) endpoints += (b.presenter?.endpoint ? 1 : 0) + (b.recorder?.endpoint ? 1 : 0);
    for (const v of this.audience.all()) if (v.endpoint) endpoints++;
    return { busks: this.busks.size, viewers: this.audience.size, pipelines: this.ctx.o.media.localPipelineCount(), endpoints, offers: this.ctx.offers.stats, heldCandidates: this.ctx.early.size };
  }

  /** The busk's viewer count changed outside this service (HLS viewers): publish it, coalesced. */
  countChanged(buskId: string): void { this.ctx.countChanged(buskId); }

  /** The recording of a busk presented here, once its file is open (tests, ops). */
  recording(buskId: string): { id: string; file: string; seconds: number } | null {
    const r = this.busks.get(buskId)?.recording;
    return r ? { id: r.id, file: r.file, seconds: r.duration } : null;
  }

  /** A busk's record: this node's copy when it presents it, else State's; not-found when it is gone. */
  record(id: string): Promise<BuskRecord> {
    const local = this.busks.get(id);
    return this.ctx.record(id, local && !local.ended ? local.rec : null);
  }

  // ───────────────────────────── operations ─────────────────────────────

  /** `owner` starts a busk presented from `presenterSession`; `started` runs before the map hears of it. */
  async create(owner: Principal, presenterSession: string, start: StartRequest, started?: (rec: BuskRecord) => void): Promise<BuskRecord> {
    const o = this.ctx.o;
    if (!o.media.anyUp) throw new AppError('unavailable', 'no media server is available; try again shortly');
    for (const b of this.busks.values()) {
      if (b.rec.presenterSession === presenterSession && !b.ended) throw new AppError('conflict', `this session already presents busk ${b.id}`);
    }
    const id = crypto.randomBytes(6).toString('base64url');
    const rec: BuskRecord = {
      id,
      owner: { id: owner.id, name: owner.name },
      title: start.title, description: start.description, hashtags: start.hashtags, location: start.location,
      startedAt: new Date().toISOString(), media: 'connecting',
      ...(start.record && o.recorder ? { recording: true } : {}),
      ...(o.hls && o.recorder ? { hls: `/hls/${id}/index.m3u8` } : {}),
      node: o.nodeId, presenterSession, kmsUrl: null, pipelineId: null, presenterEndpointId: null,
    };
    const max = o.config.limits.busksPerBusker;
    if (await this.liveBusksOf(owner.id) >= max) throw tooManyBusks(max);
    this.busks.set(rec.id, new Busk(rec, this.ctx));
    await o.state.putBusk(rec);
    // Counted again with ours in State: starts racing on several sessions or nodes all saw room
    // before; whoever finds the owner over the limit now withdraws (never more than `max` stay).
    if (await this.liveBusksOf(owner.id) > max) {
      this.busks.delete(rec.id);
      await o.state.deleteBusk(rec.id);
      throw tooManyBusks(max);
    }
    o.metrics.busksStarted.inc();
    started?.(rec);
    this.ctx.publish('/topic/busks', { type: 'live', busk: toPublic(rec, 0) });
    log.info('busk', `started ${rec.id} "${rec.title}" by ${owner.id}`);
    return rec;
  }

  private async liveBusksOf(ownerId: string): Promise<number> {
    return (await this.ctx.o.state.listBusks()).filter((r) => r.owner.id === ownerId).length;
  }

  /** The owner's offer from `peer`: first offer, renegotiation, or the presenter back after a drop (maybe here from another node). */
  async present(rec: BuskRecord, peer: PeerChannel, sdp: string): Promise<void> {
    let busk = this.busks.get(rec.id);
    if (!busk) {
      // The busk's runtime is on another node. Its presenter may come back here (a phone switching
      // networks lands on another node behind the load balancer) only while it is away.
      if (rec.presenterSession !== null) throw new AppError('conflict', 'this busk already has a presenter');
      busk = await this.cluster.takeOver(rec, peer.sessionId);
    }
    if (busk.ended) throw new AppError('not-found', `no busk ${rec.id}`);
    const current = busk.rec.presenterSession;
    if (current !== null && current !== peer.sessionId && this.ctx.o.broker.session(current)) {
      throw new AppError('conflict', 'this busk already has a presenter');
    }
    await busk.present(peer, sdp);
  }

  /** An offer's work within the node's offer budget (OFFER_CONCURRENCY, two per session in flight). */
  runOffer<T>(sessionId: string, job: () => Promise<T>): Promise<T> {
    return this.ctx.offers.run(sessionId, job);
  }

  /** Anyone else's offer: `peer` watches the busk (a new leg, or a renegotiation of its leg). */
  watch(rec: BuskRecord, peer: PeerChannel, sdp: string): Promise<void> {
    return this.audience.watch(rec, peer, sdp);
  }

  /** A client ICE candidate for its leg in the busk, held until that leg has an endpoint. */
  async addCandidate(buskId: string, sessionId: string, c: IceCandidate): Promise<void> {
    const presenter = this.busks.get(buskId)?.presenter;
    if (presenter && presenter.sessionId === sessionId) return presenter.addCandidate(c);
    const v = this.audience.get(sessionId, buskId);
    if (v) return v.addCandidate(c);
    // No leg yet: the offer may still be on its way through the media server.
    await this.record(buskId);
    // A session that closed meanwhile had its held candidates dropped already: hold none for it.
    if (!this.ctx.o.broker.session(sessionId)) return;
    this.ctx.early.hold(sessionId, buskId, c);
  }

  /** The owner's presenting session ends the busk; a viewer's leg is released. 'none': neither. */
  async leave(buskId: string, sessionId: string, p: Principal | null): Promise<'ended' | 'left' | 'none'> {
    const busk = this.busks.get(buskId);
    const ps = busk?.rec.presenterSession;
    if (busk && p && !p.anonymous && busk.rec.owner.id === p.id && (ps === sessionId || ps === null)) {
      await this.endBusk(busk, 'presenter-left');
      return 'ended';
    }
    const v = this.audience.get(sessionId, buskId);
    if (v) {
      await this.audience.remove(v);
      return 'left';
    }
    this.ctx.early.take(sessionId, buskId);
    return 'none';
  }

  /** Moves (or hides, with null) the busk's pin. */
  async move(buskId: string, location: Location | null): Promise<void> {
    const busk = this.busks.get(buskId);
    let updated: BuskRecord | null;
    if (busk) {
      await busk.update({ location });
      updated = busk.rec;
    } else {
      updated = await this.ctx.o.state.updateBusk(buskId, { location });
      if (!updated) throw new AppError('not-found', `no busk ${buskId}`);
    }
    await this.ctx.publishUpdated(updated);
  }

  /** Ends a busk this node presents: pipeline released (every endpoint in it with it), state removed, everyone told. */
  async endBusk(busk: Busk, reason: string): Promise<void> {
    if (busk.ended) return;
    if (this.busks.get(busk.id) === busk) this.busks.delete(busk.id);
    const ending = busk.end();
    this.audience.dropBusk(busk.id);
    await ending;
    // State may be unreachable (cluster.ts ends busks then): the others delete the record, or this
    // node does once it is back; everyone connected here is told now.
    await this.ctx.o.state.deleteBusk(busk.id).catch((e) => log.warn('busk', `${busk.id} ended but not removed from State`, e));
    this.ctx.o.metrics.busksEnded.inc({ reason });
    this.ctx.announceEnded(busk.id, reason);
    log.info('busk', `ended ${busk.id}: ${reason}`);
  }

  // ───────────────────────────── sessions ─────────────────────────────

  private async onSessionClose(s: SessionInfo, reason: CloseReason): Promise<void> {
    if (this.closed && this.busks.size === 0 && this.audience.size === 0) return;
    this.chat.forgetSession(s.id);
    this.ctx.early.dropSession(s.id);
    const legs = this.audience.all().filter((v) => v.sessionId === s.id);
    await Promise.all(legs.map((v) => this.audience.remove(v)));
    const grace = this.ctx.o.config.presenterGraceMs;
    for (const busk of [...this.busks.values()]) {
      if (busk.rec.presenterSession !== s.id || busk.ended) continue;
      if (DROPS.has(reason) && grace > 0 && !this.closed) await busk.startGrace(reason, grace, () => this.endBusk(busk, 'presenter-lost'));
      else await this.endBusk(busk, reason === 'disconnect' ? 'presenter-left' : `presenter-${reason}`);
    }
  }

  // ───────────────────────────── shutdown ─────────────────────────────

  /**
   * Stops this service dead, as a crashed process would: no presence refresh, no cleanup, events
   * ignored. Tests use it to check that the other nodes clean up after a node that died.
   */
  halt(): void {
    this.closed = true;
    this.cluster.stop();
    for (const b of this.busks.values()) b.halt();
    this.ctx.stop();
    this.busks.clear();
    this.audience.clear();
  }

  /** Ends this node's busks and releases its viewers' endpoints: nothing left on the media server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.cluster.stop();
    this.ctx.stop();
    await Promise.all(this.audience.all().map((v) => this.audience.remove(v).catch(() => {})));
    await Promise.all([...this.busks.values()].map((b) => this.endBusk(b, 'shutdown').catch(() => {})));
    await this.ctx.o.state.nodeGone(this.ctx.nodeId).catch(() => {});
  }
}
