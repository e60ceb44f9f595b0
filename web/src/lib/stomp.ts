// The one STOMP connection a page keeps to the signaling service. stompjs does the framing,
// heart-beats and reconnects; this layer adds what every page needs on top: subscriptions that
// survive a reconnect, JSON bodies, request/receipt promises that fail with the service's error
// message, and a simple link state for the UI.
import { Client, ReconnectionTimeMode, type IMessage, type StompSubscription } from '@stomp/stompjs';
import type { ServiceError } from './types';

export type LinkState = 'connecting' | 'online' | 'reconnecting' | 'offline';

export class RequestError extends Error {
  constructor(readonly code: string, message: string) { super(message); }
}

interface Registration { destination: string; handler: (body: unknown) => void; live?: StompSubscription }
interface Pending { resolve(): void; reject(e: Error): void; timer: ReturnType<typeof setTimeout> }

export interface SignalingOptions {
  /** Read at every (re)connect, so a refreshed or removed token takes effect on the next one. */
  token: () => string | null;
  /** The service refused the token (ERROR unauthorized): the page decides what to do. */
  onUnauthorized?: () => void;
  url?: string;
  heartbeatMs?: number;
}

const RECEIPT_TIMEOUT_MS = 10000;

export function stompUrl(): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/stomp`;
}

export class Signaling {
  readonly client: Client;
  private readonly registrations = new Set<Registration>();
  private readonly pending = new Map<string, Pending>();
  private readonly stateListeners = new Set<(s: LinkState) => void>();
  private readonly connectListeners = new Set<(again: boolean) => void>();
  private readonly errorListeners = new Set<(e: ServiceError) => void>();
  private connectedOnce = false;
  private receiptSeq = 0;
  state: LinkState = 'offline';

  constructor(private readonly opts: SignalingOptions) {
    const hb = opts.heartbeatMs ?? 10000;
    this.client = new Client({
      brokerURL: opts.url ?? stompUrl(),
      reconnectDelay: 500,
      reconnectTimeMode: ReconnectionTimeMode.EXPONENTIAL,
      maxReconnectDelay: 8000,
      connectionTimeout: 8000,
      heartbeatIncoming: hb,
      heartbeatOutgoing: hb,
      // A phone that changed networks keeps a dead socket around; drop it as soon as beats stop.
      discardWebsocketOnCommFailure: true,
      beforeConnect: () => {
        const token = this.opts.token();
        this.client.connectHeaders = token ? { passcode: token } : {};
        this.setState(this.connectedOnce ? 'reconnecting' : 'connecting');
      },
      onConnect: () => this.connected(),
      onStompError: (frame) => {
        const msg = frame.headers.message ?? '';
        if (/unauthori[sz]ed/i.test(msg)) this.opts.onUnauthorized?.();
      },
      onWebSocketClose: () => {
        for (const r of this.registrations) r.live = undefined;
        this.failPending(new RequestError('unavailable', 'connection lost'));
        if (this.client.active) this.setState(this.connectedOnce ? 'reconnecting' : 'connecting');
      },
    });
    // Registered first, so it is subscribed first after every connect: a refused request made by a
    // connect listener is answered.
    this.registrations.add({ destination: '/user/queue/errors', handler: (e) => this.serviceError(e as ServiceError) });
    // The browser knows before the heart-beats do: reconnect at once when the network changes.
    window.addEventListener('offline', () => { if (this.state === 'online') this.client.forceDisconnect(); });
    window.addEventListener('online', () => { if (this.state !== 'online' && this.client.active) this.client.forceDisconnect(); });
  }

  start(): this {
    this.client.activate();
    return this;
  }

  async stop(): Promise<void> {
    await this.client.deactivate();
    this.setState('offline');
  }

  /** Drops the socket and reconnects (after a sign-in, so the new token is used). */
  reconnect(): void {
    if (this.client.connected) this.client.forceDisconnect();
  }

  onState(fn: (s: LinkState) => void): () => void {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  /** Runs after every successful CONNECT, once subscriptions are back; `again` on reconnects. */
  onConnect(fn: (again: boolean) => void): () => void {
    this.connectListeners.add(fn);
    return () => this.connectListeners.delete(fn);
  }

  /** Resolves once the session is up (at once when it is): for a request made during a reconnect. */
  whenOnline(timeoutMs = RECEIPT_TIMEOUT_MS): Promise<void> {
    if (this.client.connected && this.state === 'online') return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { off(); reject(new RequestError('unavailable', 'not connected')); }, timeoutMs);
      const off = this.onConnect(() => { clearTimeout(timer); off(); resolve(); });
    });
  }

  /** Errors from /user/queue/errors that answer no pending request. */
  onError(fn: (e: ServiceError) => void): () => void {
    this.errorListeners.add(fn);
    return () => this.errorListeners.delete(fn);
  }

  /** A subscription that is re-made after every reconnect until the returned function is called. */
  subscribe<T>(destination: string, handler: (body: T) => void): () => void {
    const reg: Registration = { destination, handler: handler as (b: unknown) => void };
    this.registrations.add(reg);
    if (this.client.connected) this.attach(reg);
    return () => {
      this.registrations.delete(reg);
      if (reg.live && this.client.connected) reg.live.unsubscribe();
      reg.live = undefined;
    };
  }

  /** SEND with a receipt: resolves when the service accepted it, rejects with its error. */
  request(destination: string, body: unknown): Promise<void> {
    if (!this.client.connected) return Promise.reject(new RequestError('unavailable', 'not connected'));
    const receipt = `r-${++this.receiptSeq}`;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(receipt);
        reject(new RequestError('unavailable', 'no answer from the service'));
      }, RECEIPT_TIMEOUT_MS);
      this.pending.set(receipt, { resolve, reject, timer });
      this.client.watchForReceipt(receipt, () => this.settle(receipt));
      this.client.publish({ destination, body: JSON.stringify(body), headers: { receipt, 'content-type': 'application/json' } });
    });
  }

  /** SEND without waiting (ICE candidates: many, small, and a lost one does not matter). */
  send(destination: string, body: unknown): boolean {
    if (!this.client.connected) return false;
    this.client.publish({ destination, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    return true;
  }

  private connected(): void {
    for (const r of this.registrations) this.attach(r);
    const again = this.connectedOnce;
    this.connectedOnce = true;
    this.setState('online');
    for (const fn of this.connectListeners) fn(again);
  }

  private attach(reg: Registration): void {
    reg.live = this.client.subscribe(reg.destination, (m: IMessage) => {
      let body: unknown;
      try { body = JSON.parse(m.body); } catch { return; } // not ours to show
      reg.handler(body);
    });
  }

  private serviceError(e: ServiceError): void {
    if (e.receipt && this.pending.has(e.receipt)) {
      const p = this.pending.get(e.receipt)!;
      this.pending.delete(e.receipt);
      clearTimeout(p.timer);
      p.reject(new RequestError(e.code, e.message));
      return;
    }
    for (const fn of this.errorListeners) fn(e);
  }

  private settle(receipt: string): void {
    const p = this.pending.get(receipt);
    if (!p) return;
    this.pending.delete(receipt);
    clearTimeout(p.timer);
    p.resolve();
  }

  private failPending(e: Error): void {
    for (const [id, p] of this.pending) { clearTimeout(p.timer); p.reject(e); this.pending.delete(id); }
  }

  private setState(s: LinkState): void {
    if (s === this.state) return;
    this.state = s;
    for (const fn of this.stateListeners) fn(s);
  }
}
