// The broker: the sessions table shared by every transport, the destination registries, the
// application handlers, the stats and the one timer that drives heart-beats and timeouts.
import { EventEmitter } from 'node:events';
import crypto from 'node:crypto';
import type http from 'node:http';
import { BrokerOptions, ResolvedOptions, resolveOptions } from './options';
import type { Clock, TimerHandle } from './clock';
import { Session, SessionHost } from './session';
import { Connection } from './connection';
import { Message, normalizeBody } from './destinations/message';
import { Subscription } from './destinations/subscription';
import { TopicRegistry } from './destinations/topics';
import { QueueRegistry } from './destinations/queues';
import { AppRouter } from './destinations/app';
import { Request } from './app-request';
import { AppError, ProtocolError } from './errors';
import { Headers, newHeaders } from './frame';
import { WsTransport } from './transports/ws';
import { TcpTransport } from './transports/tcp';
import type { AppHandler, BrokerStats, CloseReason, Principal, SessionInfo } from './types';

export type Body = string | Buffer | Uint8Array | object;

export interface SubscriptionEvent {
  id: string;
  destination: string;
}

export interface BrokerEvents {
  'session-open': [SessionInfo];
  'session-close': [SessionInfo, CloseReason];
  subscribe: [SessionInfo, SubscriptionEvent];
  unsubscribe: [SessionInfo, SubscriptionEvent];
  /** An application-level error sent to a session's /user/queue/errors (code of PROTOCOL.md). */
  'error-reported': [SessionInfo, string];
}

export interface Broker {
  on<K extends keyof BrokerEvents>(event: K, listener: (...args: BrokerEvents[K]) => void): this;
  once<K extends keyof BrokerEvents>(event: K, listener: (...args: BrokerEvents[K]) => void): this;
  off<K extends keyof BrokerEvents>(event: K, listener: (...args: BrokerEvents[K]) => void): this;
  emit<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): boolean;
}

/** Headers a client's SEND carries that are not passed on to subscribers. */
const SEND_ONLY = new Set(['destination', 'receipt', 'transaction', 'content-length']);

export class Broker extends EventEmitter implements SessionHost {
  readonly opts: ResolvedOptions;
  readonly counters = {
    messagesIn: 0, messagesOut: 0, dropped: 0, errors: 0, connectionsTotal: 0, connectionsRefused: 0, bytesIn: 0, bytesOut: 0, unacked: 0, transactionBytes: 0,
    /** ERROR frames by their `message` header (a fixed phrase per cause), so ops can tell abuse from bugs. */
    errorsByCause: new Map<string, number>(),
    /** Sockets closed, by why (slow consumers and timeouts get no ERROR frame, or not only one). */
    closedByReason: new Map<CloseReason, number>(),
  };

  /** Counts one ERROR frame; causes past the first 64 distinct ones share "other" (the label set stays bounded). */
  countError(cause: string): void {
    const m = this.counters.errorsByCause;
    const key = m.has(cause) || m.size < 64 ? cause : 'other';
    m.set(key, (m.get(key) ?? 0) + 1);
    this.counters.errors++;
  }

  /** Connected sessions (after CONNECTED), by id. */
  private readonly sessions = new Map<string, Session>();
  /** Every live session, connected or still negotiating (the sweep needs them all). */
  private readonly live = new Set<Session>();
  /** Open sockets per client address (connection caps). */
  private readonly perAddress = new Map<string, number>();
  private readonly byUser = new Map<string, Set<Session>>();
  private readonly topics = new TopicRegistry();
  private readonly queues: QueueRegistry;
  private readonly apps = new AppRouter();
  private subscriptionCount = 0;
  private readonly byTransport = { ws: 0, tcp: 0 };
  private readonly boot = crypto.randomBytes(3).toString('hex');
  private sessionSeq = 0;
  private messageSeq = 0;
  private readonly clock: Clock;
  /** Sweep period for the configured limits; sessions that negotiated shorter heart-beats lower it while they live. */
  private readonly baseTickMs: number;
  private tickMs: number;
  private timer: TimerHandle;
  private readonly transports: Array<WsTransport | TcpTransport> = [];
  private closed = false;

