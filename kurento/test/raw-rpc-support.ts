// A bare JSON-RPC client over `ws`, for checking the engine's wire format byte by byte.
/* eslint-disable @typescript-eslint/no-explicit-any */
import WebSocket from 'ws';

export class RawRpc {
  readonly messages: any[] = [];
  private nextId = 1;
  private waiters: { pick: (m: any) => boolean; resolve: (m: any) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString());
      this.messages.push(m);
      for (const w of [...this.waiters]) {
        if (w.pick(m)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }

  /**
   * `firstId`: KMS (and this engine) answers a repeated (sessionId, id) from its request cache,
   * so a client resuming another client's session must not reuse that client's ids.
   */
  static async open(url: string, firstId = 1): Promise<RawRpc> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => { ws.once('open', () => resolve()); ws.once('error', reject); });
    const c = new RawRpc(ws);
    c.nextId = firstId;
    return c;
  }

  /** The first message (already received or coming) that passes `pick`. */
  next(pick: (m: any) => boolean, timeoutMs = 10000): Promise<any> {
    const seen = this.messages.find(pick);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no matching message')), timeoutMs);
      this.waiters.push({ pick, resolve: (m) => { clearTimeout(t); resolve(m); } });
    });
  }

  sendText(text: string): void {
    this.ws.send(text);
  }

  /** Sends a request and resolves with its whole response message. */
  request(method: string, params?: unknown, id: number = this.nextId++): Promise<any> {
    const msg: any = { jsonrpc: '2.0', id, method };
    if (params !== undefined) msg.params = params;
    this.ws.send(JSON.stringify(msg));
    return this.next((m) => m.id === id && ('result' in m || 'error' in m));
  }

  /** The `result` of a request; throws the `error` object. */
  async call(method: string, params?: unknown): Promise<any> {
    const m = await this.request(method, params);
    if (m.error) throw Object.assign(new Error(m.error.message), m.error);
    return m.result;
  }

  events(type?: string): any[] {
    return this.messages.filter((m) => m.method === 'onEvent' && (!type || m.params.value.type === type));
  }

  close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => { this.ws.once('close', () => resolve()); this.ws.close(); });
  }
}

/** The HTTP status of a WebSocket upgrade to `url` (101 when it opened; then closed at once). */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('open', () => { ws.close(); resolve(101); });
    ws.once('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.once('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
  });
}
