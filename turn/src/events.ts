// The typed events the coturn log parser produces. One kind per line kind coturn writes about
// sessions (checked against coturn 4.5–4.7 sources and real Debian coturn 4.6.1 output); anything
// else becomes `unknown` so the monitor can count what it did not understand.

export type LogLevel = 'debug' | 'info' | 'warning' | 'error' | 'control';

/** What the line's prefixes told us: coturn's own (uptime or timestamp, level) and syslog's. */
export interface LineMeta {
  /** Epoch ms when the line carried an absolute time (coturn new-log-timestamp, syslog, journald). */
  at?: number;
  /** Seconds since coturn started (coturn's default prefix `123: `). */
  uptime?: number;
  level?: LogLevel;
  /** From a syslog/journald prefix. */
  host?: string;
  pid?: number;
  /** The line was cut by a terminal: at its end (`systemctl status`, `less -S`: `>`, `…`), at its start, or both. */
  cut?: 'end' | 'start' | 'both';
}

export type TransportName = 'UDP' | 'TCP' | 'TLS/TCP' | 'DTLS' | 'SCTP' | 'TLS/SCTP' | string;

interface Base extends LineMeta { raw: string }

/** `session N: new|refreshed, realm=<r>, username=<u>, lifetime=L[, cipher=.., method=..]` */
export interface SessionAllocEvent extends Base {
  kind: 'session-new' | 'session-refreshed';
  session: string; realm: string; user: string; lifetime: number; cipher?: string; tlsMethod?: string;
}
/** `session N: delete: realm=<r>, username=<u>` (allocation removed) */
export interface SessionDeleteEvent extends Base { kind: 'session-delete'; session: string; realm: string; user: string }
/** `session N: [peer ]usage: realm=<r>, username=<u>, rp=, rb=, sp=, sb=` (client side, or peer side) */
export interface UsageEvent extends Base {
  kind: 'usage';
  session: string; realm: string; user: string; side: 'client' | 'peer';
  rp: number; rb: number; sp: number; sb: number;
}
/** `session N: closed (1st|2nd stage), user <u> realm <r> origin <o>, local A, remote B, reason: ...` */
export interface SessionClosedEvent extends Base {
  kind: 'session-closed';
  session: string; stage: 1 | 2; user: string; realm: string; origin: string; local: string; remote: string; reason: string;
}
/** `session N: [origin <o> ]realm <r> user <u>: incoming packet METHOD processed, success|error C: reason` */
export interface RequestEvent extends Base {
  kind: 'request';
  session: string; realm: string; user: string; origin?: string;
  /** ALLOCATE, REFRESH, CREATE_PERMISSION, CHANNEL_BIND, SEND, BINDING, CONNECT, ... or `message` when coturn did not get that far. */
  method: string;
  success: boolean; code?: number; reason?: string;
}
/** Authentication failures coturn explains: `check_stun_auth: Cannot find credentials of user <u>` and friends. */
export interface AuthProblemEvent extends Base {
  kind: 'auth-problem';
  session?: string;
  problem: 'no-credentials' | 'incorrect-credentials' | 'wrong-realm' | 'wrong-username';
  user?: string; realm?: string;
}
/** `session N: peer ADDR lifetime updated: S` (permission/channel) and `session N: peer ADDR deleted` */
export interface PeerEvent extends Base { kind: 'peer'; session: string; peer: string; action: 'updated' | 'deleted'; lifetime?: number }
/** `A peer IP X denied ...` (denied-peer-ip ranges, loopback, link-local scope) */
export interface PeerDeniedEvent extends Base { kind: 'peer-denied'; session?: string; peer: string; rule: string }
/** `session N: TCP socket closed remotely A`, `... socket error: e A`, `... socket disconnected: A`, `... (local A, remote B)` */
export interface SocketEvent extends Base {
  kind: 'socket';
  session: string; transport?: TransportName; event: 'closed-remotely' | 'error' | 'disconnected' | 'other';
  remote?: string; local?: string; detail?: string;
}
/** `IPv4. tcp or tls connected to: A` (a stream client connected; coturn does not name the session yet) */
export interface ClientConnectedEvent extends Base { kind: 'client-connected'; transport: 'TCP' | 'SCTP'; remote: string }
/** `IPv4. Local relay addr: A` / `Local reserved relay addr` / `(RTCP)` */
export interface RelayAddrEvent extends Base { kind: 'relay-addr'; relay: string; reserved: boolean; rtcp: boolean }
/** A line coturn wrote that is not about sessions or that this parser does not know. */
export interface UnknownEvent extends Base { kind: 'unknown'; body: string }
/** A session or authentication line cut so that what it said cannot be known (a byte count or a
 *  user name lost at the cut). Counted as such, never read as zero. */
export interface UnreadableEvent extends Base { kind: 'unreadable'; body: string }

export type CoturnEvent =
  | SessionAllocEvent | SessionDeleteEvent | UsageEvent | SessionClosedEvent | RequestEvent | AuthProblemEvent
  | PeerEvent | PeerDeniedEvent | SocketEvent | ClientConnectedEvent | RelayAddrEvent | UnknownEvent | UnreadableEvent;

export type CoturnEventKind = CoturnEvent['kind'];
