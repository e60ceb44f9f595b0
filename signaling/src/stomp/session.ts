// One client connection speaking STOMP: CONNECT negotiation, the frame commands, subscriptions
// and their unacked deliveries, transactions, heart-beats and the per-session limits. Routing of
// messages is the broker's (SessionHost); the socket is the transport's (Connection).
import { BODY_COMMANDS, CLIENT_COMMANDS, EscapeMode, Frame, Headers, StompVersion, SUPPORTED_VERSIONS, escapeModeFor } from './frame';
import { FrameParser } from './parser';
import { HEARTBEAT, HeaderInput, serializeFrame } from './serializer';
import { FrameError, ProtocolError, isAuthError } from './errors';
import { negotiateHeartbeat, parseHeartbeat } from './heartbeat';
import { RateLimiter } from './ratelimit';
import { Connection, ConnectionHandler } from './connection';
import { AckMode, Delivery, DestinationKind, Subscription } from './destinations/subscription';
import type { Message } from './destinations/message';
import type { ResolvedOptions } from './options';
import type { Clock, TimerHandle } from './clock';
import type { CloseReason, Principal, SessionInfo, TransportKind } from './types';

/** What a session needs from the broker. */
export interface SessionHost {
  readonly opts: ResolvedOptions;
  readonly counters: { bytesIn: number; bytesOut: number; messagesOut: number; dropped: number; unacked: number; transactionBytes: number };
  /** One ERROR frame sent, with its `message` header. */
  countError(cause: string): void;
  sessionOpened(s: Session): void;
  sessionClosed(s: Session, reason: CloseReason, wasOpen: boolean): void;
  principalChanged(s: Session, old: Principal | null): void;
  addSubscription(s: Session, sub: Subscription): void;
  removeSubscription(s: Session, sub: Subscription, unacked: Message[]): void;
  /** Executes a SEND; returns true when it took over answering the receipt (app handlers). */
  route(s: Session, destination: string, headers: Headers, body: Buffer, receipt: string | undefined): boolean;
  /** Reports an application-level error on the session's /user/queue/errors. */
  reportError(s: Session, code: string, message: string, destination: string | undefined, receipt: string | undefined): void;
  requeue(sub: Subscription, msgs: Message[]): void;
  resumeQueue(key: string): void;
}

type State = 'new' | 'authenticating' | 'connected' | 'closed';

const ACK_MODES: ReadonlySet<string> = new Set(['auto', 'client', 'client-individual']);

export class Session implements SessionInfo, ConnectionHandler {
  principal: Principal | null = null;
  connectedAt = 0;
  version: StompVersion = '1.2';
  readonly openedAt: number;
  readonly subscriptions = new Map<string, Subscription>();
  /** /user subscriptions by routing key (/queue/x for /user/queue/x). */
  readonly userSubscriptions = new Map<string, Subscription[]>();

  private state: State = 'new';
  private escape: EscapeMode = 'none';
  private readonly parser: FrameParser;
  private readonly limiter: RateLimiter;
  private readonly acks = new Map<string, Delivery>();
  private pendingCount = 0;
  private ackSeq = 0;
  private readonly transactions = new Map<string, Transaction>();
  /** Bytes buffered in all open transactions (maxSessionTransactionBytes). */
  private transactionBytes = 0;
  /** A rate-limited notice went out for the current backlog (one per episode, not per frame). */
  private rateNoticeSent = false;
  // Backpressure. Frames received but not processed yet, in order: over the rate limit, or pipelined
  // behind CONNECT while the authenticator runs. While any wait, the socket is paused and later
  // frames queue behind them; a timer at the next rate window processes them. Nothing is dropped.
  private backlog: (Frame | undefined)[] = [];
  private backlogHead = 0;
  private readPaused = false;
  private drainTimer: TimerHandle | null = null;
  /** The client sends binary WebSocket messages: answer in kind. */
  private binaryPeer = false;
  // Heart-beat bookkeeping is done by the broker's sweep: the hot paths only set flags.
  private outgoingMs = 0;
  private incomingMs = 0;
  private lastRead: number;
  private lastWrite: number;
  private readSinceTick = false;
  private wroteSinceTick = false;
  private frameStartedAt = 0;
  private readonly clock: Clock;

