// The WebSocket transport (KMS's WebSocketTransport): accepts control sockets on one path of an
// HTTP server, feeds their messages to the processor, and binds each socket to the session its
// responses name so that events of that session reach it.
import crypto from 'node:crypto';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { splitMessages } from './framing';
import type { Connection, RpcProcessor } from './processor';
import type { SessionTable } from './sessions';

export interface TransportOptions {
  path: string;
  /** Largest message accepted; KMS has no limit, but SDPs are the largest thing sent (tens of KB). */
  maxPayload?: number;
  /**
   * Shared secret a client must present as `?access_token=` (kurento-client's `access_token`
   * option puts it there). KMS has none: empty or absent, any client that reaches the port is served.
   */
  accessToken?: string;
}

export class WebSocketTransport {
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private readonly connections = new WeakMap<WebSocket, Connection>();
  private readonly onUpgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head);
  private server: http.Server | null = null;

  constructor(private readonly processor: RpcProcessor, private readonly sessions: SessionTable, private readonly options: TransportOptions) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? 16 * 1024 * 1024, perMessageDeflate: false });
  }

  attach(server: http.Server): void {
    this.server = server;
    server.on('upgrade', this.onUpgrade);
  }

  get socketCount(): number {
    return this.sockets.size;
  }

  /** Closes the server side of every control socket (tests use this to simulate a dropped connection). */
  dropSockets(): void {
    for (const ws of this.sockets) ws.terminate();
  }

  /** Closes every socket with a close frame (1001 going away), then cuts whatever lingers. */
  async close(graceMs = 1000): Promise<void> {
    this.server?.off('upgrade', this.onUpgrade);
    const open = [...this.sockets];
    for (const ws of open) ws.close(1001, 'media server shutting down');
    const deadline = Date.now() + graceMs;
    while (this.sockets.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const ws of this.sockets) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    // KMS compares the path without its query string (clients may add ?access_token=...).
    const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '');
    if (path !== this.options.path) return refuse(socket, '404 Not Found');
    // Browsers always send Origin on a WebSocket upgrade and let any page open one to 127.0.0.1;
    // kurento-client in Node (ws, through websocket-stream) sends none. A page in the operator's
    // browser must not drive (or release) the media objects.
    if (req.headers.origin !== undefined) return refuse(socket, '403 Forbidden');
    if (this.options.accessToken && !sameSecret(accessTokenOf(req.url ?? ''), this.options.accessToken)) return refuse(socket, '401 Unauthorized');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws));
  }

  private accept(ws: WebSocket): void {
    this.sockets.add(ws);
    this.connections.set(ws, { created: new Set() });
    // kurento-client writes through websocket-stream: binary frames, sometimes several requests
    // in one. KMS reads any frame as JSON text; so does this, one message per JSON value.
    ws.on('message', (data: RawData) => {
      for (const text of splitMessages(rawText(data))) void this.handle(ws, text);
    });
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      this.sockets.delete(ws);
      this.sessions.socketClosed(ws);
    });
  }

  private async handle(ws: WebSocket, text: string): Promise<void> {
    try {
      const { response, sessionId } = await this.processor.process(text, this.sessions.forSocket(ws)?.id, this.connections.get(ws));
      if (response !== null && ws.readyState === ws.OPEN) ws.send(response);
      // Bind after answering, so that events held while the session had no socket follow the
      // `connect` answer instead of preceding it.
      if (sessionId && ws.readyState === ws.OPEN) this.sessions.bind(ws, sessionId);
    } catch {
      // process() answers every failure itself; anything escaping is a bug, never a crash.
    }
  }
}

function rawText(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

function refuse(socket: Duplex, status: string): void {
  socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

function accessTokenOf(url: string): string {
  try {
    return new URL(url, 'ws://engine').searchParams.get('access_token') ?? '';
  } catch {
    return '';
  }
}

/** Constant-time comparison (through digests, so lengths do not leak either). */
function sameSecret(given: string, expected: string): boolean {
  const h = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(h(given), h(expected));
}
