// The busk service: PROTOCOL.md's /app destinations on top of the broker, the media pool and the
// shared state. One instance per signaling node.
//
// Who holds what:
//  - a Busk runtime (pipeline, presenter leg, grace timer) lives on the node of the presenter's session;
//  - a Viewer leg lives on the node of the viewer's session. It creates its WebRtcEndpoint in the
//    busk's pipeline BY ID (kurento-client getMediaobjectById) on the shared media server, so a
//    viewer on node B watches a presenter on node A without any media or SDP crossing nodes;
//  - State holds the records (ids, media state, viewers, chat); the Bus carries STOMP messages and
//    control events (ended, reset, reoffer, moved) between nodes.
import crypto from 'node:crypto';
import type { Config } from '../config';
import { AppError } from '../stomp/errors';
import type { AppHandler, AppRequest, CloseReason, Principal, SessionInfo } from '../stomp/types';
import { MediaError, MediaPool, Pipeline, Endpoint, IceCandidate, MediaServer } from '../media';
import { Bus, BuskRecord, ChatMessage, ControlMessage, Delivery, MediaState, State, toPublic } from '../state';
import type { TokenVerifier } from '../auth';
import { hasRole } from '../auth';
import type { Metrics } from '../http/metrics';
import { log } from '../log';
import { Busk } from './busk';
import { Presenter, Viewer } from './participant';
import { RateLimiter } from './chat';
import { replayToSubscription, type SubscriptionDelivery } from './replay';
import { parseChat, parseIce, parseLocation, parseOffer, parseStart, parseToken } from './validate';

/** The broker calls this service uses (signaling/src/stomp Broker). */
export interface BrokerLike extends Delivery, SubscriptionDelivery {
  app(pattern: string, handler: AppHandler): void;
  on(event: 'session-close', l: (s: SessionInfo, reason: CloseReason) => void): unknown;
  on(event: 'subscribe', l: (s: SessionInfo, sub: { id: string; destination: string }) => void): unknown;
  session(id: string): SessionInfo | undefined;
}

/** Session close reasons that mean "the connection dropped": the presenter gets its grace period. */
const DROPS: ReadonlySet<string> = new Set(['socket-closed', 'heartbeat-timeout', 'error', 'slow-consumer', 'rate-limited', 'frame-timeout']);

const MAX_EARLY_CANDIDATES = 100;

interface RemoteSource {
  endpointId: string;
  pipeline: Pipeline;
  presenter: Endpoint;
}

export interface BuskServiceOptions {
  config: Config;
  nodeId: string;
  broker: BrokerLike;
  bus: Bus;
  state: State;
  media: MediaPool;
  verifier: TokenVerifier;
  metrics: Metrics;
  /** Presence TTL of this node in State; other nodes end its busks after it expires. */
  presenceTtlMs: number;
}

export class BuskService {
  private readonly busks = new Map<string, Busk>();
  private readonly viewers = new Map<string, Viewer>(); // key: session|busk
  private readonly early = new Map<string, IceCandidate[]>(); // candidates before any offer
  private readonly remote = new Map<string, RemoteSource>(); // busks of other nodes we view
  private readonly chatLimiter: RateLimiter;
  private readonly countTimers = new Map<string, NodeJS.Timeout>();
  private presenceTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private closed = false;

  constructor(private readonly o: BuskServiceOptions) {
    this.chatLimiter = new RateLimiter(o.config.chat.rate.count, o.config.chat.rate.windowMs);
  }

  get nodeId(): string { return this.o.nodeId; }

  // ───────────────────────────── wiring ─────────────────────────────

