// A UDP relay on a free 127.0.0.1 port that a test (or a chaos scenario) can make lose every packet:
// the flapping presenter's mobile link (bench/lib/chaos-flapping.ts). It forwards what clients send
// to one target, from its own socket (the target sees the relay as the sender: a peer-reflexive ICE
// candidate), and the target's replies to the client that sent last. `drop()` discards everything
// both ways, silently, as a 4G link in a tunnel does (UDP has no reset to send); `heal()` forwards
// again. Nothing is queued while dropping: what was sent then is lost, as on the real link.
import dgram from 'node:dgram';
import type { Candidate } from './wrtc-peers';

export interface UdpProxy {
  /** Where clients send: 127.0.0.1 and this port. */
  readonly port: number;
  readonly target: { host: string; port: number };
  /** Datagrams forwarded / discarded (both ways) since the start. */
  readonly forwarded: number;
  readonly dropped: number;
  readonly isDropping: boolean;
  drop(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startUdpProxy(targetPort: number, targetHost = '127.0.0.1', opts: { dropping?: boolean } = {}): Promise<UdpProxy> {
  // Two sockets: clients send to `listener`; `upstream` talks to the target, and whatever reaches it
  // is a reply (a target on 0.0.0.0 answers a loopback sender from 127.0.0.1, not from the address
  // it was sent to, so a reply cannot be told from a client by its source).
  const listener = dgram.createSocket('udp4');
  const upstream = dgram.createSocket('udp4');
  let client: { address: string; port: number } | null = null;
  let dropping = opts.dropping ?? false;
  let forwarded = 0;
  let dropped = 0;
  let closed = false;
  for (const s of [listener, upstream]) {
    // A send to a vanished peer reports ICMP unreachable as an error on Linux: a lost packet, no more.
    s.on('error', () => undefined);
  }
  listener.on('message', (msg, from) => {
    client = { address: from.address, port: from.port };
    if (dropping) { dropped++; return; }
    forwarded++;
    upstream.send(msg, targetPort, targetHost, () => undefined);
  });
  upstream.on('message', (msg) => {
    if (dropping || !client) { dropped++; return; } // down, or a reply before any client spoke
    forwarded++;
    listener.send(msg, client.port, client.address, () => undefined);
  });
  const bind = (s: dgram.Socket) => new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => { s.off('error', reject); resolve(); });
  });
  await bind(listener);
  await bind(upstream);
  const port = listener.address().port;
  return {
    port,
    target: { host: targetHost, port: targetPort },
    get forwarded() { return forwarded; },
    get dropped() { return dropped; },
    get isDropping() { return dropping; },
    drop() { dropping = true; },
    heal() { dropping = false; },
    close() {
      if (closed) return Promise.resolve();
      closed = true;
      return Promise.all([listener, upstream].map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
    },
  };
}

/**
 * A peer's whole path to a media server as relays the test can drop at once: one relay per remote
 * candidate, made when that candidate is first seen, so a reoffer (a new peer, a new engine
 * endpoint, new candidates) gets relays of its own; a relay made while the link is down starts down.
 * Its methods fit `negotiate()`'s route (signaling/test/support/peers.ts): `remoteCandidate` points a
 * server candidate at its relay, `localCandidate` keeps the peer's own candidates from the server,
 * which then learns the peer from the relay alone (peer-reflexive), as a server behind a mobile
 * carrier's NAT does; given them, it would reach the peer directly, around the relay.
 */
export class UdpLink {
  private readonly relays = new Map<string, Promise<UdpProxy>>();
  private down = false;
  private closed = false;

  get isDown(): boolean { return this.down; }
  /** Relays made so far (one per distinct server candidate). */
  get size(): number { return this.relays.size; }

  /** Datagrams forwarded / discarded by every relay of the link. */
  async counts(): Promise<{ forwarded: number; dropped: number }> {
    const all = await Promise.all(this.relays.values());
    return { forwarded: all.reduce((n, r) => n + r.forwarded, 0), dropped: all.reduce((n, r) => n + r.dropped, 0) };
  }

  async drop(): Promise<void> {
    this.down = true;
    for (const r of await Promise.all(this.relays.values())) r.drop();
  }

  async heal(): Promise<void> {
    this.down = false;
    for (const r of await Promise.all(this.relays.values())) r.heal();
  }

  /** `c` pointed at the relay to its address; null for what the link does not carry (TCP, IPv6, names). */
  async remoteCandidate(c: Candidate): Promise<Candidate | null> {
    // candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...
    const f = c.candidate.replace(/^a=/, '').split(' ');
    if (this.closed || f.length < 8 || f[2]!.toLowerCase() !== 'udp' || !/^\d+\.\d+\.\d+\.\d+$/.test(f[4]!)) return null;
    const key = `${f[4]}:${f[5]}`;
    let relay = this.relays.get(key);
    if (!relay) {
      relay = startUdpProxy(Number(f[5]), f[4]!, { dropping: this.down });
      this.relays.set(key, relay);
    }
    const { port } = await relay;
    f[4] = '127.0.0.1';
    f[5] = String(port);
    return { ...c, candidate: f.join(' ') };
  }

  localCandidate(): null { return null; }

  async close(): Promise<void> {
    this.closed = true;
    const all = await Promise.all(this.relays.values());
    this.relays.clear();
    await Promise.all(all.map((r) => r.close()));
  }
}