  constructor(options: BrokerOptions = {}) {
    super();
    this.opts = resolveOptions(options);
    this.queues = new QueueRegistry({
      maxDepth: () => this.opts.limits.maxQueueDepth,
      onDrop: () => this.counters.dropped++,
    });
    const hb = this.opts.heartbeat;
    const l = this.opts.limits;
    const candidates = [1000, l.partialFrameTimeoutMs / 2, l.connectTimeoutMs / 2];
    if (hb.sendMs > 0) candidates.push(hb.sendMs / 4);
    if (hb.receiveMs > 0) candidates.push(hb.receiveMs / 2);
    this.baseTickMs = Math.max(10, Math.floor(Math.min(...candidates)));
    this.tickMs = this.baseTickMs;
    this.clock = this.opts.clock;
    this.timer = this.startSweep();
  }

  private startSweep(): TimerHandle {
    const t = this.clock.setInterval(() => this.sweep(), this.tickMs);
    t.unref?.();
    return t;
  }

  /** Runs the sweep every `ms` (heart-beats negotiated below the configured period need it). */
  private retime(need: number): void {
    const ms = Math.max(10, Math.floor(Math.min(need, this.baseTickMs)));
    if (ms === this.tickMs || this.closed) return;
    this.clock.clearInterval(this.timer);
    this.tickMs = ms;
    this.timer = this.startSweep();
  }

  // ---- transports ----

  /** STOMP over WebSocket on an HTTP server (subprotocols v12.stomp, v11.stomp, v10.stomp). */
  attachTo(server: http.Server, path = '/stomp'): void {
    this.transports.push(new WsTransport(server, path, this.opts.limits.maxFrameBytes, this));
  }

  /** STOMP over plain TCP; resolves with the bound port (useful with port 0). */
  async listenTcp(port: number, host = '127.0.0.1'): Promise<number> {
    const t = new TcpTransport(this);
    this.transports.push(t);
    return t.listen(port, host);
  }

  get trustedProxies(): ReadonlySet<string> {
    return this.opts.trustedProxies;
  }

  /** Connection caps, checked by the transports before anything is read from a new socket. */
  admit(address: string | undefined): boolean {
    const l = this.opts.limits;
    const refuse = (l.maxConnections > 0 && this.live.size >= l.maxConnections)
      || (l.maxConnectionsPerAddress > 0 && (this.perAddress.get(address ?? '') ?? 0) >= l.maxConnectionsPerAddress);
    if (refuse) this.counters.connectionsRefused++;
    return !refuse;
  }

  /** A new connection from a transport: the returned session receives its data. */
  accept(conn: Connection): Session {
    const id = `${this.opts.sessionIdPrefix}-${this.boot}${(++this.sessionSeq).toString(36)}`;
    const s = new Session(this, conn, id);
    if (this.closed) {
      s.close('shutdown', false);
      return s;
    }
    this.live.add(s);
    const a = conn.remoteAddress ?? '';
    this.perAddress.set(a, (this.perAddress.get(a) ?? 0) + 1);
    this.counters.connectionsTotal++;
    return s;
  }

  // ---- application API ----

  app(pattern: string, handler: AppHandler): void {
    this.apps.add(pattern, handler);
  }

  /** Publishes to a /topic/ or /queue/ destination (or /user/{userId}/...). */
  publish(destination: string, body: Body, headers?: Record<string, string>): void {
    const n = normalizeBody(body, headers);
    this.counters.messagesIn++;
    this.publishNormalized(destination, n.headers, n.body);
  }

  /** Every session of a user, on its /user{destination} subscriptions. */
  sendToUser(userId: string, destination: string, body: Body, headers?: Record<string, string>): void {
    const sessions = this.byUser.get(userId);
    if (!sessions) return;
    const n = normalizeBody(body, headers);
    const key = userKey(destination);
    const msg = new Message(this.nextMessageId(), '/user' + key, n.headers, n.body);
    for (const s of sessions) this.deliverToUserSubs(s, key, msg);
  }

  /** One session's /user{destination} subscriptions ('/queue/x' reaches '/user/queue/x'). */
  sendToSession(sessionId: string, destination: string, body: Body, headers?: Record<string, string>): void {
    const s = this.sessions.get(sessionId);
    if (!s) return;
    const key = userKey(destination);
    if (!s.userSubscriptions.has(key)) return;
    const n = normalizeBody(body, headers);
    this.deliverToUserSubs(s, key, new Message(this.nextMessageId(), '/user' + key, n.headers, n.body));
  }