  start(): void {
    const b = this.o.broker;
    // Every handler is counted by kind and outcome (busking_app_messages_total: message rates).
    const counted = (kind: string, h: (r: AppRequest) => Promise<void>): AppHandler => async (r) => {
      try {
        await h(r);
        this.o.metrics.appMessages.inc({ kind, outcome: 'ok' });
      } catch (e) {
        this.o.metrics.appMessages.inc({ kind, outcome: (e as { code?: string }).code ?? 'error' });
        throw e;
      }
    };
    b.app('/app/busk.start', counted('start', (r) => this.onStart(r)));
    b.app('/app/busk.{id}.offer', counted('offer', (r) => this.onOffer(r)));
    b.app('/app/busk.{id}.ice', counted('ice', async (r) => this.onIce(r)));
    b.app('/app/busk.{id}.leave', counted('leave', (r) => this.onLeave(r)));
    b.app('/app/busk.{id}.chat', counted('chat', (r) => this.onChat(r)));
    b.app('/app/busk.{id}.location', counted('location', (r) => this.onLocation(r)));
    b.app('/app/auth.refresh', counted('auth.refresh', (r) => this.onRefresh(r)));
    b.on('session-close', (s, reason) => { this.onSessionClose(s, reason).catch((e) => log.error('busk', 'session close cleanup failed', e)); });
    b.on('subscribe', (s, sub) => { this.onSubscribe(s, sub).catch((e) => log.warn('busk', 'chat replay failed', e)); });
    this.o.bus.on('control', (m: ControlMessage) => { this.onControl(m).catch((e) => log.warn('busk', `control ${m.type} failed`, e)); });
    this.o.media.on('session-lost', (srv) => { this.onMediaSessionLost(srv).catch((e) => log.error('busk', 'media rebuild failed', e)); });
    this.o.media.on('down', (srv) => { this.onMediaDown(srv).catch(() => {}); });
    if (this.o.state.kind === 'redis') {
      const beat = () => {
        this.o.state.nodeAlive(this.o.nodeId, this.o.presenceTtlMs).catch(() => {});
        this.sweep().catch((e) => log.warn('busk', 'sweep failed', e));
      };
      beat();
      this.presenceTimer = setInterval(beat, Math.max(100, Math.floor(this.o.presenceTtlMs / 3)));
    }
  }

  stats() {
    let endpoints = 0;
    for (const b of this.busks.values()) if (b.presenter?.endpoint) endpoints++;
    for (const v of this.viewers.values()) if (v.endpoint) endpoints++;
    return { busks: this.busks.size, viewers: this.viewers.size, pipelines: this.o.media.localPipelineCount(), endpoints };
  }

  // ───────────────────────────── helpers ─────────────────────────────

  private json(v: unknown): string { return JSON.stringify(v); }
  private toSession(sessionId: string, dest: string, body: unknown) { this.o.bus.sendToSession(sessionId, dest, this.json(body)); }
  private publish(dest: string, body: unknown) { this.o.bus.publish(dest, this.json(body)); }
  private key(sessionId: string, buskId: string) { return `${sessionId}|${buskId}`; }

  private async record(id: string): Promise<BuskRecord> {
    const local = this.busks.get(id);
    if (local && !local.ended) return local.rec;
    const rec = await this.o.state.getBusk(id);
    if (!rec) throw new AppError('not-found', `no busk ${id}`);
    return rec;
  }

  private principal(req: AppRequest): Principal {
    const p = req.session.principal;
    if (!p) throw new AppError('unauthorized', 'not authenticated');
    return p;
  }

  private takeEarly(sessionId: string, buskId: string): IceCandidate[] {
    const k = this.key(sessionId, buskId);
    const l = this.early.get(k) ?? [];
    this.early.delete(k);
    return l;
  }

  private async updateRec(busk: Busk, patch: Partial<BuskRecord>): Promise<void> {
    Object.assign(busk.rec, patch);
    await this.o.state.updateBusk(busk.id, patch);
  }

  private async publishUpdated(rec: BuskRecord): Promise<void> {
    const viewers = await this.o.state.viewerCount(rec.id);
    this.publish('/topic/busks', { type: 'updated', busk: toPublic(rec, viewers) });
  }

  /** Viewer counts change in bursts (200 joins at once): coalesce to one message per busk per 200 ms. */
  private countChanged(buskId: string): void {
    if (this.countTimers.has(buskId)) return;
    this.countTimers.set(buskId, setTimeout(async () => {
      this.countTimers.delete(buskId);
      try {
        const rec = await this.o.state.getBusk(buskId);
        if (!rec) return;
        const count = await this.o.state.viewerCount(buskId);
        this.publish(`/topic/busk.${buskId}`, { type: 'viewers', count });
        this.publish('/topic/busks', { type: 'updated', busk: toPublic(rec, count) });
      } catch { /* state briefly unavailable: the next change publishes */ }
    }, 200));
  }

