/**
 * A deliberately lean STOMP 1.2 client over `ws` for load generation: frames are built as strings,
 * inbound frames are scanned with indexOf (the bench's bodies never contain NUL), and MESSAGE frames
 * are handed to a callback with only the body's leading send timestamp parsed. Not a general client.
 */
import WebSocket from 'ws';

/** Wall-clock epoch milliseconds with sub-millisecond resolution, comparable across local processes. */
export const now = (): number => performance.timeOrigin + performance.now();

export interface Target {
  name: string;
  url: string;            // ws://127.0.0.1:PORT/path
  login?: string;
  passcode?: string;
  host?: string;          // CONNECT host header (RabbitMQ: virtual host "/")
}

export function escapeHeader(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/:/g, '\\c');
}

function unescapeHeader(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c === 'c' ? ':' : c));
}

export function frame(command: string, headers: Record<string, string>, body = ''): string {
  let s = command + '\n';
  for (const k in headers) s += k + ':' + escapeHeader(headers[k]) + '\n';
  return s + '\n' + body + '\0';
}

export interface ParsedFrame { command: string; headers: Record<string, string>; body: string }

function parseControl(raw: string): ParsedFrame {
  const lines = raw.split(/\r?\n/);
  const command = lines[0];
  const headers: Record<string, string> = {};
  let i = 1;
  for (; i < lines.length; i++) {
    const line = lines[i];
    if (line === '') break;
    const c = line.indexOf(':');
    if (c < 0) continue;
    const k = line.slice(0, c);
    if (!(k in headers)) headers[k] = unescapeHeader(line.slice(c + 1));
  }
  return { command, headers, body: lines.slice(i + 1).join('\n') };
}

export type MessageHandler = (conn: LeanStomp, sendTs: number, recvTs: number) => void;

let seq = 0;

export class LeanStomp {
  readonly id = ++seq;
  ws!: WebSocket;
  private partial = '';
  private connectWaiter: { resolve: (f: ParsedFrame) => void; reject: (e: Error) => void } | null = null;
  private receiptWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  connected = false;
  closed = false;
  closedByUs = false;
  error: string | null = null;
  beatsIn = 0;
  framesIn = 0;
  serverHeartBeat = '0,0';

  constructor(private target: Target, private onMessage: MessageHandler | null) {}

