// Publishes monitor events to the signaling broker over STOMP TCP (stompit). Events wait in a
// bounded buffer and leave it only when the broker has confirmed a batch with a RECEIPT, so a
// broker restart loses nothing within the bound (a batch in flight when the broker died is sent
// again: consumers can drop duplicates by `seq`). Reconnects with capped exponential backoff.
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { BoundedQueue } from './bounded-queue';

// stompit ships no types; this is the part of its API used here.
interface StompitWritable { write(chunk: string): boolean; end(chunk?: string): void }
interface StompitClient {
  send(headers: Record<string, string>, options?: { onReceipt?: () => void; onError?: (e: Error) => void }): StompitWritable;
  disconnect(cb?: (err?: Error) => void): void;
  destroy(err?: Error): void;
  on(ev: 'error' | 'end' | 'close', cb: (e?: Error) => void): void;
  removeAllListeners(ev?: string): void;
}
type StompitConnect = (opts: Record<string, unknown>, cb: (err: Error | null, client: StompitClient) => void) => { on?: unknown };
// eslint-disable-next-line @typescript-eslint/no-var-requires
const stompitConnect = (require('stompit') as { connect: StompitConnect }).connect;

/** What stompit's Client (its Socket) has for command handlers: the frames it reads. */
interface StompitFrame { headers: Record<string, string>; readString(encoding: string, cb: (e: Error | null, body?: string) => void): void }
type CommandHandlers = Record<string, (frame: StompitFrame) => void>;
interface StompitSocket {
  setCommandHandlers(handlers: CommandHandlers): void;
  createApplicationError(message: string): Error;
  destroy(err?: Error): void;
}

/**
 * stompit 1.0's ERROR handler destroys the *frame* when the ERROR has a text/plain body (a plain
 * `function` callback where `this` is the frame), and the frame's unhandled 'error' takes the
 * whole process down. The broker sends exactly such an ERROR when it refuses a token or ends a
 * session whose token expired, which short-lived tokens make routine. Every handler table the
 * client installs (before and after CONNECTED) gets an ERROR handler that ends the client instead.
 */
function endClientOnErrorFrames(client: StompitSocket): void {
  const onError = (frame: StompitFrame) => frame.readString('utf-8', (_e, body) => {
    client.destroy(client.createApplicationError(frame.headers.message || body || 'server sent ERROR frame'));
  });
  const install = client.setCommandHandlers.bind(client);
  client.setCommandHandlers = (handlers) => install({ ...handlers, ERROR: onError });
}

export interface PublisherOptions {
  host: string;
  port: number;
  /**
   * JWT with role turn-sidecar (or ops), sent as `passcode` (and `Authorization: Bearer`). A
   * function is asked again at every (re)connect: tokens are short-lived, the broker ends a session
   * when its token expires, and the next connection must carry the renewed one.
   */
  token?: string | (() => string | undefined);
  /** Where to SEND. Default `/app/ops.turn.events` (the signaling service republishes on /topic/ops.turn). */
  destination?: string;
  /** Events kept while the broker is away. */
  maxBuffer?: number;
  /** Events per SEND. */
  batchMax?: number;
  /** A batch not confirmed within this time means the connection is dead. */
  receiptTimeoutMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Names this sidecar in every message. */
  source?: string;
}

export interface PublisherStats {
  connected: boolean;
  buffered: number;
  dropped: number;
  sent: number;
  batches: number;
  connects: number;
  lastError: string | null;
}

export const DEFAULT_DESTINATION = '/app/ops.turn.events';

export class StompPublisher<T extends object = object> extends EventEmitter {
  private readonly queue: BoundedQueue<T>;
  private client: StompitClient | null = null;
  private connecting = false;
  private inFlight: { lastSeq: number; timer: NodeJS.Timeout } | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private backoff: number;
  private stopped = true;
  private readonly o: Required<Omit<PublisherOptions, 'token'>> & Pick<PublisherOptions, 'token'>;
  private counters = { sent: 0, batches: 0, connects: 0, lastError: null as string | null };

  constructor(opts: PublisherOptions) {
    super();
    this.o = {
      destination: DEFAULT_DESTINATION, maxBuffer: 10000, batchMax: 100, receiptTimeoutMs: 10000,
      minBackoffMs: 200, maxBackoffMs: 5000, source: `${os.hostname()}:${process.pid}`,
      // An option given as undefined means "the default", not "unset".
      ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    } as StompPublisher<T>['o'];
    this.queue = new BoundedQueue<T>(this.o.maxBuffer);
    this.backoff = this.o.minBackoffMs;
  }