  private async setMedia(busk: Busk, state: MediaState): Promise<void> {
    if (busk.rec.media === state || busk.ended) return;
    await this.updateRec(busk, { media: state });
    this.publish(`/topic/busk.${busk.id}`, { type: 'media', state });
    await this.publishUpdated(busk.rec);
  }

  // ───────────────────────────── /app handlers ─────────────────────────────

  private async onStart(req: AppRequest): Promise<void> {
    const p = this.principal(req);
    if (!hasRole(p, 'busker')) throw new AppError('forbidden', 'starting a busk needs the busker role');
    const start = parseStart(req.json());
    if (!this.o.media.anyUp) throw new AppError('unavailable', 'no media server is available; try again shortly');
    for (const b of this.busks.values()) {
      if (b.rec.presenterSession === req.session.id && !b.ended) throw new AppError('conflict', `this session already presents busk ${b.id}`);
    }
    const rec: BuskRecord = {
      id: crypto.randomBytes(6).toString('base64url'),
      owner: { id: p.id, name: p.name },
      title: start.title, description: start.description, hashtags: start.hashtags, location: start.location,
      startedAt: new Date().toISOString(), media: 'connecting',
      node: this.o.nodeId, presenterSession: req.session.id, kmsUrl: null, pipelineId: null, presenterEndpointId: null,
    };
    const busk = new Busk(rec);
    this.busks.set(rec.id, busk);
    await this.o.state.putBusk(rec);
    this.o.metrics.busksStarted.inc();
    this.toSession(req.session.id, '/queue/busk', { type: 'started', buskId: rec.id });
    this.publish('/topic/busks', { type: 'live', busk: toPublic(rec, 0) });
    log.info('busk', `started ${rec.id} "${rec.title}" by ${p.id}`);
  }

  private async onOffer(req: AppRequest): Promise<void> {
    const p = this.principal(req);
    const id = req.params.id;
    const sdp = parseOffer(req.json());
    const rec = await this.record(id);
    const t0 = performance.now();
    if (rec.owner.id === p.id && !p.anonymous) {
      await this.presenterOffer(req.session, rec, sdp);
      this.o.metrics.presentSeconds.observe((performance.now() - t0) / 1000);
    } else {
      await this.viewerOffer(req.session, rec, sdp);
      this.o.metrics.joinSeconds.observe((performance.now() - t0) / 1000);
    }
  }

  private async onIce(req: AppRequest): Promise<void> {
    const id = req.params.id;
    const c = parseIce(req.json());
    const sid = req.session.id;
    const busk = this.busks.get(id);
    if (busk?.presenter && busk.presenter.sessionId === sid) return busk.presenter.addCandidate(c);
    const v = this.viewers.get(this.key(sid, id));
    if (v) return v.addCandidate(c);
    // No leg yet: the offer may still be on its way through the media server. Hold it.
    await this.record(id);
    const k = this.key(sid, id);
    const l = this.early.get(k) ?? [];
    if (l.length >= MAX_EARLY_CANDIDATES) throw new AppError('rate-limited', 'too many ICE candidates without an offer');
    l.push(c);
    this.early.set(k, l);
  }

  private async onLeave(req: AppRequest): Promise<void> {
    const id = req.params.id;
    const sid = req.session.id;
    const busk = this.busks.get(id);
    const p = req.session.principal;
    if (busk && p && !p.anonymous && busk.rec.owner.id === p.id && (busk.rec.presenterSession === sid || busk.rec.presenterSession === null)) {
      await this.endBusk(busk, 'presenter-left');
      return;
    }
    const v = this.viewers.get(this.key(sid, id));
    if (v) {
      await this.removeViewer(v);
      return;
    }
    this.early.delete(this.key(sid, id));
    const rec = await this.record(id);
    if (p && rec.owner.id === p.id && !p.anonymous) throw new AppError('conflict', 'this session does not present this busk');
    throw new AppError('conflict', 'this session is not watching this busk');
  }