  /** Opens the WebSocket, sends CONNECT, resolves on CONNECTED (rejects on ERROR/close/timeout). */
  connect(heartBeat = '0,0', timeoutMs = 20000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('connect timeout')), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(timer);
        if (this.connectWaiter) { this.connectWaiter = null; reject(e); }
        try { this.ws.terminate(); } catch { /* ignore */ }
      };
      this.connectWaiter = {
        resolve: (f) => { clearTimeout(timer); this.connected = true; this.serverHeartBeat = f.headers['heart-beat'] ?? '0,0'; resolve(); },
        reject: fail,
      };
      const ws = new WebSocket(this.target.url, ['v12.stomp', 'v11.stomp', 'v10.stomp'], {
        perMessageDeflate: false, skipUTF8Validation: true, handshakeTimeout: timeoutMs,
      });
      this.ws = ws;
      ws.on('open', () => {
        const h: Record<string, string> = { 'accept-version': '1.2', host: this.target.host ?? '127.0.0.1', 'heart-beat': heartBeat };
        if (this.target.login !== undefined) h.login = this.target.login;
        if (this.target.passcode !== undefined) h.passcode = this.target.passcode;
        ws.send(frame('CONNECT', h));
      });
      ws.on('message', (data: Buffer) => this.onData(data));
      ws.on('error', (e) => { if (!this.error) this.error = e.message; this.connectWaiter?.reject(e); });
      ws.on('close', () => {
        this.closed = true;
        this.connected = false;
        this.connectWaiter?.reject(new Error(this.error ?? 'closed before CONNECTED'));
        for (const w of this.receiptWaiters.splice(0)) w.reject(new Error(this.error ?? 'closed'));
      });
    });
  }

  private onData(data: Buffer | ArrayBuffer | Buffer[]): void {
    const buf = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    let s = buf.toString('latin1');
    if (this.partial) { s = this.partial + s; this.partial = ''; }
    const len = s.length;
    let pos = 0;
    let recvTs = 0;
    while (pos < len) {
      const c = s.charCodeAt(pos);
      if (c === 10 || c === 13) { if (c === 10) this.beatsIn++; pos++; continue; }
      const nul = s.indexOf('\0', pos);
      if (nul < 0) break;
      this.framesIn++;
      if (c === 77 /* M: MESSAGE */ && this.onMessage) {
        let hdrEnd = s.indexOf('\n\n', pos);
        let bodyStart: number;
        if (hdrEnd < 0 || hdrEnd > nul) { hdrEnd = s.indexOf('\r\n\r\n', pos); bodyStart = hdrEnd + 4; } else bodyStart = hdrEnd + 2;
        if (recvTs === 0) recvTs = now();
        const bar = s.indexOf('|', bodyStart);
        const sendTs = bar > 0 && bar < nul ? +s.slice(bodyStart, bar) : NaN;
        this.onMessage(this, sendTs, recvTs);
      } else {
        this.onControl(parseControl(s.slice(pos, nul)));
      }
      pos = nul + 1;
    }
    if (pos < len) this.partial = s.slice(pos);
  }

  private onControl(f: ParsedFrame): void {
    if (f.command === 'CONNECTED') this.connectWaiter?.resolve(f), (this.connectWaiter = null);
    else if (f.command === 'RECEIPT') this.receiptWaiters.shift()?.resolve();
    else if (f.command === 'ERROR') {
      this.error = `ERROR ${f.headers.message ?? ''} ${f.body.slice(0, 200)}`.trim();
      this.connectWaiter?.reject(new Error(this.error));
      for (const w of this.receiptWaiters.splice(0)) w.reject(new Error(this.error));
    }
  }

  /** Sends a frame carrying a receipt header and resolves when its RECEIPT arrives (receipts are FIFO). */
  withReceipt(command: string, headers: Record<string, string>, timeoutMs = 20000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${command} receipt timeout`)), timeoutMs);
      this.receiptWaiters.push({ resolve: () => { clearTimeout(timer); resolve(); }, reject: (e) => { clearTimeout(timer); reject(e); } });
      this.ws.send(frame(command, { ...headers, receipt: `r-${this.id}-${this.receiptWaiters.length}` }));
    });
  }

  subscribe(destination: string, id: string): Promise<void> {
    return this.withReceipt('SUBSCRIBE', { id, destination, ack: 'auto' });
  }

  /** Raw send of a pre-built frame string. */
  sendRaw(s: string): void {
    this.ws.send(s);
  }

  heartbeat(): void {
    if (this.connected && this.ws.readyState === WebSocket.OPEN) this.ws.send('\n');
  }

  close(): void {
    this.closedByUs = true;
    if (this.ws.readyState === WebSocket.OPEN) {
      try { this.ws.send(frame('DISCONNECT', {})); } catch { /* ignore */ }
      this.ws.close(1000);
      const t = setTimeout(() => this.ws.terminate(), 3000);
      t.unref();
    } else this.ws.terminate();
  }
}

/** Runs async jobs with at most `concurrency` in flight; resolves with per-job errors (null = ok). */
export async function pool<T>(items: T[], concurrency: number, job: (item: T, i: number) => Promise<void>): Promise<(Error | null)[]> {
  const out: (Error | null)[] = new Array(items.length).fill(null);
  let next = 0;
  const lanes = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      try { await job(items[i], i); } catch (e) { out[i] = e as Error; }
    }
  });
  await Promise.all(lanes);
  return out;
}