  constructor(
    private readonly host: SessionHost,
    private readonly conn: Connection,
    readonly id: string,
  ) {
    this.clock = host.opts.clock;
    this.openedAt = this.lastRead = this.lastWrite = this.clock.now();
    const l = host.opts.limits;
    // Until CONNECTED the peer is unknown: it gets a small frame (and WebSocket message) budget.
    const connectMax = Math.min(l.maxConnectFrameBytes, l.maxFrameBytes);
    this.parser = new FrameParser(
      { maxFrameBytes: connectMax, maxHeaders: l.maxHeaders, maxHeaderLineBytes: l.maxHeaderLineBytes },
      (f) => this.onFrame(f),
    );
    conn.setMaxMessageBytes?.(connectMax);
    this.limiter = new RateLimiter(l.rateLimit.count, l.rateLimit.windowMs);
  }

  get transport(): TransportKind {
    return this.conn.transport;
  }

  get remoteAddress(): string | undefined {
    return this.conn.remoteAddress;
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  get isConnected(): boolean {
    return this.state === 'connected';
  }

  /** Unacknowledged deliveries of this session. */
  get unacked(): number {
    return this.pendingCount;
  }

  setPrincipal(p: Principal | null): void {
    const old = this.principal;
    this.principal = p;
    if (this.state !== 'connected') return;
    this.host.principalChanged(this, old);
    this.recheckSubscriptions();
  }

  /** Rules are checked at SUBSCRIBE; a new principal (token refresh, role lost) may no longer be
   *  allowed what an earlier one was. Those subscriptions end, and the client is told on
   *  /user/queue/errors (no ERROR: the session itself is still fine). */
  private recheckSubscriptions(): void {
    const allowed = this.host.opts.permissions;
    for (const sub of [...this.subscriptions.values()]) {
      if (allowed(this.principal, 'subscribe', sub.destination)) continue;
      this.dropSubscription(sub);
      this.host.reportError(this, 'forbidden', `subscription ${sub.id} to ${sub.destination} ended: no longer allowed`, sub.destination, undefined);
    }
  }

  // ---- transport side ----

  onData(chunk: Buffer, binary: boolean): void {
    if (this.state === 'closed') return;
    this.readSinceTick = true;
    if (binary) this.binaryPeer = true;
    this.host.counters.bytesIn += chunk.length;
    try {
      this.parser.push(chunk);
    } catch (e) {
      if (e instanceof FrameError) this.fail(frameErrorMessage(e), e.message, e.receiptId);
      else this.internalError(e);
      return;
    }
    if (this.parser.inFrame) {
      if (this.frameStartedAt === 0) this.frameStartedAt = this.clock.now();
    } else this.frameStartedAt = 0;
  }

  onClosed(): void {
    this.close('socket-closed', false);
  }

  // ---- frames ----

  private onFrame(frame: Frame): void {
    this.frameStartedAt = 0;
    if (this.state === 'closed') return;
    // Fast path: nothing waiting and budget left.
    if (this.backlogHead === this.backlog.length && this.state !== 'authenticating' && this.limiter.take(this.clock.now())) {
      this.process(frame);
      return;
    }
    this.hold(frame);
    if (this.state !== 'authenticating') {
      this.noticeRateLimit();
      this.scheduleDrain();
    }
  }

  /** Tells the client once per backlog that it is being slowed down (its frames wait, none is lost). */
  private noticeRateLimit(): void {
    if (this.rateNoticeSent || this.state !== 'connected') return;
    this.rateNoticeSent = true;
    const r = this.host.opts.limits.rateLimit;
    this.host.reportError(this, 'rate-limited', `more than ${r.count} frames per ${r.windowMs} ms: slowed down`, undefined, undefined);
  }

  /** Queues a frame that cannot be processed now and stops reading from the socket. */
  private hold(frame: Frame): void {
    const max = this.host.opts.limits.maxBufferedFrames;
    if (this.backlog.length - this.backlogHead >= max) {
      const r = this.host.opts.limits.rateLimit;
      this.noticeRateLimit();
      this.fail('rate limit exceeded', `more than ${max} frames waiting to be processed (rate limit ${r.count} frames per ${r.windowMs} ms)`, frame.headers.receipt, 'rate-limited');
      return;
    }
    this.backlog.push(frame);
    if (!this.readPaused) {
      this.readPaused = true;
      this.conn.pause();
    }
  }

  private scheduleDrain(): void {
    if (this.drainTimer !== null || this.state === 'closed') return;
    // +1: the window has surely turned when the timer fires.
    const now = this.clock.now();
    this.drainTimer = this.clock.setTimeout(() => this.drainBacklog(), this.limiter.msUntilNextWindow(now) + 1);
  }

  /** Processes waiting frames as far as the rate allows; reads again once none wait. */
  drainBacklog(): void {
    this.drainTimer = null;
    const q = this.backlog;
    while (this.backlogHead < q.length) {
      if (this.state === 'closed') return;
      if (this.state === 'authenticating') return; // connect() drains when CONNECTED
      if (!this.limiter.take(this.clock.now())) {
        this.scheduleDrain();
        return;
      }
      const f = q[this.backlogHead]!;
      q[this.backlogHead++] = undefined;
      this.process(f);
    }
    this.backlog = [];
    this.backlogHead = 0;
    this.rateNoticeSent = false;
    if (this.readPaused && this.state !== 'closed') {
      this.readPaused = false;
      if (this.parser.inFrame) this.frameStartedAt = this.clock.now();
      this.conn.resume();
    }
  }

  /** Bytes written to this session and not yet on the wire (what a slow consumer costs the node). */
  get outboundBytes(): number { return this.state === 'closed' ? 0 : this.conn.bufferedBytes(); }

  /** Frames received but not processed yet (backpressure). */
  get waitingFrames(): number {
    return this.backlog.length - this.backlogHead;
  }

  private process(frame: Frame): void {
    try {
      this.handle(frame);
    } catch (e) {
      if (e instanceof ProtocolError) this.fail(e.message, e.details, e.receiptId ?? frame.headers.receipt);
      else if (e instanceof FrameError) this.fail(frameErrorMessage(e), e.message, frame.headers.receipt);
      else this.internalError(e, frame.headers.receipt);
    }
  }

  private handle(frame: Frame): void {
    const { command, headers } = frame;
    if (!CLIENT_COMMANDS.has(command)) throw new ProtocolError('unknown command', `unknown command "${command.slice(0, 32)}"`);
    if (this.state === 'new') {
      if (command !== 'CONNECT' && command !== 'STOMP') throw new ProtocolError('not connected', `the first frame must be CONNECT or STOMP, got ${command}`);
      void this.connect(frame);
      return;
    }
    if (frame.body.length > 0 && !BODY_COMMANDS.has(command)) throw new ProtocolError('body not allowed', `${command} frames must not have a body`);
    const receipt = headers.receipt;
    switch (command) {
      case 'CONNECT':
      case 'STOMP':
        throw new ProtocolError('already connected', 'a session sends CONNECT once');
      case 'DISCONNECT':
        if (receipt !== undefined) this.sendFrame('RECEIPT', { 'receipt-id': receipt });
        this.close('disconnect', true);
        return;
      case 'SEND':
        this.send(frame, receipt);
        return;
      case 'SUBSCRIBE':
        this.subscribe(headers, receipt);
        return;
      case 'UNSUBSCRIBE':
        this.unsubscribe(headers);
        break;
      case 'ACK':
      case 'NACK':
        this.checkAckHeaders(headers);
        if (this.inTransaction(frame)) break;
        this.ackOrNack(command === 'ACK', headers);
        break;
      case 'BEGIN':
        this.begin(required(headers, 'transaction'));
        break;
      case 'COMMIT':
        this.commit(required(headers, 'transaction'));
        break;
      case 'ABORT':
        this.abortTransaction(required(headers, 'transaction'));
        break;
    }
    if (receipt !== undefined) this.sendFrame('RECEIPT', { 'receipt-id': receipt });
  }

  private async connect(frame: Frame): Promise<void> {
    const h = frame.headers;
    this.state = 'authenticating';
    const version = negotiateVersion(h['accept-version']);
    if (!version) {
      this.fail('unsupported STOMP version', `supported versions are ${SUPPORTED_VERSIONS.join(', ')}; the client accepts ${h['accept-version']}`, undefined, 'error', { version: SUPPORTED_VERSIONS.join(',') });
      return;
    }
    const clientBeat = parseHeartbeat(h['heart-beat']);
    if (!clientBeat) {
      this.fail('bad heart-beat header', `heart-beat must be "cx,cy", got "${h['heart-beat']}"`);
      return;
    }
    // Frames pipelined behind CONNECT are parsed while the authenticator runs: they must already be
    // read with the negotiated escaping (1.0: none, 1.1: no \r) and 1.0's header trimming.
    this.parser.escapeMode = escapeModeFor(version);
    this.parser.trimHeaders = version === '1.0';
    let principal: Principal | null = null;
    const auth = this.host.opts.authenticator;
    if (auth) {
      try {
        principal = await auth({ ...h }, { transport: this.transport, remoteAddress: this.remoteAddress });
      } catch (e) {
        if (isAuthError(e)) this.fail('unauthorized', (e as Error).message || 'unauthorized', undefined, 'unauthorized');
        else this.internalError(e);
        return;
      }
    }
    if (this.state !== 'authenticating') return; // the socket went away meanwhile
    this.principal = principal;
    this.version = version;
    this.escape = escapeModeFor(version);
    this.state = 'connected';
    const l = this.host.opts.limits;
    this.parser.maxFrameBytes = l.maxFrameBytes;
    this.conn.setMaxMessageBytes?.(l.maxFrameBytes + WS_MESSAGE_SLACK);
    this.connectedAt = this.clock.now();
    this.lastRead = this.lastWrite = this.connectedAt;
    const connected: HeaderInput = { version, session: this.id, server: this.host.opts.serverName };
    if (version !== '1.0') {
      const n = negotiateHeartbeat(clientBeat, this.host.opts.heartbeat);
      this.outgoingMs = n.outgoingMs;
      this.incomingMs = n.incomingMs;
      connected['heart-beat'] = `${n.offer[0]},${n.offer[1]}`;
    }
    this.sendFrame('CONNECTED', connected);
    this.host.sessionOpened(this);
    // Frames pipelined behind CONNECT, through the rate limit like any other.
    if (this.backlogHead < this.backlog.length) this.drainBacklog();
  }

  private send(frame: Frame, receipt: string | undefined): void {
    const dest = required(frame.headers, 'destination');
    if (!this.host.opts.permissions(this.principal, 'send', dest)) {
      this.denied('send', dest, receipt);
      return;
    }
    if (this.inTransaction(frame)) {
      if (receipt !== undefined) this.sendFrame('RECEIPT', { 'receipt-id': receipt });
      return;
    }
    this.executeSend(frame, receipt);
  }

  private executeSend(frame: Frame, receipt: string | undefined): void {
    const handled = this.host.route(this, frame.headers.destination, frame.headers, frame.body, receipt);
    if (!handled && receipt !== undefined) this.sendFrame('RECEIPT', { 'receipt-id': receipt });
  }

  private subscribe(h: Headers, receipt: string | undefined): void {
    const dest = required(h, 'destination');
    let id = h.id;
    if (id === undefined) {
      if (this.version !== '1.0') throw new ProtocolError('missing header', 'SUBSCRIBE needs an id header');
      id = dest;
    }
    if (this.subscriptions.has(id)) throw new ProtocolError('duplicate subscription', `subscription id "${id}" is already in use`);
    const max = this.host.opts.limits.maxSubscriptions;
    if (this.subscriptions.size >= max) throw new ProtocolError('too many subscriptions', `a session may hold at most ${max} subscriptions`);
    const ack = h.ack ?? 'auto';
    if (!ACK_MODES.has(ack)) throw new ProtocolError('bad ack mode', `ack must be auto, client or client-individual, got "${ack}"`);
    const target = classify(dest);
    if (!target) throw new ProtocolError('unknown destination', `cannot subscribe to "${dest}": destinations start with /topic/, /queue/ or /user/`);
    if (!this.host.opts.permissions(this.principal, 'subscribe', dest)) {
      this.denied('subscribe', dest, receipt);
      return;
    }
    const sub = new Subscription(this, id, dest, target.kind, target.key, ack as AckMode, this.escape);
    this.subscriptions.set(id, sub);
    if (sub.kind === 'user') {
      const list = this.userSubscriptions.get(sub.key);
      if (list) list.push(sub);
      else this.userSubscriptions.set(sub.key, [sub]);
    }
    // RECEIPT before any message a queue may hand over at once.
    if (receipt !== undefined) this.sendFrame('RECEIPT', { 'receipt-id': receipt });
    this.host.addSubscription(this, sub);
  }

  private unsubscribe(h: Headers): void {
    let id = h.id;
    if (id === undefined) {
      if (this.version !== '1.0' || h.destination === undefined) throw new ProtocolError('missing header', 'UNSUBSCRIBE needs an id header');
      for (const s of this.subscriptions.values()) if (s.destination === h.destination) id = s.id;
    }
    const sub = id === undefined ? undefined : this.subscriptions.get(id);
    // Unknown ids are ignored: the subscription may already be gone, and that is what the client wants.
    if (sub) this.dropSubscription(sub);
  }

  private dropSubscription(sub: Subscription): void {
    this.subscriptions.delete(sub.id);
    if (sub.kind === 'user') {
      const list = this.userSubscriptions.get(sub.key);
      if (list) {
        const i = list.indexOf(sub);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.userSubscriptions.delete(sub.key);
      }
    }
    const unacked: Message[] = [];
    for (const d of sub.pending.values()) {
      unacked.push(d.message);
      this.acks.delete(d.ackId);
    }
    this.pendingCount -= sub.pending.size;
    this.host.counters.unacked -= sub.pending.size;
    sub.pending.clear();
    this.host.removeSubscription(this, sub, unacked);
  }

  /** ACK/NACK must name the message (checked before a transaction buffers the frame). */
  private checkAckHeaders(h: Headers): void {
    // 1.2: "ACK has one REQUIRED header, id" (the MESSAGE's ack header); message-id is not enough.
    if (this.version === '1.2') {
      if (h.id === undefined) throw new ProtocolError('missing header', 'ACK/NACK needs an id header (the ack header of the MESSAGE)');
    } else if (h['message-id'] === undefined) {
      throw new ProtocolError('missing header', 'ACK/NACK needs a message-id header');
    }
  }

  private findDelivery(h: Headers): Delivery | undefined {
    if (this.version === '1.2') return this.acks.get(h.id);
    const mid = h['message-id'];
    if (h.subscription !== undefined) return this.subscriptions.get(h.subscription)?.pending.get(mid);
    for (const s of this.subscriptions.values()) {
      const d = s.pending.get(mid);
      if (d) return d;
    }
    return undefined;
  }

  private ackOrNack(isAck: boolean, h: Headers): void {
    const d = this.findDelivery(h);
    // Unknown or already settled: ignored, as RabbitMQ does (the message may have been redelivered).
    if (!d) return;
    const sub = d.sub;
    const settled: Message[] = [];
    const wasFull = this.pendingCount >= this.host.opts.limits.maxPendingAcks;
    if (sub.ack === 'client') {
      // Cumulative: everything delivered to this subscription up to and including this message.
      for (const [mid, x] of sub.pending) {
        sub.pending.delete(mid);
        this.acks.delete(x.ackId);
        settled.push(x.message);
        if (x === d) break;
      }
    } else {
      sub.pending.delete(d.message.id);
      this.acks.delete(d.ackId);
      settled.push(d.message);
    }
    this.pendingCount -= settled.length;
    this.host.counters.unacked -= settled.length;
    if (!isAck) {
      if (sub.kind === 'queue') this.host.requeue(sub, settled);
      else this.host.counters.dropped += settled.length;
    }
    if (sub.kind === 'queue' || wasFull) {
      for (const s of this.subscriptions.values()) if (s.kind === 'queue') this.host.resumeQueue(s.key);
    }
  }

  // ---- transactions ----

  /** Buffers a SEND/ACK/NACK that names a transaction; true when it did. */
  private inTransaction(frame: Frame): boolean {
    const tx = frame.headers.transaction;
    if (tx === undefined) return false;
    const t = this.transactions.get(tx);
    if (!t) throw new ProtocolError('unknown transaction', `transaction "${tx}" was not begun`);
    const l = this.host.opts.limits;
    if (t.frames.length >= l.maxTransactionFrames) throw new ProtocolError('transaction too large', `a transaction holds at most ${l.maxTransactionFrames} frames`);
    const bytes = frameBytes(frame);
    if (t.bytes + bytes > l.maxTransactionBytes) throw new ProtocolError('transaction too large', `a transaction holds at most ${l.maxTransactionBytes} bytes`);
    if (this.transactionBytes + bytes > l.maxSessionTransactionBytes) {
      throw new ProtocolError('transaction too large', `a session's open transactions hold at most ${l.maxSessionTransactionBytes} bytes`);
    }
    // The parser's body may share a larger buffer (a whole socket read or WebSocket message):
    // a held frame keeps only its own bytes.
    const body = frame.body;
    if (body.length > 0 && body.byteLength < body.buffer.byteLength) frame.body = Buffer.from(body);
    t.frames.push(frame);
    t.bytes += bytes;
    this.holdTransactionBytes(bytes);
    return true;
  }

  private holdTransactionBytes(delta: number): void {
    this.transactionBytes += delta;
    this.host.counters.transactionBytes += delta;
  }

  /** Ends a transaction (COMMIT, ABORT, close): its frames and their bytes are let go. */
  private endTransaction(tx: string): Transaction | undefined {
    const t = this.transactions.get(tx);
    if (!t) return undefined;
    this.transactions.delete(tx);
    this.holdTransactionBytes(-t.bytes);
    return t;
  }

  private begin(tx: string): void {
    if (this.transactions.has(tx)) throw new ProtocolError('duplicate transaction', `transaction "${tx}" is already open`);
    const max = this.host.opts.limits.maxTransactions;
    if (this.transactions.size >= max) throw new ProtocolError('too many transactions', `a session may have at most ${max} open transactions`);
    this.transactions.set(tx, { frames: [], bytes: 0 });
  }

  private commit(tx: string): void {
    const t = this.endTransaction(tx);
    if (!t) throw new ProtocolError('unknown transaction', `transaction "${tx}" was not begun`);
    for (const f of t.frames) {
      if (this.state !== 'connected') return;
      if (f.command === 'SEND') this.executeSend(f, undefined);
      else this.ackOrNack(f.command === 'ACK', f.headers);
    }
  }

  private abortTransaction(tx: string): void {
    if (!this.endTransaction(tx)) throw new ProtocolError('unknown transaction', `transaction "${tx}" was not begun`);
  }

  // ---- delivery (hot path) ----

  /** Whether a queue may hand this subscription a message now (prefetch-like flow control). */
  canTake(sub: Subscription): boolean {
    return this.state === 'connected' && (sub.ack === 'auto' || this.pendingCount < this.host.opts.limits.maxPendingAcks);
  }

  /** Writes a MESSAGE for `sub`; false when the session cannot take it. */
  deliver(sub: Subscription, msg: Message): boolean {
    if (this.state !== 'connected') return false;
    let head: Buffer;
    if (sub.ack === 'auto') {
      head = msg.redelivered ? sub.prefixWith(null, true) : sub.prefix;
    } else {
      const max = this.host.opts.limits.maxPendingAcks;
      if (this.pendingCount >= max) {
        if (sub.kind === 'queue') return false;
        this.host.counters.dropped++;
        this.fail('too many unacknowledged messages', `a session may hold at most ${max} unacknowledged messages`, undefined, 'slow-consumer');
        return false;
      }
      const ackId = (++this.ackSeq).toString(36);
      const d: Delivery = { ackId, message: msg, sub };
      sub.pending.set(msg.id, d);
      this.acks.set(ackId, d);
      this.pendingCount++;
      this.host.counters.unacked++;
      head = sub.prefixWith(this.version === '1.2' ? ackId : null, msg.redelivered);
    }
    const binary = this.binaryPeer || !msg.utf8;
    let bytes: number;
    if (this.conn.wholeFrames) {
      const full = msg.full(head, this.escape);
      this.conn.write(full, binary);
      bytes = full.length;
    } else {
      const tail = msg.tail(this.escape);
      this.conn.writeParts(head, tail, binary);
      bytes = head.length + tail.length;
    }
    this.wroteSinceTick = true;
    const c = this.host.counters;
    c.messagesOut++;
    c.bytesOut += bytes;
    this.checkBuffered();
    return true;
  }

  // ---- output ----

  sendFrame(command: string, headers: HeaderInput, body?: Buffer | string): void {
    if (this.state === 'closed') return;
    const buf = serializeFrame(command, headers, body, this.escape);
    this.conn.write(buf, this.binaryPeer);
    this.wroteSinceTick = true;
    this.host.counters.bytesOut += buf.length;
    this.checkBuffered();
  }

  private checkBuffered(): void {
    if (this.state !== 'closed' && this.conn.bufferedBytes() > this.host.opts.limits.maxOutboundBufferBytes) this.dropAsSlowConsumer('session');
  }

  /** Closes a session that does not read what it is sent; `budget` says which limit it broke. */
  dropAsSlowConsumer(budget: 'session' | 'node'): void {
    if (this.state === 'closed') return;
    // An ERROR would queue behind the very bytes the client does not read: just drop it.
    this.host.counters.dropped++;
    this.host.opts.logger.warn('slow consumer disconnected', { session: this.id, buffered: this.conn.bufferedBytes(), budget });
    this.close('slow-consumer', false);
  }

  private denied(action: 'send' | 'subscribe', dest: string, receipt: string | undefined): void {
    const text = `not allowed to ${action} ${action === 'send' ? 'to' : 'to'} ${dest}`;
    if (this.host.opts.onDenied === 'errors-queue') {
      this.host.reportError(this, 'forbidden', text, dest, receipt);
      return;
    }
    throw new ProtocolError('forbidden', text, receipt);
  }

  /** ERROR frame (message header, details in the body), then close. */
  fail(message: string, details?: string, receiptId?: string, reason: CloseReason = 'error', extra?: HeaderInput): void {
    if (this.state === 'closed') return;
    const headers: HeaderInput = { message: oneLine(message), 'content-type': 'text/plain', ...extra };
    if (receiptId !== undefined) headers['receipt-id'] = receiptId;
    this.sendFrame('ERROR', headers, details ?? message);
    this.host.countError(oneLine(message));
    this.close(reason, true);
  }

  private internalError(e: unknown, receipt?: string): void {
    this.host.opts.logger.error('stomp session failed', { session: this.id, error: e instanceof Error ? e.stack : String(e) });
    this.fail('internal error', 'the server failed to process a frame', receipt);
  }

  /** Ends the session: subscriptions go (queue messages are redelivered), then the socket. */
  close(reason: CloseReason, graceful: boolean): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'connected';
    this.state = 'closed';
    this.parser.stop();
    for (const tx of [...this.transactions.keys()]) this.endTransaction(tx);
    this.backlog = [];
    this.backlogHead = 0;
    if (this.drainTimer !== null) {
      this.clock.clearTimeout(this.drainTimer);
      this.drainTimer = null;
    }
    for (const sub of [...this.subscriptions.values()]) this.dropSubscription(sub);
    if (this.readPaused) {
      // Read again so the close handshake (WebSocket close frame, TCP FIN) is seen; data is ignored.
      this.readPaused = false;
      if (graceful) this.conn.resume();
    }
    if (graceful) this.conn.end();
    else this.conn.destroy();
    this.host.sessionClosed(this, reason, wasOpen);
  }