  /**
   * Exactly one subscription of one session (e.g. history replayed to a new subscriber of a topic):
   * a MESSAGE with that subscription's destination, seen by nobody else. Works for /topic, /queue
   * and /user subscriptions; ack modes apply (a NACKed direct message is dropped, never queued for
   * other consumers). Local sessions only (the bus routes by session id). False when the session or
   * subscription is unknown or cannot take the message (counted as dropped then).
   */
  sendToSubscription(sessionId: string, subscriptionId: string, body: Body, headers?: Record<string, string>): boolean {
    const s = this.sessions.get(sessionId);
    const sub = s?.subscriptions.get(subscriptionId);
    if (!s || !sub) return false;
    const n = normalizeBody(body, headers);
    const msg = new Message(this.nextMessageId(), sub.destination, n.headers, n.body);
    msg.direct = true;
    if (s.deliver(sub, msg)) return true;
    if (s.isOpen) this.counters.dropped++;
    return false;
  }

  /** Ends a session: an ERROR frame with this message first when given. Close reason 'kicked'. */
  closeSession(sessionId: string, errorMessage?: string): void {
    const s = this.sessions.get(sessionId) ?? [...this.live].find((x) => x.id === sessionId);
    if (!s) return;
    if (errorMessage !== undefined) s.fail(errorMessage, errorMessage, undefined, 'kicked');
    else s.close('kicked', true);
  }

  session(id: string): SessionInfo | undefined {
    return this.sessions.get(id);
  }

  /** Connected sessions of a user. */
  sessionsOf(userId: string): SessionInfo[] {
    return [...(this.byUser.get(userId) ?? [])];
  }

  /** Subscribers of a /topic destination on this node. */
  subscriberCount(destination: string): number {
    return this.topics.subscriberCount(destination);
  }

  /** Messages waiting in a /queue destination. */
  queueDepth(destination: string): number {
    return this.queues.depth(destination);
  }

  stats(): BrokerStats {
    const c = this.counters;
    return {
      sessions: this.sessions.size,
      subscriptions: this.subscriptionCount,
      messagesIn: c.messagesIn,
      messagesOut: c.messagesOut,
      dropped: c.dropped,
      errors: c.errors,
      connectionsTotal: c.connectionsTotal,
      connectionsRefused: c.connectionsRefused,
      sockets: this.live.size,
      transactionBytes: c.transactionBytes,
      queued: this.queues.waiting,
      unacked: c.unacked,
      bytesIn: c.bytesIn,
      bytesOut: c.bytesOut,
      byTransport: { ...this.byTransport },
      outboundBytes: [...this.live].reduce((sum, s) => sum + s.outboundBytes, 0),
      errorsByCause: Object.fromEntries(c.errorsByCause),
      closedByReason: Object.fromEntries(c.closedByReason),
    };
  }