  private async onChat(req: AppRequest): Promise<void> {
    const p = this.principal(req);
    const id = req.params.id;
    const text = parseChat(req.json(), this.o.config.chat.maxLength);
    await this.record(id);
    if (!this.chatLimiter.take(req.session.id)) throw new AppError('rate-limited', `at most ${this.o.config.chat.rate.count} chat messages per ${this.o.config.chat.rate.windowMs / 1000} s`);
    const msg: ChatMessage = {
      id: crypto.randomBytes(8).toString('base64url'),
      from: { id: p.id, name: p.name, anonymous: p.anonymous },
      text, at: new Date().toISOString(),
    };
    await this.o.state.appendChat(id, msg, Math.max(1, this.o.config.chat.history));
    this.o.metrics.chatMessages.inc();
    this.publish(`/topic/busk.${id}.chat`, msg);
  }

  private async onLocation(req: AppRequest): Promise<void> {
    const p = this.principal(req);
    const id = req.params.id;
    const body = req.json<unknown>();
    const location = parseLocation(body);
    const rec = await this.record(id);
    if (p.anonymous || rec.owner.id !== p.id) throw new AppError('forbidden', 'only the busker moves the pin');
    const busk = this.busks.get(id);
    let updated: BuskRecord | null;
    if (busk) {
      await this.updateRec(busk, { location });
      updated = busk.rec;
    } else {
      updated = await this.o.state.updateBusk(id, { location });
      if (!updated) throw new AppError('not-found', `no busk ${id}`);
    }
    await this.publishUpdated(updated);
  }

  private async onRefresh(req: AppRequest): Promise<void> {
    const token = parseToken(req.json());
    let next: Principal;
    try {
      next = this.o.verifier.verify(token);
    } catch (e) {
      throw new AppError('unauthorized', (e as Error).message);
    }
    const cur = req.session.principal;
    if (cur && !cur.anonymous && cur.id !== next.id) throw new AppError('forbidden', 'a refreshed token must be for the same user');
    req.session.setPrincipal(next);
  }

  // ───────────────────────────── presenter ─────────────────────────────

  private async presenterOffer(session: SessionInfo, rec: BuskRecord, sdp: string): Promise<void> {
    let busk = this.busks.get(rec.id);
    if (!busk) {
      // The busk's runtime is on another node. Its presenter may come back here (a phone switching
      // networks lands on another node behind the load balancer) only while it is away.
      if (rec.presenterSession !== null) throw new AppError('conflict', 'this busk already has a presenter');
      busk = await this.takeOver(rec, session.id);
    }
    if (busk.ended) throw new AppError('not-found', `no busk ${rec.id}`);
    const current = busk.presenter;
    const presenterSession = busk.rec.presenterSession;
    if (presenterSession !== null && presenterSession !== session.id && this.o.broker.session(presenterSession)) {
      throw new AppError('conflict', 'this busk already has a presenter');
    }
    let presenter: Presenter;
    if (current && current.sessionId === session.id && !current.closed) {
      presenter = current;
    } else {
      // First offer, or the presenter is back on a new session after a drop: a new leg replaces the old.
      if (current) await current.close();
      presenter = new Presenter(session.id, busk.id);
      busk.presenter = presenter;
      busk.clearGrace();
      if (busk.rec.presenterSession !== session.id) await this.updateRec(busk, { presenterSession: session.id });
    }
    const gen = ++presenter.generation;
    const old = presenter.detachEndpoint();
    let ep: Endpoint | null = null;
    try {
      if (!busk.pipeline || busk.pipeline.isReleased) {
        busk.pipeline = await this.o.media.createPipeline();
        await this.updateRec(busk, { kmsUrl: busk.pipeline.server.url, pipelineId: busk.pipeline.id });
      }
      ep = await busk.pipeline.createEndpoint();
      if (presenter.closed || gen !== presenter.generation || busk.ended) throw new AppError('conflict', 'superseded by a newer offer');
      const sid = session.id;
      const b = busk;
      const leg = ep;
      // Flow state restarts with the new leg (before it can report anything), and only the leg that is
      // the presenter's current endpoint may change it: a superseded leg's late NOT_FLOWING must not
      // turn a flowing busk into "stalled".
      busk.resetFlow();
      ep.listen({ candidates: true, flow: true });
      ep.on('candidate', (c) => this.toSession(sid, `/queue/busk.${b.id}`, { type: 'ice', candidate: c }));
      ep.on('flow-in', ({ kind, flowing }) => {
        if (presenter.endpoint !== leg) return;
        this.setMedia(b, b.onFlow(kind, flowing)).catch(() => {});
      });
      const answer = await ep.processOffer(sdp);
      if (presenter.closed || gen !== presenter.generation || busk.ended) throw new AppError('conflict', 'superseded by a newer offer');
      this.toSession(sid, `/queue/busk.${busk.id}`, { type: 'answer', sdpAnswer: answer });
      presenter.attach(ep, this.takeEarly(sid, busk.id));
      ep.gatherCandidates().catch(() => {});
    } catch (e) {
      if (ep) await ep.release();
      if (old && !presenter.closed && gen === presenter.generation) presenter.attach(old); // keep the working leg
      else if (!old && busk.pipeline && !busk.rec.presenterEndpointId && !busk.ended) {
        // A first offer that failed leaves no empty pipeline behind.
        const p = busk.pipeline;
        busk.pipeline = null;
        await p.release();
        await this.updateRec(busk, { kmsUrl: null, pipelineId: null });
      }
      if (e instanceof MediaError) throw new AppError(e.code, e.message);
      throw e;
    }
    // Viewers already connected (renegotiation, presenter back after a drop) now take media from the new endpoint.
    await this.connectViewers(busk, ep);
    if (old) await old.release();
    await this.updateRec(busk, { presenterEndpointId: ep.id });
    if (busk.needsViewerReoffer) {
      busk.needsViewerReoffer = false;
      this.o.bus.control({ type: 'reoffer-viewers', buskId: busk.id });
    }
  }