  // ---- timers (driven by the broker's sweep) ----

  tick(now: number, tickMs: number): void {
    if (this.state === 'closed') return;
    // While we hold the peer back, its silence is ours: no heart-beat or partial-frame timeout.
    if (this.readPaused) {
      this.readSinceTick = true;
      if (this.frameStartedAt !== 0) this.frameStartedAt = now;
    }
    if (this.readSinceTick) {
      this.lastRead = now;
      this.readSinceTick = false;
    }
    if (this.wroteSinceTick) {
      this.lastWrite = now;
      this.wroteSinceTick = false;
    }
    const l = this.host.opts.limits;
    if (this.state !== 'connected') {
      if (now - this.openedAt > l.connectTimeoutMs) this.fail('connect timeout', `no CONNECT within ${l.connectTimeoutMs} ms`, undefined, 'connect-timeout');
      return;
    }
    if (this.frameStartedAt !== 0 && now - this.frameStartedAt > l.partialFrameTimeoutMs) {
      this.fail('frame timeout', `a frame did not complete within ${l.partialFrameTimeoutMs} ms`, undefined, 'frame-timeout');
      return;
    }
    if (this.incomingMs > 0 && now - this.lastRead > this.incomingMs * this.host.opts.heartbeat.graceFactor) {
      this.fail('heart-beat timeout', `nothing received for ${now - this.lastRead} ms (heart-beat every ${this.incomingMs} ms agreed)`, undefined, 'heartbeat-timeout');
      return;
    }
    // Without heart-beats from the client, silence is only bounded by the idle timeout.
    if (this.incomingMs === 0 && l.idleTimeoutMs > 0 && now - this.lastRead > l.idleTimeoutMs) {
      this.fail('idle timeout', `nothing received for ${now - this.lastRead} ms (limit ${l.idleTimeoutMs} ms; negotiate heart-beats to stay idle longer)`, undefined, 'idle-timeout');
      return;
    }
    const exp = this.principal?.expiresAt;
    if (exp !== undefined && now >= exp) {
      this.fail('unauthorized', 'the session token expired', undefined, 'expired');
      return;
    }
    // Beat a little early rather than late: the sweep runs every tickMs.
    if (this.outgoingMs > 0 && now - this.lastWrite >= this.outgoingMs - tickMs) {
      this.conn.write(HEARTBEAT, this.binaryPeer);
      this.lastWrite = now;
      this.host.counters.bytesOut += 1;
      this.checkBuffered();
    }
  }

