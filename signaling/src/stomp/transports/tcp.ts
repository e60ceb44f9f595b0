// STOMP over plain TCP (backend services, ops tools, stompit).
import net from 'node:net';
import type { Acceptor, Connection } from '../connection';
import { normalizeAddress } from '../options';

class TcpConnection implements Connection {
  readonly transport = 'tcp' as const;
  readonly wholeFrames = false;
  readonly remoteAddress: string | undefined;
  constructor(private readonly socket: net.Socket) {
    this.remoteAddress = socket.remoteAddress === undefined ? undefined : normalizeAddress(socket.remoteAddress);
  }

  private corked = false;

  write(data: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    this.cork();
    this.socket.write(data);
  }

  writeParts(head: Buffer, tail: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // Both parts leave in one writev: no copy of the shared tail.
    this.cork();
    this.socket.write(head);
    this.socket.write(tail);
  }

  /** Corked for the rest of the tick: a burst of frames becomes one writev. */
  private cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    process.nextTick(uncork, this);
  }

  flush(): void {
    this.corked = false;
    this.socket.uncork();
  }

  bufferedBytes(): number {
    return this.socket.writableLength;
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    if (!this.socket.destroyed) this.socket.resume();
  }

  end(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function uncork(c: TcpConnection): void {
  c.flush();
}

export class TcpTransport {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();

  constructor(acceptor: Acceptor) {
    this.server = net.createServer((socket) => {
      const conn = new TcpConnection(socket);
      if (!acceptor.admit(conn.remoteAddress)) {
        socket.on('error', () => {});
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      this.sockets.add(socket);
      const handler = acceptor.accept(conn);
      socket.on('data', (chunk: Buffer) => handler.onData(chunk, false));
      socket.on('close', () => {
        this.sockets.delete(socket);
        handler.onClosed();
      });
      socket.on('error', () => socket.destroy());
    });
  }

  listen(port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