  private async connectViewers(busk: Busk, source: Endpoint): Promise<void> {
    const entries = await this.o.state.viewers(busk.id);
    await Promise.all(Object.entries(entries).map(async ([sid, v]) => {
      if (!v.endpointId) return;
      const local = this.viewers.get(this.key(sid, busk.id));
      try {
        const sink = local?.endpoint ?? (busk.pipeline ? await busk.pipeline.endpointById(v.endpointId) : null);
        if (sink && !sink.isReleased) await source.connect(sink);
      } catch { /* that viewer's endpoint is gone; it will leave or reoffer */ }
    }));
  }

  /** Adopts a busk whose presenter dropped on another node and came back here. */
  private async takeOver(rec: BuskRecord, sessionId: string): Promise<Busk> {
    if (!(await this.o.state.claim(`takeover:${rec.id}`, 5000))) throw new AppError('conflict', 'the busk is being taken over; retry');
    const busk = new Busk({ ...rec, node: this.o.nodeId, presenterSession: sessionId, presenterEndpointId: null });
    if (rec.kmsUrl && rec.pipelineId) {
      const srv = this.o.media.server(rec.kmsUrl);
      if (srv) {
        try {
          busk.pipeline = await srv.pipelineById(rec.pipelineId);
          // The pipeline now belongs to this node: it releases it when the busk ends.
          srv.pipelines.add(busk.pipeline);
        } catch { busk.pipeline = null; }
      }
    }
    this.busks.set(rec.id, busk);
    await this.o.state.updateBusk(rec.id, { node: this.o.nodeId, presenterSession: sessionId, presenterEndpointId: null });
    this.o.bus.control({ type: 'busk-moved', buskId: rec.id, node: this.o.nodeId, oldEndpointId: rec.presenterEndpointId });
    return busk;
  }

  // ───────────────────────────── viewers ─────────────────────────────

  private async sourceFor(rec: BuskRecord): Promise<{ pipeline: Pipeline; presenter: Endpoint }> {
    const local = this.busks.get(rec.id);
    if (local) {
      const ep = local.presenter?.endpoint;
      if (!local.pipeline || !ep || !rec.presenterEndpointId) throw new AppError('conflict', 'the presenter is not live yet; wait for media "connecting"/"flowing" and retry');
      return { pipeline: local.pipeline, presenter: ep };
    }
    if (!rec.presenterEndpointId || !rec.pipelineId || !rec.kmsUrl) throw new AppError('conflict', 'the presenter is not live yet; retry shortly');
    const cached = this.remote.get(rec.id);
    if (cached && cached.endpointId === rec.presenterEndpointId) return cached;
    const srv = this.o.media.server(rec.kmsUrl);
    if (!srv || !srv.isUp) throw new AppError('unavailable', 'the busk\'s media server is not reachable from this node');
    try {
      const pipeline = await srv.pipelineById(rec.pipelineId);
      const presenter = await srv.endpointById(rec.presenterEndpointId, rec.pipelineId);
      const src = { endpointId: rec.presenterEndpointId, pipeline, presenter };
      this.remote.set(rec.id, src);
      return src;
    } catch (e) {
      throw e instanceof MediaError ? new AppError(e.code, e.message) : e;
    }
  }

