// Public types of the broker's API (see docs/ARCHITECTURE.md, "STOMP broker").

export interface Principal {
  id: string;
  name: string;
  roles: string[];
  anonymous: boolean;
  /** Epoch ms. The broker ends the session (ERROR "unauthorized", reason 'expired') when it passes. */
  expiresAt?: number;
}

export type TransportKind = 'ws' | 'tcp';

/** CONNECT headers → who the session acts as. Throw AuthError → ERROR "unauthorized" and close. */
export type Authenticator = (
  connectHeaders: Record<string, string>,
  info: { transport: TransportKind; remoteAddress?: string },
) => Principal | null | Promise<Principal | null>;

export type PermissionAction = 'send' | 'subscribe';
export type PermissionCheck = (principal: Principal | null, action: PermissionAction, destination: string) => boolean;

export interface SessionInfo {
  readonly id: string;
  readonly principal: Principal | null;
  readonly transport: TransportKind;
  readonly remoteAddress?: string;
  readonly connectedAt: number;
  /** Negotiated STOMP version ('1.0' | '1.1' | '1.2'). */
  readonly version: string;
  setPrincipal(p: Principal | null): void;
}

export interface AppRequest {
  session: SessionInfo;
  destination: string;
  params: Record<string, string>;
  headers: Record<string, string>;
  body: Buffer;
  text(): string;
  /** Parses the body; throws AppError('bad-request') when it is not JSON. */
  json<T = unknown>(): T;
}

export type AppHandler = (req: AppRequest) => void | Promise<void>;

export type CloseReason =
  | 'disconnect' | 'socket-closed' | 'heartbeat-timeout' | 'error' | 'kicked' | 'unauthorized' | 'expired'
  | 'rate-limited' | 'slow-consumer' | 'frame-timeout' | 'connect-timeout' | 'idle-timeout' | 'shutdown';

export interface BrokerStats {
  /** Open sessions (connected or still in CONNECT). */
  sessions: number;
  subscriptions: number;
  /** Frames SENT by clients plus messages published by the server. */
  messagesIn: number;
  /** MESSAGE frames written to sessions. */
  messagesOut: number;
  /** Messages not delivered: queue overflow, slow consumers, no route. */
  dropped: number;
  /** ERROR frames sent. */
  errors: number;
  /** Sessions ever opened. */
  connectionsTotal: number;
  /** Sockets refused by the connection caps (maxConnections, maxConnectionsPerAddress). */
  connectionsRefused: number;
  /** Open sockets, connected or not yet. */
  sockets: number;
  /** Bytes held in open transactions (released at COMMIT, ABORT and close). */
  transactionBytes: number;
  /** Messages waiting in /queue destinations (no consumer with capacity). */
  queued: number;
  /** Deliveries waiting for ACK/NACK. */
  unacked: number;
  bytesIn: number;
  bytesOut: number;
  byTransport: { ws: number; tcp: number };
  /** Bytes written to sessions and not yet on the wire, all sessions together (slow consumers hold them). */
  outboundBytes: number;
  /** ERROR frames sent, by their `message` header (at most 64 causes, then "other"). */
  errorsByCause: Record<string, number>;
  /** Sockets closed, by reason. */
  closedByReason: Partial<Record<CloseReason, number>>;
}

export interface Logger {
  debug(msg: string, meta?: unknown): void;
  info(msg: string, meta?: unknown): void;
  warn(msg: string, meta?: unknown): void;
  error(msg: string, meta?: unknown): void;
}
