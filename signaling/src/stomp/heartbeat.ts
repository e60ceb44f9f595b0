// Heart-beat negotiation (STOMP 1.1+). The client says "cx,cy": it can send every cx ms and wants
// to receive every cy ms; the server has sx (can send) and sy (wants). 0 means "no".

export interface Negotiated {
  /** Server → client interval, ms (0: the server sends no beats). */
  outgoingMs: number;
  /** Client → server interval, ms (0: the server does not watch). */
  incomingMs: number;
}

/** Parses a heart-beat header; null when malformed. Missing header: "0,0". */
export function parseHeartbeat(value: string | undefined): [number, number] | null {
  if (value === undefined) return [0, 0];
  const m = /^\s*(\d{1,9})\s*,\s*(\d{1,9})\s*$/.exec(value);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function negotiateHeartbeat(client: [number, number], serverSendMs: number, serverReceiveMs: number): Negotiated {
  const [cx, cy] = client;
  return {
    outgoingMs: serverSendMs === 0 || cy === 0 ? 0 : Math.max(serverSendMs, cy),
    incomingMs: serverReceiveMs === 0 || cx === 0 ? 0 : Math.max(serverReceiveMs, cx),
  };
}
