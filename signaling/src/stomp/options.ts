// Broker options: a typed object with defaults. Mapping environment variables onto it is the
// signaling service's job (config.ts: STOMP_HEARTBEAT_MS, STOMP_MAX_FRAME_BYTES, ...).
import { Authenticator, Logger, PermissionCheck } from './types';
import { defaultPermissions } from './permissions';
import { Clock, realClock } from './clock';

export interface BrokerLimits {
  /** Largest frame accepted (command, headers, body). STOMP_MAX_FRAME_BYTES. */
  maxFrameBytes: number;
  maxHeaders: number;
  maxHeaderLineBytes: number;
  /** Subscriptions per session. STOMP_MAX_SUBSCRIPTIONS. */
  maxSubscriptions: number;
  /** Unacknowledged deliveries per session (client/client-individual subscriptions). */
  maxPendingAcks: number;
  /** Outbound bytes buffered for one session (ws bufferedAmount / socket writableLength) before it is dropped as a slow consumer. */
  maxOutboundBufferBytes: number;
  /**
   * Outbound bytes buffered for all sessions together: past it, the sessions holding the most are
   * dropped as slow consumers until the node is back under it (checked every sweep, about a second).
   * Without it a thousand slow consumers could make a node hold a thousand times the per-session cap.
   * 0: no node-wide budget.
   */
  maxTotalOutboundBytes: number;
  /** Inbound frames per session per window (heart-beats do not count). STOMP_RATE_LIMIT. A session
   *  over it is slowed down, not refused: its frames wait and its socket is paused until the next window. */
  rateLimit: { count: number; windowMs: number };
  /** Frames a session may have received but not processed yet (waiting for the rate limit, or
   *  pipelined behind CONNECT). Over it: ERROR "rate limit exceeded" and close. The socket is paused
   *  as soon as a frame has to wait, so only a peer that packs this many frames into data already in
   *  flight (e.g. one WebSocket message) reaches it. Default: max(10 × rateLimit.count, 4096). */
  maxBufferedFrames: number;
  /** A frame that started must complete within this time. */
  partialFrameTimeoutMs: number;
  /** A socket must send CONNECT (and be authenticated) within this time. */
  connectTimeoutMs: number;
  /** Open transactions per session, and frames buffered in one transaction. */
  maxTransactions: number;
  maxTransactionFrames: number;
  /** Bytes (headers and bodies) buffered in one transaction, and in all of a session's open
   *  transactions together. Over either: ERROR "transaction too large" and close. */
  maxTransactionBytes: number;
  maxSessionTransactionBytes: number;
  /** Largest frame before the session is CONNECTED (the CONNECT frame, and on WebSocket the largest
   *  message): an unauthenticated socket holds at most this much. */
  maxConnectFrameBytes: number;
  /** Open sockets, overall and per client address (0: no cap). A socket over a cap is refused before
   *  any STOMP (WebSocket: HTTP 503 instead of the upgrade; TCP: closed at once). */
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** A connected session that receives nothing for this long is closed, heart-beats or not (a
   *  client that negotiated 0,0 is otherwise never timed out). 0: never. */
  idleTimeoutMs: number;
  /** Messages a /queue destination holds while nobody can take them; the oldest go first. */
  maxQueueDepth: number;
}

export interface HeartbeatOptions {
  /** How often the broker sends heart-beats when the client asks for none or for a longer period, ms (0: never). */
  sendMs: number;
  /** How often the broker wants the client's heart-beats when it offers none or a longer period, ms (0: not at all). */
  receiveMs: number;
  /** Shortest period the broker follows a client's wish down to, ms (heartbeat.ts). */
  minMs: number;
  /** A session is closed after receiveInterval × graceFactor of silence. */
  graceFactor: number;
}

