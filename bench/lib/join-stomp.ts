/**
 * A lean STOMP 1.2 client over `ws` for the join benchmark: CONNECT, SUBSCRIBE with receipt, SEND,
 * DISCONNECT, and MESSAGE frames handed to a per-destination callback with the JSON body parsed.
 * Not a general client (bodies are JSON and never contain NUL).
 */
import WebSocket from 'ws';

export const now = (): number => performance.timeOrigin + performance.now();

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/:/g, '\\c');
}
function unesc(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'c' ? ':' : c));
}
export function frame(command: string, headers: Record<string, string>, body = ''): string {
  let s = command + '\n';
  for (const k in headers) s += k + ':' + esc(headers[k]) + '\n';
  return s + '\n' + body + '\0';
}

export type OnMessage = (body: any, destination: string) => void;

export class JoinStomp {
  ws!: WebSocket;
  private partial = '';
  private waiters = new Map<string, () => void>();
  private handlers = new Map<string, OnMessage>();
  private seq = 0;
  private onConnected: ((err?: Error) => void) | null = null;
  error: string | null = null;
  closed = false;

  /** Opens the socket and resolves on CONNECTED. `token`: Authorization: Bearer (none: anonymous). */
  connect(url: string, token?: string, timeoutMs = 20000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => done(new Error('connect timeout')), timeoutMs);
      const done = (e?: Error) => { clearTimeout(t); this.onConnected = null; if (e) { reject(e); this.ws.terminate(); } else resolve(); };
      this.onConnected = done;
      const ws = new WebSocket(url, ['v12.stomp'], { perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => {
        const h: Record<string, string> = { 'accept-version': '1.2', host: '127.0.0.1', 'heart-beat': '0,0' };
        if (token) h.Authorization = `Bearer ${token}`;
        ws.send(frame('CONNECT', h));
      });
      ws.on('message', (d: Buffer) => this.onData(d));
      ws.on('error', (e) => { this.error ??= e.message; this.onConnected?.(e); });
      ws.on('close', () => { this.closed = true; this.onConnected?.(new Error(this.error ?? 'closed')); });
    });
  }

  private onData(d: Buffer): void {
    let s = d.toString('utf8');
    if (this.partial) { s = this.partial + s; this.partial = ''; }
    let pos = 0;
    while (pos < s.length) {
      const c = s.charCodeAt(pos);
      if (c === 10 || c === 13) { pos++; continue; }
      const nul = s.indexOf('\0', pos);
      if (nul < 0) break;
      this.onFrame(s.slice(pos, nul));
      pos = nul + 1;
    }
    if (pos < s.length) this.partial = s.slice(pos);
  }

  private onFrame(raw: string): void {
    const hdrEnd = raw.indexOf('\n\n');
    const head = raw.slice(0, hdrEnd < 0 ? raw.length : hdrEnd).split('\n');
    const body = hdrEnd < 0 ? '' : raw.slice(hdrEnd + 2);
    const command = head[0];
    const h: Record<string, string> = {};
    for (let i = 1; i < head.length; i++) {
      const k = head[i].indexOf(':');
      if (k > 0 && !(head[i].slice(0, k) in h)) h[head[i].slice(0, k)] = unesc(head[i].slice(k + 1));
    }
    if (command === 'MESSAGE') {
      const dest = h.destination;
      const fn = this.handlers.get(dest) ?? this.handlers.get(h.subscription);
      if (fn) { let b: any = body; try { b = JSON.parse(body); } catch { /* not JSON */ } fn(b, dest); }
    } else if (command === 'CONNECTED') this.onConnected?.();
    else if (command === 'RECEIPT') { const w = this.waiters.get(h['receipt-id']); this.waiters.delete(h['receipt-id']); w?.(); }
    else if (command === 'ERROR') { this.error = `ERROR ${h.message ?? ''}`; this.onConnected?.(new Error(this.error)); }
  }

  /** Subscribes (auto ack) and resolves on the RECEIPT; `fn` gets every MESSAGE of that subscription. */
  subscribe(destination: string, fn: OnMessage): Promise<void> {
    const id = `s${++this.seq}`;
    const receipt = `r${this.seq}`;
    this.handlers.set(destination, fn);
    this.handlers.set(id, fn);
    return new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`subscribe ${destination}: no receipt`)), 20000);
      this.waiters.set(receipt, () => { clearTimeout(t); resolve(); });
      this.ws.send(frame('SUBSCRIBE', { id, destination, ack: 'auto', receipt }));
    });
  }

  send(destination: string, body: unknown, headers: Record<string, string> = {}): void {
    if (this.closed || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(frame('SEND', { destination, 'content-type': 'application/json', ...headers }, JSON.stringify(body)));
  }

  close(): void {
    if (this.ws.readyState === WebSocket.OPEN) {
      try { this.ws.send(frame('DISCONNECT', {})); } catch { /* ignore */ }
      this.ws.close(1000);
      setTimeout(() => this.ws.terminate(), 2000).unref();
    } else this.ws.terminate();
  }
}