  private async viewerOffer(session: SessionInfo, rec: BuskRecord, sdp: string): Promise<void> {
    const k = this.key(session.id, rec.id);
    const src = await this.sourceFor(rec);
    let v = this.viewers.get(k);
    const isNew = !v;
    if (!v) {
      v = new Viewer(session.id, rec.id, session.principal?.id ?? session.id);
      this.viewers.set(k, v);
    }
    const viewer = v;
    const gen = ++viewer.generation;
    const old = viewer.detachEndpoint();
    let ep: Endpoint | null = null;
    try {
      ep = await src.pipeline.createEndpoint();
      if (viewer.closed || gen !== viewer.generation) throw new AppError('conflict', 'superseded by a newer offer');
      const sid = session.id;
      ep.listen({ candidates: true, flow: false });
      ep.on('candidate', (c) => this.toSession(sid, `/queue/busk.${rec.id}`, { type: 'ice', candidate: c }));
      await src.presenter.connect(ep);
      const answer = await ep.processOffer(sdp);
      if (viewer.closed || gen !== viewer.generation) throw new AppError('conflict', 'superseded by a newer offer');
      this.toSession(sid, `/queue/busk.${rec.id}`, { type: 'answer', sdpAnswer: answer });
      viewer.attach(ep, this.takeEarly(sid, rec.id));
      ep.gatherCandidates().catch(() => {});
    } catch (e) {
      if (ep) await ep.release();
      if (isNew && this.viewers.get(k) === viewer) this.viewers.delete(k);
      else if (old && !viewer.closed && gen === viewer.generation) viewer.attach(old);
      if (e instanceof MediaError) {
        this.remote.delete(rec.id); // a cached remote source may be stale
        throw new AppError(e.code, e.message);
      }
      throw e;
    }
    viewer.stale = false;
    if (old) old.release().catch(() => {});
    await this.o.state.setViewer(rec.id, session.id, { node: this.o.nodeId, user: viewer.userId, endpointId: ep.id });
    if (isNew) this.countChanged(rec.id);
  }

  private async removeViewer(v: Viewer, releaseMedia = true): Promise<void> {
    const k = this.key(v.sessionId, v.buskId);
    if (this.viewers.get(k) === v) this.viewers.delete(k);
    if (releaseMedia) await v.close();
    else v.forget();
    const n = await this.o.state.removeViewer(v.buskId, v.sessionId);
    if (n !== null) this.countChanged(v.buskId);
  }

  // ───────────────────────────── ending ─────────────────────────────

  /** Ends a busk this node owns: pipeline released (every endpoint in it with it), state removed, everyone told. */
  async endBusk(busk: Busk, reason: string): Promise<void> {
    if (busk.ended) return;
    busk.ended = true;
    busk.clearGrace();
    this.busks.delete(busk.id);
    busk.presenter?.forget();
    this.dropLocalViewers(busk.id);
    const pipeline = busk.pipeline;
    busk.pipeline = null;
    if (pipeline) await pipeline.release();
    await this.o.state.deleteBusk(busk.id);
    this.o.metrics.busksEnded.inc({ reason });
    this.announceEnded(busk.id, reason);
    log.info('busk', `ended ${busk.id}: ${reason}`);
  }

  private announceEnded(buskId: string, reason: string): void {
    this.publish(`/topic/busk.${buskId}`, { type: 'ended', reason });
    this.publish('/topic/busks', { type: 'ended', buskId });
    this.o.bus.control({ type: 'busk-ended', buskId });
  }

  /** The pipeline's release took their endpoints with it: forget the legs without media calls. */
  private dropLocalViewers(buskId: string): void {
    for (const [k, v] of this.viewers) {
      if (v.buskId === buskId) {
        v.forget();
        this.viewers.delete(k);
      }
    }
    for (const k of [...this.early.keys()]) if (k.endsWith(`|${buskId}`)) this.early.delete(k);
    this.remote.delete(buskId);
    const t = this.countTimers.get(buskId);
    if (t) { clearTimeout(t); this.countTimers.delete(buskId); }
  }