export interface BrokerOptions {
  authenticator?: Authenticator;
  /** Default: defaultPermissions (SEND to /app/**; SUBSCRIBE to /topic/**, /queue/**, /user/**). */
  permissions?: PermissionCheck;
  /** Refused SEND/SUBSCRIBE: 'error' = ERROR frame and close (STOMP's way, default);
   *  'errors-queue' = {code:"forbidden"} on the session's /user/queue/errors, session stays. */
  onDenied?: 'error' | 'errors-queue';
  limits?: Partial<BrokerLimits>;
  /** A number sets both directions (STOMP_HEARTBEAT_MS). */
  heartbeat?: number | Partial<HeartbeatOptions>;
  /** Prefix of session ids and message ids (the node id), so ids are unique across nodes. */
  sessionIdPrefix?: string;
  /** Addresses of reverse proxies whose X-Forwarded-For is believed (WebSocket): the client address
   *  (for the per-address cap and the authenticator) is then the last address in X-Forwarded-For that
   *  is not itself a trusted proxy. From any other peer the header is ignored. */
  trustedProxies?: string[];
  /** CONNECTED `server` header. */
  serverName?: string;
  logger?: Logger;
  /** Time and timers for sessions, heart-beats and timeouts (tests pass a fake one). Default: the real clock. */
  clock?: Clock;
}

export interface ResolvedOptions {
  authenticator: Authenticator | null;
  permissions: PermissionCheck;
  onDenied: 'error' | 'errors-queue';
  limits: BrokerLimits;
  heartbeat: HeartbeatOptions;
  sessionIdPrefix: string;
  serverName: string;
  logger: Logger;
  clock: Clock;
  trustedProxies: ReadonlySet<string>;
}

export const DEFAULT_LIMITS: BrokerLimits = {
  maxFrameBytes: 2 * 1024 * 1024,
  maxHeaders: 64,
  maxHeaderLineBytes: 8192,
  maxSubscriptions: 100,
  maxPendingAcks: 1000,
  maxOutboundBufferBytes: 8 * 1024 * 1024,
  maxTotalOutboundBytes: 256 * 1024 * 1024,
  rateLimit: { count: 200, windowMs: 1000 },
  maxBufferedFrames: 4096,
  partialFrameTimeoutMs: 30000,
  connectTimeoutMs: 10000,
  maxTransactions: 16,
  maxTransactionFrames: 1000,
  maxTransactionBytes: 4 * 1024 * 1024,
  maxSessionTransactionBytes: 8 * 1024 * 1024,
  maxConnectFrameBytes: 8 * 1024,
  maxConnections: 0,
  maxConnectionsPerAddress: 0,
  idleTimeoutMs: 10 * 60 * 1000,
  maxQueueDepth: 10000,
};

export const DEFAULT_HEARTBEAT: HeartbeatOptions = { sendMs: 10000, receiveMs: 10000, minMs: 500, graceFactor: 2 };

const consoleLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: (m, meta) => console.warn(`[stomp] ${m}`, meta ?? ''),
  error: (m, meta) => console.error(`[stomp] ${m}`, meta ?? ''),
};

export function resolveOptions(o: BrokerOptions = {}): ResolvedOptions {
  const limits = { ...DEFAULT_LIMITS, ...(o.limits ?? {}) };
  if (o.limits?.maxBufferedFrames === undefined) {
    // One socket read (64 KiB) of the smallest valid SEND frames is < 3000 frames: never reached by
    // a peer that waits for TCP flow control.
    limits.maxBufferedFrames = Math.max(10 * limits.rateLimit.count, DEFAULT_LIMITS.maxBufferedFrames);
  }
  // The slow-consumer cap must leave room for at least one maximal frame.
  limits.maxOutboundBufferBytes = Math.max(limits.maxOutboundBufferBytes, limits.maxFrameBytes + 65536);
  const hb = typeof o.heartbeat === 'number'
    ? { ...DEFAULT_HEARTBEAT, sendMs: o.heartbeat, receiveMs: o.heartbeat }
    : { ...DEFAULT_HEARTBEAT, ...(o.heartbeat ?? {}) };
  return {
    authenticator: o.authenticator ?? null,
    permissions: o.permissions ?? defaultPermissions,
    onDenied: o.onDenied ?? 'error',
    limits,
    heartbeat: hb,
    sessionIdPrefix: o.sessionIdPrefix ?? `n${process.pid.toString(36)}`,
    serverName: o.serverName ?? 'busking-stomp/1.0',
    logger: o.logger ?? consoleLogger,
    clock: o.clock ?? realClock,
    trustedProxies: new Set((o.trustedProxies ?? []).map(normalizeAddress)),
  };
}

/** '::ffff:10.0.0.1' (an IPv4 peer on a dual-stack socket) and '10.0.0.1' are the same address. */
export function normalizeAddress(a: string): string {
  const t = a.trim();
  return t.startsWith('::ffff:') && t.includes('.') ? t.slice(7) : t;
}