  /** Negotiated heart-beat periods, ms (0: none that way). */
  get heartbeatIntervals(): { outgoingMs: number; incomingMs: number } {
    return { outgoingMs: this.outgoingMs, incomingMs: this.incomingMs };
  }

  /** Longest sweep period that still honours this session's heart-beats (Infinity: any). */
  get sweepMs(): number {
    let ms = Infinity;
    // A beat goes out up to one sweep early (tick): a quarter keeps it within 75-100% of the period.
    if (this.outgoingMs > 0) ms = this.outgoingMs / 4;
    if (this.incomingMs > 0) ms = Math.min(ms, this.incomingMs / 2);
    return ms;
  }
}

interface Transaction {
  frames: Frame[];
  /** What the frames hold: bodies plus header text. */
  bytes: number;
}

/** WebSocket message budget over the frame limit: a message may carry a frame plus heart-beat EOLs. */
export const WS_MESSAGE_SLACK = 64 * 1024;

function frameBytes(f: Frame): number {
  let n = f.command.length + f.body.length;
  for (const k in f.headers) n += k.length + f.headers[k].length + 2;
  return n;
}

function required(h: Headers, name: string): string {
  const v = h[name];
  if (v === undefined || v === '') throw new ProtocolError('missing header', `the ${name} header is required`);
  return v;
}