  // ───────────────────────────── sessions ─────────────────────────────

  private async onSessionClose(s: SessionInfo, reason: CloseReason): Promise<void> {
    if (this.closed && this.busks.size === 0 && this.viewers.size === 0) return;
    this.chatLimiter.forget(s.id);
    for (const k of [...this.early.keys()]) if (k.startsWith(`${s.id}|`)) this.early.delete(k);
    const legs = [...this.viewers.values()].filter((v) => v.sessionId === s.id);
    await Promise.all(legs.map((v) => this.removeViewer(v)));
    for (const busk of [...this.busks.values()]) {
      if (busk.rec.presenterSession !== s.id || busk.ended) continue;
      if (DROPS.has(reason) && this.o.config.presenterGraceMs > 0 && !this.closed) await this.startGrace(busk, reason);
      else await this.endBusk(busk, reason === 'disconnect' ? 'presenter-left' : `presenter-${reason}`);
    }
  }

  /** The presenter's connection dropped: keep the busk (and its viewers) for PRESENTER_GRACE_MS. */
  private async startGrace(busk: Busk, reason: string): Promise<void> {
    log.info('busk', `presenter of ${busk.id} dropped (${reason}); grace ${this.o.config.presenterGraceMs} ms`);
    const p = busk.presenter;
    busk.presenter = null;
    if (p) await p.close(); // its endpoint is useless without the peer; a new offer makes a new one
    await this.updateRec(busk, { presenterSession: null, presenterEndpointId: null });
    busk.resetFlow();
    await this.setMedia(busk, 'stalled');
    busk.clearGrace();
    busk.graceTimer = setTimeout(() => {
      busk.graceTimer = null;
      if (busk.rec.presenterSession === null) this.endBusk(busk, 'presenter-lost').catch((e) => log.error('busk', 'end failed', e));
    }, this.o.config.presenterGraceMs);
    busk.graceTimer.unref?.();
  }

  private async onSubscribe(s: SessionInfo, sub: { id: string; destination: string }): Promise<void> {
    const m = /^\/topic\/busk\.([^.]+)\.chat$/.exec(sub.destination);
    if (!m || this.o.config.chat.history <= 0) return;
    const history = await this.o.state.chatHistory(m[1], this.o.config.chat.history);
    // To this subscription only: everyone else subscribed to the topic has seen these messages.
    replayToSubscription(this.o.broker, s.id, sub.id, history.map((msg) => this.json(msg)));
  }

  // ───────────────────────────── other nodes ─────────────────────────────

  private async onControl(m: ControlMessage): Promise<void> {
    const id = m.buskId;
    if (!id || this.closed) return;
    switch (m.type) {
      case 'busk-ended':
        this.dropLocalViewers(id);
        break;
      case 'busk-moved': {
        // Another node adopted this busk (its presenter came back there): hand it over without releasing media.
        const busk = this.busks.get(id);
        if (busk && m.node !== this.o.nodeId) {
          busk.clearGrace();
          busk.presenter?.forget();
          if (busk.pipeline) busk.pipeline.server.forget(busk.pipeline);
          this.busks.delete(id);
        }
        this.remote.delete(id);
        break;
      }
      case 'busk-reset':
        // The media server lost the busk's objects: our viewers' endpoints are gone too.
        for (const v of this.viewers.values()) if (v.buskId === id) { v.detachEndpoint(); v.stale = true; }
        this.remote.delete(id);
        break;
      case 'reoffer-viewers':
        this.remote.delete(id);
        for (const v of this.viewers.values()) {
          if (v.buskId === id && v.stale) {
            this.o.metrics.reoffers.inc({ who: 'viewer' });
            this.toSession(v.sessionId, `/queue/busk.${id}`, { type: 'reoffer', reason: 'media-server-restarted' });
          }
        }
        break;
    }
  }