  /** Closes every session and listener (not the HTTP server it was attached to). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.clock.clearInterval(this.timer);
    for (const s of [...this.live]) s.close('shutdown', false);
    await Promise.all(this.transports.map((t) => t.close()));
  }

  // ---- SessionHost ----

  sessionOpened(s: Session): void {
    if (s.sweepMs < this.tickMs) this.retime(s.sweepMs);
    this.sessions.set(s.id, s);
    this.byTransport[s.transport]++;
    this.indexUser(s, s.principal);
    this.safeEmit('session-open', s);
  }

  sessionClosed(s: Session, reason: CloseReason, wasOpen: boolean): void {
    this.counters.closedByReason.set(reason, (this.counters.closedByReason.get(reason) ?? 0) + 1);
    if (this.live.delete(s)) {
      const a = s.remoteAddress ?? '';
      const n = (this.perAddress.get(a) ?? 1) - 1;
      if (n > 0) this.perAddress.set(a, n);
      else this.perAddress.delete(a);
    }
    if (!wasOpen) return;
    this.sessions.delete(s.id);
    this.byTransport[s.transport]--;
    this.unindexUser(s, s.principal);
    this.safeEmit('session-close', s, reason);
  }

  principalChanged(s: Session, old: Principal | null): void {
    this.unindexUser(s, old);
    this.indexUser(s, s.principal);
  }

  addSubscription(s: Session, sub: Subscription): void {
    this.subscriptionCount++;
    if (sub.kind === 'topic') this.topics.add(sub);
    this.safeEmit('subscribe', s, { id: sub.id, destination: sub.destination });
    // After the event, so a listener can publish a snapshot before queued messages flow.
    if (sub.kind === 'queue') this.queues.add(sub);
  }

  removeSubscription(s: Session, sub: Subscription, unacked: Message[]): void {
    this.subscriptionCount--;
    if (sub.kind === 'topic') this.topics.remove(sub);
    else if (sub.kind === 'queue') this.queues.remove(sub, this.queueable(unacked));
    if (sub.kind !== 'queue') this.counters.dropped += unacked.length;
    this.safeEmit('unsubscribe', s, { id: sub.id, destination: sub.destination });
  }

  route(s: Session, destination: string, headers: Headers, body: Buffer, receipt: string | undefined): boolean {
    this.counters.messagesIn++;
    if (destination.startsWith('/app/')) {
      this.dispatchApp(s, destination, headers, body, receipt);
      return true;
    }
    if (destination.startsWith('/topic/') || destination.startsWith('/queue/')) {
      this.publishNormalized(destination, passOn(headers), body);
      return false;
    }
    // Spring's /user/{user}/queue/x: a client addressing every session of one user.
    const m = /^\/user\/([^/]+)(\/.+)$/.exec(destination);
    if (m) {
      const sessions = this.byUser.get(m[1]);
      if (sessions) {
        const msg = new Message(this.nextMessageId(), '/user' + m[2], passOn(headers), body);
        for (const x of sessions) this.deliverToUserSubs(x, m[2], msg);
      }
      return false;
    }
    throw new ProtocolError('unknown destination', `cannot send to "${destination}": destinations start with /app/, /topic/, /queue/ or /user/`);
  }

  reportError(s: Session, code: string, message: string, destination: string | undefined, receipt: string | undefined): void {
    const payload: Record<string, string> = { code, message };
    if (destination !== undefined) payload.destination = destination;
    if (receipt !== undefined) payload.receipt = receipt;
    this.sendToSession(s.id, '/queue/errors', JSON.stringify(payload), { 'content-type': 'application/json' });
    this.safeEmit('error-reported', s, code);
  }

  requeue(sub: Subscription, msgs: Message[]): void {
    this.queues.requeue(sub.key, this.queueable(msgs), sub);
  }

  /** Messages that may go back into a queue: not the ones addressed to one subscription. */
  private queueable(msgs: Message[]): Message[] {
    let direct = 0;
    for (const m of msgs) if (m.direct) direct++;
    if (direct === 0) return msgs;
    this.counters.dropped += direct;
    return msgs.filter((m) => !m.direct);
  }

  resumeQueue(key: string): void {
    this.queues.resume(key);
  }

  // ---- internals ----

  private publishNormalized(destination: string, headers: Record<string, string>, body: Buffer): void {
    if (destination.startsWith('/topic/')) {
      // A topic without subscribers simply forgets the message (not counted as dropped).
      this.topics.publish(destination, new Message(this.nextMessageId(), destination, headers, body));
    } else if (destination.startsWith('/queue/')) {
      this.queues.publish(destination, new Message(this.nextMessageId(), destination, headers, body));
    } else if (destination.startsWith('/user/')) {
      const m = /^\/user\/([^/]+)(\/.+)$/.exec(destination);
      if (!m) throw new Error(`cannot publish to ${destination}`);
      const sessions = this.byUser.get(m[1]);
      if (!sessions) return;
      const msg = new Message(this.nextMessageId(), '/user' + m[2], headers, body);
      for (const s of sessions) this.deliverToUserSubs(s, m[2], msg);
    } else {
      throw new Error(`cannot publish to ${destination}: use /topic/, /queue/ or /user/{userId}/`);
    }
  }

  private deliverToUserSubs(s: Session, key: string, msg: Message): void {
    const subs = s.userSubscriptions.get(key);
    if (!subs) return;
    for (const sub of subs.length === 1 ? subs : [...subs]) s.deliver(sub, msg);
  }

