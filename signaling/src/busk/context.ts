// What every part of the busk service shares: its options, typed sends of PROTOCOL.md messages
// through the Bus, the early ICE candidates and the coalesced viewer counts.
import type { Config } from '../config';
import { AppError } from '../stomp';
import type { AppHandler, CloseReason, SessionInfo } from '../stomp';
import type { MediaPool } from '../media';
import type { Bus, BusTarget, BuskRecord, State } from '../state';
import { toPublic } from '../state';
import type { TokenVerifier } from '../auth';
import type { Metrics } from '../http/metrics';
import type { BuskMessage, BusksMessage, ChatMessage, PeerMessage, StartedMessage } from '../protocol';
import type { SubscriptionDelivery } from './replay';
import { EarlyCandidates } from './leg';
import { OfferBudget } from './budget';
import type { RecorderConfig } from '../record';
import type { HlsService } from '../hls';

/** The broker calls this service uses (signaling/src/stomp Broker). */
export interface BrokerLike extends BusTarget, SubscriptionDelivery {
  app(pattern: string, handler: AppHandler): void;
  on(event: 'session-close', l: (s: SessionInfo, reason: CloseReason) => void): unknown;
  on(event: 'subscribe', l: (s: SessionInfo, sub: { id: string; destination: string }) => void): unknown;
  session(id: string): SessionInfo | undefined;
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
  /** Where busks started with `record: true` are recorded (signaling/src/record). */
  recorder?: RecorderConfig;
  /** The crowd tier (signaling/src/hls): new busks are also served as HLS (needs `recorder`'s leg options). */
  hls?: HlsService;
}

/**
 * Where a negotiation's replies go: a STOMP session's /user/queue/busk.{id} today; an HTTP response
 * (WHIP/WHEP) or an in-process leg (recording) later. Nothing in the negotiation knows which.
 */
export interface PeerChannel {
  /** Unique per peer across nodes (a STOMP session id is). */
  readonly sessionId: string;
  /** Principal id (user or anonymous label id) or the session id. */
  readonly userId: string;
  send(msg: PeerMessage): void;
  /**
   * False once the peer is gone (its STOMP session closed): its close cleanup has run, so nothing
   * may be created for it any more. Checked after every wait that precedes creating something.
   */
  isOpen(): boolean;
  /**
   * For peers that cannot take trickled candidates (WHIP and WHEP answer once, over HTTP): called
   * when the endpoint has found all its candidates, which then go into that one answer.
   */
  gathered?(): void;
  /** For peers with no session of their own to lose (WHEP): the leg's transport went up or down. */
  mediaState?(connected: boolean): void;
}

/** Viewer counts change in bursts (200 joins at once): one message per busk per this many ms. */
const COUNT_COALESCE_MS = 200;

export class BuskContext {
  /** Client ICE candidates that arrived before their endpoint: one owner, one limit. */
  readonly early: EarlyCandidates;
  /** Offers negotiated at once by this node and per session (OFFER_CONCURRENCY). */
  readonly offers: OfferBudget;
  private readonly countTimers = new Map<string, NodeJS.Timeout>();

  constructor(readonly o: BuskServiceOptions) {
    this.early = new EarlyCandidates(o.config.limits.iceCandidatesPerLeg);
    this.offers = new OfferBudget(o.config.limits.offerConcurrency);
  }

  get nodeId(): string { return this.o.nodeId; }

  toSession(sessionId: string, dest: string, body: StartedMessage | PeerMessage): void {
    this.o.bus.sendToSession(sessionId, dest, JSON.stringify(body));
  }

  publish(dest: string, body: BuskMessage | BusksMessage | ChatMessage): void {
    this.o.bus.publish(dest, JSON.stringify(body));
  }

  /** The STOMP session's negotiation channel for one busk. */
  peer(session: SessionInfo, buskId: string): PeerChannel {
    return {
      sessionId: session.id,
      userId: session.principal?.id ?? session.id,
      send: (msg) => this.toSession(session.id, `/queue/busk.${buskId}`, msg),
      isOpen: () => this.o.broker.session(session.id) !== undefined,
    };
  }

  /** A busk's record here or in State; not-found when it is gone. */
  async record(id: string, local?: BuskRecord | null): Promise<BuskRecord> {
    if (local) return local;
    const rec = await this.o.state.getBusk(id);
    if (!rec) throw new AppError('not-found', `no busk ${id}`);
    return rec;
  }

  async publishUpdated(rec: BuskRecord): Promise<void> {
    const viewers = await this.o.state.viewerCount(rec.id);
    this.publish('/topic/busks', { type: 'updated', busk: toPublic(rec, viewers) });
  }

  countChanged(buskId: string): void {
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
    }, COUNT_COALESCE_MS));
  }

  /** Everyone (the busk's watchers, the map, the other nodes) learns that the busk ended. */
  announceEnded(buskId: string, reason: string): void {
    this.publish(`/topic/busk.${buskId}`, { type: 'ended', reason });
    this.publish('/topic/busks', { type: 'ended', buskId });
    this.o.bus.control({ type: 'busk-ended', buskId });
  }

  /** The busk ended here or elsewhere: no count to publish, no candidates to hold. */
  forgetBusk(buskId: string): void {
    const t = this.countTimers.get(buskId);
    if (t) { clearTimeout(t); this.countTimers.delete(buskId); }
    this.early.dropBusk(buskId);
  }

  stop(): void {
    for (const t of this.countTimers.values()) clearTimeout(t);
    this.countTimers.clear();
  }
}
