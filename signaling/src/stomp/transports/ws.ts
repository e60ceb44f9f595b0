// STOMP over WebSocket: `ws` on an existing http.Server at one path. Text and binary messages are
// both fed to the parser as bytes; a message may hold several frames or part of one.
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket, RawData } from 'ws';
import type { Acceptor, Connection } from '../connection';
import { normalizeAddress } from '../options';

// In order of preference. Plain 'stomp' is offered by some clients; the version is negotiated by
// CONNECT's accept-version either way. A client offering none is accepted without a subprotocol.
const SUBPROTOCOLS = ['v12.stomp', 'v11.stomp', 'v10.stomp', 'stomp'];

const BINARY = { binary: true };
const TEXT = { binary: false };

class WsConnection implements Connection {
  readonly transport = 'ws' as const;
  readonly wholeFrames = true;
  private corked = false;
  private readonly socket: Duplex | undefined;

  constructor(private readonly ws: WebSocket, readonly remoteAddress: string | undefined) {
    // ws keeps its net.Socket in _socket (not public API; guarded): we cork it for the rest of the
    // tick so a burst of frames (fan-out, queue drain) leaves in one writev, not one per frame.
    const sock = (ws as unknown as { _socket?: Duplex })._socket;
    this.socket = sock && typeof sock.cork === 'function' ? sock : undefined;
  }

  write(data: Buffer, binary: boolean): void {
    if (this.ws.readyState !== WebSocket.OPEN) return;
    if (!this.corked && this.socket) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    this.ws.send(data, binary ? BINARY : TEXT);
  }

  flush(): void {
    this.corked = false;
    this.socket?.uncork();
  }

  writeParts(head: Buffer, tail: Buffer, binary: boolean): void {
    // One WebSocket message per frame: the two parts must be joined (one copy of the tail).
    this.write(Buffer.concat([head, tail], head.length + tail.length), binary);
  }

  bufferedBytes(): number {
    return this.ws.bufferedAmount;
  }

  setMaxMessageBytes(n: number): void {
    // ws reads a message up to maxPayload before handing it over; its receiver keeps the limit in
    // _maxPayload (not public API; guarded like _socket above). Lowered until CONNECTED.
    const receiver = (this.ws as unknown as { _receiver?: { _maxPayload?: number } })._receiver;
    if (receiver && typeof receiver._maxPayload === 'number') receiver._maxPayload = n;
  }

  // ws@8: pause()/resume() stop and restart reading the underlying socket (no-ops unless OPEN).
  pause(): void {
    this.ws.pause();
  }

  resume(): void {
    this.ws.resume();
  }

  end(): void {
    if (this.ws.readyState === WebSocket.OPEN || this.ws.readyState === WebSocket.CONNECTING) this.ws.close(1000);
    // A peer that never answers the close handshake is cut off.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  destroy(): void {
    this.ws.terminate();
  }
}

function uncork(c: WsConnection): void {
  c.flush();
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data as ArrayBuffer);
}

export class WsTransport {
  private readonly wss: WebSocketServer;
  private readonly onUpgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;

  constructor(private readonly server: http.Server, path: string, maxFrameBytes: number, acceptor: Acceptor) {
    this.wss = new WebSocketServer({
      noServer: true,
      // A message may carry a whole frame plus heart-beats; the parser enforces the frame limit.
      maxPayload: maxFrameBytes + 64 * 1024,
      perMessageDeflate: false,
      handleProtocols: (offered) => SUBPROTOCOLS.find((p) => offered.has(p)) ?? false,
    });
    this.wss.on('connection', (ws: WebSocket, req: http.IncomingMessage, address: string | undefined) => {
      const handler = acceptor.accept(new WsConnection(ws, address));
      ws.on('message', (data, isBinary) => handler.onData(toBuffer(data), isBinary));
      ws.on('close', () => handler.onClosed());
      ws.on('error', () => handler.onClosed());
    });
    this.onUpgrade = (req, socket, head) => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      const pathname = q < 0 ? url : url.slice(0, q);
      if (pathname !== path && pathname !== path + '/') {
        // Someone else's upgrade; when nobody else listens, refuse it rather than leave it hanging.
        if (server.listenerCount('upgrade') === 1) {
          socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        }
        return;
      }
      const address = clientAddress(req, acceptor.trustedProxies);
      if (!acceptor.admit(address)) {
        // Refused before the handshake: nothing is read from this socket.
        socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 10\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req, address));
    };
    server.on('upgrade', this.onUpgrade);
  }

  async close(): Promise<void> {
    this.server.off('upgrade', this.onUpgrade);
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted reverse proxy; then the
 * last X-Forwarded-For entry that is not itself a trusted proxy (entries further left are whatever
 * the client claimed, so they are never believed).
 */
export function clientAddress(req: http.IncomingMessage, trusted: ReadonlySet<string>): string | undefined {
  const peer = req.socket.remoteAddress === undefined ? undefined : normalizeAddress(req.socket.remoteAddress);
  if (peer === undefined || !trusted.has(peer)) return peer;
  const xff = req.headers['x-forwarded-for'];
  const hops = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',').map(normalizeAddress).filter((h) => h !== '');
  for (let i = hops.length - 1; i >= 0; i--) if (!trusted.has(hops[i])) return hops[i];
  return peer;
}
