// Heart-beat negotiation (STOMP 1.1+). The client says "cx,cy": it can send every cx ms and wants
// to receive every cy ms; the server answers "sx,sy" in CONNECTED: it can send every sx ms and
// wants the client's beats every sy ms. 0 means "no". Each side then uses max(cx, sy) for client →
// server and max(sx, cy) for server → client, unless either value is 0.
//
// The broker follows the client down to a floor, as RabbitMQ and ActiveMQ do: a client that wants
// beats every second (to notice a dead server within ~2 s) gets them every second, not at the
// broker's default period. The default (STOMP_HEARTBEAT_MS) is used when the client asks for none
// or for a longer period, so the broker still notices a dead client in a bounded time.

export interface Negotiated {
  /** Server → client interval, ms (0: the server sends no beats). */
  outgoingMs: number;
  /** Client → server interval, ms (0: the server does not watch). */
  incomingMs: number;
  /** What CONNECTED's heart-beat header says: [sx, sy]. */
  offer: [number, number];
}

export interface HeartbeatPolicy {
  /** Default period the broker can send at, ms (0: never sends). */
  sendMs: number;
  /** Default period the broker wants the client's beats at, ms (0: does not watch). */
  receiveMs: number;
  /** Shortest period the broker follows a client down to, ms. */
  minMs: number;
}

/** Parses a heart-beat header; null when malformed. Missing header: "0,0". */
export function parseHeartbeat(value: string | undefined): [number, number] | null {
  if (value === undefined) return [0, 0];
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(value);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The broker's offer for one direction: the client's wish clamped to [minMs, defaultMs]. */
function follow(clientMs: number, defaultMs: number, minMs: number): number {
  if (defaultMs === 0) return 0;
  if (clientMs === 0) return defaultMs;
  return Math.max(Math.min(clientMs, defaultMs), Math.min(minMs, defaultMs));
}

export function negotiateHeartbeat(client: [number, number], policy: HeartbeatPolicy): Negotiated {
  const [cx, cy] = client;
  const sx = follow(cy, policy.sendMs, policy.minMs);
  const sy = follow(cx, policy.receiveMs, policy.minMs);
  return {
    outgoingMs: sx === 0 || cy === 0 ? 0 : Math.max(sx, cy),
    incomingMs: sy === 0 || cx === 0 ? 0 : Math.max(sy, cx),
    offer: [sx, sy],
  };
}
