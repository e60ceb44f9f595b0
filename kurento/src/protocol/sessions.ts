// Kurento sessions. A session id is handed out in the first response on a control socket and
// names the client from then on: every later request carries it, events of the session's
// subscriptions go to whichever socket used it last, and `connect` with it from a new socket
// (kurento-client does this after a reconnect) moves the session there. Objects do not belong to
// sessions here: a dropped socket frees nothing, objects live until released.
import { randomUUID } from 'node:crypto';

/** The part of a WebSocket a session needs. */
export interface SessionSocket {
  send(data: string): void;
  readonly readyState: number;
}

const OPEN = 1;

export interface SessionOptions {
  /** Events kept for a session while it has no socket, delivered on `connect` (oldest dropped first). */
  maxHeldEvents: number;
  /** A session without a socket for this long is forgotten (its subscriptions with it). KMS's garbage collector uses 2 × 240 s. */
  detachedTtlMs: number;
}

export class Session {
  socket: SessionSocket | null = null;
  detachedSince: number = Date.now();
  private held: string[] = [];

  constructor(readonly id: string, private readonly options: SessionOptions) {}

  /** Sends now, or holds the message until a socket resumes the session. */
  deliver(message: string): void {
    if (this.socket && this.socket.readyState === OPEN) {
      this.socket.send(message);
      return;
    }
    this.held.push(message);
    if (this.held.length > this.options.maxHeldEvents) this.held.shift();
  }

  attach(socket: SessionSocket): void {
    this.socket = socket;
    const held = this.held;
    this.held = [];
    for (const m of held) this.deliver(m);
  }

  detach(): void {
    this.socket = null;
    this.detachedSince = Date.now();
  }
}

export class SessionTable {
  private readonly sessions = new Map<string, Session>();
  private readonly bySocket = new Map<SessionSocket, Session>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly options: SessionOptions, private readonly onForget: (sessionId: string) => void) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(1000, Math.min(options.detachedTtlMs, 60000)));
    this.sweeper.unref();
  }

  newId(): string {
    return randomUUID();
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** The session named by a request, made known to the server if it was not (as KMS does on first use). */
  touch(id: string): Session {
    let s = this.sessions.get(id);
    if (!s) {
      s = new Session(id, this.options);
      this.sessions.set(id, s);
    }
    return s;
  }

  ids(): string[] {
    return [...this.sessions.keys()];
  }

  forSocket(socket: SessionSocket): Session | undefined {
    return this.bySocket.get(socket);
  }

  /** Binds a socket to the session its last response named (KMS's storeConnection). */
  bind(socket: SessionSocket, sessionId: string): void {
    const current = this.bySocket.get(socket);
    if (current?.id === sessionId && current.socket === socket) return;
    if (current && current.socket === socket) current.detach();
    const session = this.touch(sessionId);
    if (session.socket && session.socket !== socket) this.bySocket.delete(session.socket);
    this.bySocket.set(socket, session);
    session.attach(socket);
  }

  socketClosed(socket: SessionSocket): void {
    const session = this.bySocket.get(socket);
    this.bySocket.delete(socket);
    if (session && session.socket === socket) session.detach();
  }

  private sweep(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (!s.socket && now - s.detachedSince > this.options.detachedTtlMs) {
        this.sessions.delete(s.id);
        this.onForget(s.id);
      }
    }
  }

  close(): void {
    clearInterval(this.sweeper);
    this.sessions.clear();
    this.bySocket.clear();
  }
}