  /** Ends busks of nodes whose presence expired, and forgets their viewers (Redis only). */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.closed) return;
    this.sweeping = true;
    try {
      const alive = new Map<string, boolean>([[this.o.nodeId, true]]);
      const isAlive = async (n: string) => {
        if (!alive.has(n)) alive.set(n, await this.o.state.isNodeAlive(n));
        return alive.get(n)!;
      };
      for (const rec of await this.o.state.listBusks()) {
        if (!(await isAlive(rec.node))) {
          if (!(await this.o.state.claim(`sweep:${rec.id}`, 30000))) continue;
          log.warn('busk', `node ${rec.node} is gone: ending its busk ${rec.id}`);
          this.dropLocalViewers(rec.id);
          if (rec.kmsUrl && rec.pipelineId) await this.o.media.server(rec.kmsUrl)?.releaseById(rec.pipelineId);
          await this.o.state.deleteBusk(rec.id);
          this.o.metrics.busksEnded.inc({ reason: 'node-lost' });
          this.announceEnded(rec.id, 'node-lost');
          continue;
        }
        const entries = await this.o.state.viewers(rec.id);
        let changed = false;
        for (const [sid, v] of Object.entries(entries)) {
          if (!(await isAlive(v.node))) {
            if (v.endpointId && rec.kmsUrl) await this.o.media.server(rec.kmsUrl)?.releaseById(v.endpointId);
            if ((await this.o.state.removeViewer(rec.id, sid)) !== null) changed = true;
          }
        }
        if (changed) this.countChanged(rec.id);
      }
    } finally {
      this.sweeping = false;
    }
  }

  // ───────────────────────────── media server trouble ─────────────────────────────

  private async onMediaDown(srv: MediaServer): Promise<void> {
    for (const busk of this.busks.values()) {
      if (busk.pipeline?.server === srv) { busk.resetFlow(); await this.setMedia(busk, 'stalled'); }
    }
  }

  /** The media server restarted (INVALID_SESSION): rebuild on the next offers and ask for them. */
  private async onMediaSessionLost(srv: MediaServer): Promise<void> {
    for (const busk of [...this.busks.values()]) {
      if (!busk.pipeline || busk.pipeline.server !== srv || busk.ended) continue;
      busk.pipeline = null;
      busk.presenter?.detachEndpoint();
      busk.needsViewerReoffer = true;
      busk.resetFlow();
      await this.updateRec(busk, { pipelineId: null, kmsUrl: null, presenterEndpointId: null });
      await this.setMedia(busk, 'connecting');
      this.o.bus.control({ type: 'busk-reset', buskId: busk.id });
      const sid = busk.rec.presenterSession;
      if (sid) {
        this.o.metrics.reoffers.inc({ who: 'presenter' });
        this.toSession(sid, `/queue/busk.${busk.id}`, { type: 'reoffer', reason: 'media-server-restarted' });
      }
    }
    // Viewers here of busks owned elsewhere whose presenter is fine: only our legs were lost.
    for (const v of this.viewers.values()) {
      if (this.busks.has(v.buskId) || v.stale || !v.endpoint) continue;
      const rec = await this.o.state.getBusk(v.buskId);
      if (rec?.kmsUrl === srv.url) {
        v.detachEndpoint();
        v.stale = true;
        this.remote.delete(v.buskId);
        this.o.metrics.reoffers.inc({ who: 'viewer' });
        this.toSession(v.sessionId, `/queue/busk.${v.buskId}`, { type: 'reoffer', reason: 'media-server-restarted' });
      }
    }
  }

  // ───────────────────────────── shutdown ─────────────────────────────

  /**
   * Stops this service dead, as a crashed process would: no presence refresh, no cleanup, events
   * ignored. Tests use it to check that the other nodes clean up after a node that died.
   */
  halt(): void {
    this.closed = true;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    for (const b of this.busks.values()) b.clearGrace();
    for (const t of this.countTimers.values()) clearTimeout(t);
    this.busks.clear();
    this.viewers.clear();
  }

  /** Ends this node's busks and releases its viewers' endpoints: nothing left on the media server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    for (const t of this.countTimers.values()) clearTimeout(t);
    this.countTimers.clear();
    await Promise.all([...this.viewers.values()].map((v) => this.removeViewer(v).catch(() => {})));
    await Promise.all([...this.busks.values()].map((b) => this.endBusk(b, 'shutdown').catch(() => {})));
    await this.o.state.nodeGone(this.o.nodeId).catch(() => {});
  }
}

