// A STOMP test client for the busking protocol (@stomp/stompjs over `ws`), reusable by every test
// that talks to the signaling service: inboxes per destination, receipts, errors.
import WebSocket from 'ws';
import { Client, IFrame, IMessage, StompSubscription } from '@stomp/stompjs';
import { waitFor } from '../../../test-support/ports';

export interface Received {
  destination: string;
  headers: Record<string, string>;
  body: any;
  raw: string;
}

export class Inbox {
  readonly messages: Received[] = [];
  constructor(readonly destination: string, readonly sub: StompSubscription | null) {}
  push(m: Received) { this.messages.push(m); }
  /** Waits for a message matching `pred` (searching all received so far) and returns it. */
  async next(pred: (m: Received) => boolean = () => true, timeoutMs = 15000): Promise<Received> {
    return waitFor(() => this.messages.find(pred), timeoutMs, `message on ${this.destination}`);
  }
  ofType(type: string): Received[] { return this.messages.filter((m) => m.body?.type === type); }
  async type(type: string, timeoutMs = 15000, pred: (b: any) => boolean = () => true): Promise<any> {
    return (await this.next((m) => m.body?.type === type && pred(m.body), timeoutMs)).body;
  }
  unsubscribe() { this.sub?.unsubscribe(); }
}

export interface ConnectOptions {
  token?: string;
  /** Send the token as `passcode` (browser style) instead of Authorization. */
  asPasscode?: boolean;
  heartbeatMs?: number;
  headers?: Record<string, string>;
}

export class StompTestClient {
  readonly errors: Inbox;
  private inboxes = new Map<string, Inbox>();
  private receipts = new Map<string, (v: 'ok') => void>();
  private seq = 0;
  connectError: IFrame | null = null;
  closed = false;

  private constructor(readonly client: Client) {
    this.errors = new Inbox('/user/queue/errors', null);
  }

  static async connect(url: string, opts: ConnectOptions = {}): Promise<StompTestClient> {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.token) {
      if (opts.asPasscode) headers.passcode = opts.token;
      else headers.Authorization = `Bearer ${opts.token}`;
    }
    const hb = opts.heartbeatMs ?? 0;
    const client = new Client({
      webSocketFactory: () => new WebSocket(url, ['v12.stomp']) as unknown as globalThis.WebSocket,
      connectHeaders: headers,
      reconnectDelay: 0,
      heartbeatIncoming: hb,
      heartbeatOutgoing: hb,
      debug: () => {},
    });
    const c = new StompTestClient(client);
    await new Promise<void>((resolve, reject) => {
      client.onConnect = () => resolve();
      client.onStompError = (f) => { c.connectError = f; reject(new Error(`STOMP ERROR: ${f.headers.message}`)); };
      client.onWebSocketClose = () => { c.closed = true; reject(new Error('socket closed before CONNECTED')); };
      client.onWebSocketError = () => reject(new Error('socket error'));
      client.activate();
    });
    client.onWebSocketClose = () => { c.closed = true; };
    client.onStompError = (f) => { c.connectError = f; };
    const errSub = client.subscribe('/user/queue/errors', (m) => c.errors.push(c.toReceived(m)));
    (c.errors as { sub: StompSubscription | null }).sub = errSub;
    return c;
  }

  private toReceived(m: IMessage): Received {
    let body: unknown = m.body;
    try { body = JSON.parse(m.body); } catch { /* not JSON */ }
    return { destination: m.headers.destination, headers: m.headers, body, raw: m.body };
  }

  subscribe(destination: string, headers: Record<string, string> = {}): Inbox {
    const existing = this.inboxes.get(destination);
    if (existing) return existing;
    let inbox: Inbox | null = null;
    const early: Received[] = [];
    const sub = this.client.subscribe(destination, (m) => {
      const r = this.toReceived(m);
      if (inbox) inbox.push(r);
      else early.push(r);
    }, headers);
    inbox = new Inbox(destination, sub);
    for (const r of early) inbox.push(r);
    this.inboxes.set(destination, inbox);
    return inbox;
  }

  /** Subscribes with a receipt, so the server has the subscription before we go on. */
  async subscribeSync(destination: string): Promise<Inbox> {
    const existing = this.inboxes.get(destination);
    if (existing) return existing;
    const receipt = `s-${++this.seq}`;
    const done = new Promise<void>((resolve) => this.client.watchForReceipt(receipt, () => resolve()));
    const inbox = this.subscribe(destination, { receipt });
    await done;
    return inbox;
  }

  send(destination: string, body: unknown, headers: Record<string, string> = {}): void {
    this.client.publish({ destination, body: typeof body === 'string' ? body : JSON.stringify(body), headers });
  }

  /** Sends with a receipt: resolves 'ok' on RECEIPT, or the error body from /user/queue/errors. */
  async request(destination: string, body: unknown, timeoutMs = 20000): Promise<'ok' | { code: string; message: string; receipt?: string; destination?: string }> {
    const receipt = `r-${++this.seq}`;
    let receipted = false;
    this.client.watchForReceipt(receipt, () => { receipted = true; });
    this.send(destination, body, { receipt });
    // One poll that ends on either answer (a losing poll left running would hold jest open).
    const answer = await waitFor(() => (receipted ? 'ok' : this.errors.messages.find((m) => m.body?.receipt === receipt)),
      timeoutMs, `RECEIPT or error for ${destination}`);
    return answer === 'ok' ? 'ok' : answer.body;
  }

  async close(): Promise<void> {
    if (!this.client.active) return;
    await this.client.deactivate();
  }

  /** Drops the socket without DISCONNECT (a network failure, as the server sees it). */
  drop(): void {
    const ws = (this.client.webSocket as unknown as WebSocket | undefined);
    (ws as unknown as { _socket?: { destroy(): void } })?._socket?.destroy();
    this.client.deactivate().catch(() => {});
  }
}