  start(): this {
    if (!this.stopped) return this;
    this.stopped = false;
    this.connect();
    return this;
  }

  /** Queues an event; it is sent as soon as the broker is there. */
  publish(event: T): void {
    this.queue.push(event);
    this.flush();
  }

  stats(): PublisherStats {
    return { connected: !!this.client, buffered: this.queue.length, dropped: this.queue.dropped, ...this.counters };
  }

  /** Stops, after trying to deliver what is buffered for up to `drainMs`. */
  async stop(drainMs = 0): Promise<void> {
    const deadline = Date.now() + drainMs;
    while (drainMs > 0 && this.queue.length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    this.stopped = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.clearInFlight();
    const c = this.client;
    this.client = null;
    if (c) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => { c.destroy(); resolve(); }, 1000);
        try { c.disconnect(() => { clearTimeout(t); resolve(); }); } catch { clearTimeout(t); c.destroy(); resolve(); }
      });
    }
  }

  private connect(): void {
    if (this.stopped || this.client || this.connecting) return;
    this.connecting = true;
    const headers: Record<string, string> = { host: '/', 'heart-beat': '0,0', 'accept-version': '1.2' };
    const token = typeof this.o.token === 'function' ? this.o.token() : this.o.token;
    if (token) {
      headers.passcode = token;
      headers.Authorization = `Bearer ${token}`;
    }
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      this.connecting = false;
      this.lost(err);
    };
    try {
      const sock = stompitConnect({ host: this.o.host, port: this.o.port, connectHeaders: headers }, (err, client) => {
        if (err) return fail(err);
        if (settled) { client.destroy(); return; }
        settled = true;
        this.connecting = false;
        if (this.stopped) { client.destroy(); return; }
        this.client = client;
        this.counters.connects++;
        this.backoff = this.o.minBackoffMs;
        client.on('error', (e) => this.lost(e ?? new Error('connection error'), client));
        client.on('end', () => this.lost(new Error('connection ended'), client));
        this.emit('connect');
        this.flush();
      });
      // Errors before CONNECTED (refused, reset) come on the socket; stompit has already
      // routed them to the callback in most cases, this catches the rest.
      endClientOnErrorFrames(sock as unknown as StompitSocket);
      const s = sock as unknown as EventEmitter;
      if (s && typeof s.on === 'function') s.on('error', (e: Error) => fail(e));
    } catch (e) {
      fail(e as Error);
    }
  }

  private lost(err: Error, client?: StompitClient): void {
    if (client && client !== this.client) return;
    this.counters.lastError = err.message;
    const c = this.client;
    this.client = null;
    this.clearInFlight(); // the unconfirmed batch stays in the queue and goes again
    if (c) { c.removeAllListeners('error'); c.on('error', () => undefined); c.destroy(); this.emit('disconnect', err); }
    if (this.stopped || this.reconnectTimer) return;
    const wait = this.backoff;
    this.backoff = Math.min(this.o.maxBackoffMs, this.backoff * 2);
    this.reconnectTimer = setTimeout(() => { this.reconnectTimer = null; this.connect(); }, wait);
    this.reconnectTimer.unref?.();
  }

  private clearInFlight(): void {
    if (this.inFlight) clearTimeout(this.inFlight.timer);
    this.inFlight = null;
  }

  /** One batch at a time, in order; the next goes when the broker confirmed the previous one. */
  private flush(): void {
    const client = this.client;
    if (!client || this.inFlight || this.queue.length === 0) return;
    const batch = this.queue.peek(this.o.batchMax);
    const lastSeq = batch[batch.length - 1].seq;
    const body = JSON.stringify({ source: this.o.source, events: batch.map((b) => ({ seq: b.seq, ...b.item })) });
    const timer = setTimeout(() => this.lost(new Error('no RECEIPT from the broker'), client), this.o.receiptTimeoutMs);
    this.inFlight = { lastSeq, timer };
    try {
      const frame = client.send(
        { destination: this.o.destination, 'content-type': 'application/json' },
        {
          onReceipt: () => {
            if (this.client !== client || this.inFlight?.lastSeq !== lastSeq) return;
            this.clearInFlight();
            this.queue.ackThrough(lastSeq);
            this.counters.sent += batch.length;
            this.counters.batches++;
            this.emit('sent', batch.length);
            this.flush();
          },
        },
      );
      frame.end(body);
    } catch (e) {
      this.lost(e as Error, client);
    }
  }
}
