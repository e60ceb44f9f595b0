// Test support for the broker: a running broker on free ports, raw TCP / raw WebSocket clients that
// read frames with the broker's own parser, and small promise helpers.
import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import { Broker, BrokerOptions, FrameParser, Frame } from '../../src/stomp';
import { waitFor } from '../../../test-support/ports';

export { waitFor };

export interface Running {
  broker: Broker;
  server: http.Server;
  wsUrl: string;
  tcpPort: number;
  close(): Promise<void>;
}

export async function startBroker(opts: BrokerOptions = {}): Promise<Running> {
  const broker = new Broker({ logger: quietLogger, ...opts });
  const server = http.createServer((_req, res) => res.end('ok'));
  broker.attachTo(server, '/stomp');
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const tcpPort = await broker.listenTcp(0, '127.0.0.1');
  return {
    broker,
    server,
    wsUrl: `ws://127.0.0.1:${port}/stomp`,
    tcpPort,
    async close() {
      await broker.close();
      server.closeAllConnections?.();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

export const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Collects frames from a byte stream. */
class FrameCollector {
  readonly frames: Frame[] = [];
  heartbeats = 0;
  closed = false;
  private readonly parser = new FrameParser({ maxFrameBytes: 64 * 1024 * 1024, maxHeaders: 1000, maxHeaderLineBytes: 1 << 20 }, (f) => this.frames.push(f), () => this.heartbeats++);
  private cursor = 0;
  set escapeMode(m: 'none' | 'v11' | 'v12') {
    this.parser.escapeMode = m;
  }
  feed(b: Buffer): void {
    this.parser.push(b);
  }
  /** Next frame not yet taken (optionally of a command). */
  async next(command?: string, timeoutMs = 10000): Promise<Frame> {
    return waitFor(() => {
      while (this.cursor < this.frames.length) {
        const f = this.frames[this.cursor++];
        if (!command || f.command === command) return f;
      }
      return undefined;
    }, timeoutMs, `frame ${command ?? ''}`);
  }
}

export interface RawClient {
  send(data: string | Buffer): void;
  next(command?: string, timeoutMs?: number): Promise<Frame>;
  frames: Frame[];
  heartbeats(): number;
  closed(): Promise<void>;
  isClosed(): boolean;
  close(): void;
  setEscape(m: 'none' | 'v11' | 'v12'): void;
}

export function rawTcp(port: number): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const c = new FrameCollector();
    const sock = net.connect(port, '127.0.0.1');
    // Small writes (heart-beats) go out at once: Nagle would hold them for the peer's delayed ACK.
    sock.setNoDelay(true);
    let closedResolve!: () => void;
    const closedP = new Promise<void>((r) => (closedResolve = r));
    sock.on('data', (d) => c.feed(d));
    sock.on('close', () => {
      c.closed = true;
      closedResolve();
    });
    sock.on('error', () => {});
    sock.once('connect', () =>
      resolve({
        send: (d) => sock.write(d),
        next: (cmd, t) => c.next(cmd, t),
        frames: c.frames,
        heartbeats: () => c.heartbeats,
        closed: () => closedP,
        isClosed: () => c.closed,
        close: () => sock.destroy(),
        setEscape: (m) => (c.escapeMode = m),
      }),
    );
    sock.once('error', reject);
  });
}

export function rawWs(url: string, protocols: string[] = ['v12.stomp']): Promise<RawClient & { ws: WebSocket }> {
  return new Promise((resolve, reject) => {
    const c = new FrameCollector();
    const ws = new WebSocket(url, protocols);
    let closedResolve!: () => void;
    const closedP = new Promise<void>((r) => (closedResolve = r));
    ws.on('message', (d: Buffer) => c.feed(Buffer.isBuffer(d) ? d : Buffer.from(d as ArrayBuffer)));
    ws.on('close', () => {
      c.closed = true;
      closedResolve();
    });
    ws.on('error', () => {});
    ws.once('open', () =>
      resolve({
        ws,
        send: (d) => ws.send(d),
        next: (cmd, t) => c.next(cmd, t),
        frames: c.frames,
        heartbeats: () => c.heartbeats,
        closed: () => closedP,
        isClosed: () => c.closed,
        close: () => ws.terminate(),
        setEscape: (m) => (c.escapeMode = m),
      }),
    );
    ws.once('error', reject);
  });
}

/** A STOMP frame as a string (NUL appended). */
export function frame(command: string, headers: Record<string, string | number> = {}, body = ''): string {
  let s = command + '\n';
  for (const [k, v] of Object.entries(headers)) s += `${k}:${v}\n`;
  return s + '\n' + body + '\0';
}

/** Raw client connected with STOMP 1.2 (CONNECTED already read). */
export async function connectedTcp(port: number, headers: Record<string, string> = {}): Promise<RawClient> {
  const c = await rawTcp(port);
  c.send(frame('CONNECT', { 'accept-version': '1.2', host: 'localhost', 'heart-beat': '0,0', ...headers }));
  await c.next('CONNECTED');
  return c;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once a subscription to `destination` exists on the broker: the barrier to await
 * between a client's SUBSCRIBE (sent without a receipt) and a publish that must reach it.
 * Call it before subscribing.
 */
export function subscribedTo(broker: Broker, destination: string, timeoutMs = 10000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      broker.off('subscribe', listener);
      reject(new Error(`no subscription to ${destination} within ${timeoutMs} ms`));
    }, timeoutMs);
    const listener = (_s: unknown, e: { destination: string }) => {
      if (e.destination !== destination) return;
      clearTimeout(timer);
      broker.off('subscribe', listener);
      resolve();
    };
    broker.on('subscribe', listener);
  });
}

let barrierSeq = 0;

/**
 * A RECEIPT round trip on a connected raw client: once it returns, every frame the broker wrote to
 * this client before it read the barrier has been read too. "Nothing else arrived" is checked after
 * it, not after a sleep. (UNSUBSCRIBE of an unknown id: allowed everywhere and changes nothing.)
 */
export async function barrier(c: RawClient): Promise<void> {
  const id = `barrier-${++barrierSeq}`;
  c.send(frame('UNSUBSCRIBE', { id, receipt: id }));
  for (;;) {
    const f = await c.next('RECEIPT');
    if (f.headers['receipt-id'] === id) return;
  }
}