function negotiateVersion(accept: string | undefined): StompVersion | null {
  if (accept === undefined) return '1.0';
  const offered = accept.split(',').map((s) => s.trim());
  for (const v of SUPPORTED_VERSIONS) if (offered.includes(v)) return v;
  return null;
}

/** Destination kind and routing key for SUBSCRIBE. */
export function classify(dest: string): { kind: DestinationKind; key: string } | null {
  if (dest.startsWith('/topic/') && dest.length > 7) return { kind: 'topic', key: dest };
  if (dest.startsWith('/queue/') && dest.length > 7) return { kind: 'queue', key: dest };
  if (dest.startsWith('/user/') && dest.length > 7 && dest[5] === '/') return { kind: 'user', key: dest.slice(5) };
  return null;
}

function frameErrorMessage(e: FrameError): string {
  switch (e.code) {
    case 'frame-too-large': return 'frame too large';
    case 'too-many-headers': return 'too many headers';
    case 'header-too-long': return 'header too long';
    case 'bad-escape': return 'invalid header escape';
    case 'bad-content-length': return 'invalid content-length';
    case 'missing-null': return 'frame not terminated by NUL';
    default: return 'malformed frame';
  }
}

function oneLine(s: string): string {
  return s.replace(/[\r\n]+/g, ' ').slice(0, 200);
}