  private dispatchApp(s: Session, destination: string, headers: Headers, body: Buffer, receipt: string | undefined): void {
    const match = this.apps.match(destination);
    if (!match) {
      this.reportError(s, 'not-found', `no handler for ${destination}`, destination, receipt);
      return;
    }
    const req = new Request(s, destination, match.params, headers, body);
    let result: void | Promise<void>;
    try {
      result = match.handler(req);
    } catch (e) {
      this.appFailed(s, destination, receipt, e);
      return;
    }
    if (result && typeof (result as Promise<void>).then === 'function') {
      (result as Promise<void>).then(
        () => {
          if (receipt !== undefined) s.sendFrame('RECEIPT', { 'receipt-id': receipt });
        },
        (e) => this.appFailed(s, destination, receipt, e),
      );
    } else if (receipt !== undefined) {
      s.sendFrame('RECEIPT', { 'receipt-id': receipt });
    }
  }

  private appFailed(s: Session, destination: string, receipt: string | undefined, e: unknown): void {
    if (e instanceof AppError || (e instanceof Error && e.name === 'AppError' && typeof (e as AppError).code === 'string')) {
      this.reportError(s, (e as AppError).code, e.message, destination, receipt);
      return;
    }
    this.opts.logger.error('app handler failed', { destination, session: s.id, error: e instanceof Error ? e.stack : String(e) });
    this.reportError(s, 'unavailable', 'internal error', destination, receipt);
  }

  /** A listener's bug must not break the protocol handling that emitted the event. */
  private safeEmit<K extends keyof BrokerEvents>(event: K, ...args: BrokerEvents[K]): void {
    try {
      this.emit(event, ...args);
    } catch (e) {
      this.opts.logger.error(`'${event}' listener failed`, { error: e instanceof Error ? e.stack : String(e) });
    }
  }

  private nextMessageId(): string {
    return `${this.boot}-${(++this.messageSeq).toString(36)}`;
  }

  private indexUser(s: Session, p: Principal | null): void {
    if (!p) return;
    let set = this.byUser.get(p.id);
    if (!set) this.byUser.set(p.id, (set = new Set()));
    set.add(s);
  }

  private unindexUser(s: Session, p: Principal | null): void {
    if (!p) return;
    const set = this.byUser.get(p.id);
    if (!set) return;
    set.delete(s);
    if (set.size === 0) this.byUser.delete(p.id);
  }

  private sweep(): void {
    const now = this.clock.now();
    let need = Infinity;
    for (const s of this.live) {
      s.tick(now, this.tickMs);
      const ms = s.sweepMs;
      if (ms < need) need = ms;
    }
    // Back to the configured period once the sessions that needed a faster sweep are gone.
    this.retime(need);
    this.enforceOutboundBudget();
  }

  /** The node-wide budget for bytes held for slow readers: the biggest holders go first. */
  private enforceOutboundBudget(): void {
    const budget = this.opts.limits.maxTotalOutboundBytes;
    if (budget <= 0) return;
    let total = 0;
    const holders: Session[] = [];
    for (const s of this.live) {
      const b = s.outboundBytes;
      if (b > 0) { total += b; holders.push(s); }
    }
    if (total <= budget) return;
    holders.sort((a, b) => b.outboundBytes - a.outboundBytes);
    for (const s of holders) {
      if (total <= budget) break;
      total -= s.outboundBytes;
      s.dropAsSlowConsumer('node');
    }
  }
}

/** '/user/queue/x' and '/queue/x' both name the user destination '/queue/x'. */
function userKey(destination: string): string {
  return destination.startsWith('/user/') ? destination.slice(5) : destination;
}

function passOn(headers: Headers): Record<string, string> {
  // Null prototype, like the parser's map: a user header named __proto__ is passed on as a header.
  const out = newHeaders();
  for (const k in headers) if (!SEND_ONLY.has(k)) out[k] = headers[k];
  return out;
}

/** The node prefix of a session id (ids are `${sessionIdPrefix}-${suffix}`, the suffix has no '-'). */
export function sessionIdPrefixOf(sessionId: string): string {
  const i = sessionId.lastIndexOf('-');
  return i < 0 ? '' : sessionId.slice(0, i);
}
