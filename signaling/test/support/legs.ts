// Presenters and viewers that behave as the product's web client does on `reoffer` (a new peer
// connection, a new offer, retried while refused), so that "every viewer decodes again" after a media
// server or State outage is measured the way a user would see it (signaling/test/chaos, bench/chaos.ts).
import type { StompTestClient, Inbox } from './stomp-client';
import { negotiate, requestBusk, type IceRoute } from './peers';
import type { ClientPeer, PeerHost } from '../../../test-support/wrtc-peers';
import { CONNECT_TIMEOUT_MS } from '../../../web/src/lib/connect-timeout';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One side of a busk as the web client is: on `reoffer` it closes its peer connection, makes a new
 * one and offers again (and again, a second later, while the offer is refused); a connection still
 * not up CONNECT_TIMEOUT_MS after its answer is replaced the same way (web/src/lib/webrtc.ts).
 */
export class Leg {
  peer!: ClientPeer;
  reoffers = 0;
  /** Fresh connections made because one was not up CONNECT_TIMEOUT_MS after its answer. */
  connectRetries = 0;
  /** Messages of the queue already looked at. */
  private seen = 0;
  private closed = false;
  private renegotiating: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;

  private constructor(readonly host: PeerHost, readonly client: StompTestClient, readonly buskId: string, readonly kind: 'presenter' | 'viewer', readonly inbox: Inbox, readonly route: IceRoute) {}

  /** `route`: how every peer of this leg (the first and each after a reoffer) reaches the media server. */
  static async join(host: PeerHost, client: StompTestClient, buskId: string, kind: 'presenter' | 'viewer', route: IceRoute = {}): Promise<Leg> {
    const inbox = await client.subscribeSync(`/user/queue/busk.${buskId}`);
    const leg = new Leg(host, client, buskId, kind, inbox, route);
    leg.seen = inbox.messages.length;
    await leg.offer();
    leg.timer = setInterval(() => leg.check(), 50);
    return leg;
  }

  private async offer(): Promise<void> {
    this.peer = this.kind === 'presenter' ? await this.host.presenter() : await this.host.viewer();
    const peer = this.peer;
    await negotiate(this.client, this.buskId, peer, this.route);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    this.connectTimer = setTimeout(() => void this.checkConnected(peer), CONNECT_TIMEOUT_MS).unref();
  }

  private async checkConnected(peer: ClientPeer): Promise<void> {
    if (this.closed || peer !== this.peer || this.renegotiating) return;
    const s = await peer.stats().catch(() => null);
    if (!s || s.connection === 'connected' || this.closed || peer !== this.peer || this.renegotiating) return;
    this.connectRetries++;
    this.renegotiate();
  }

  private check(): void {
    if (this.closed || this.renegotiating) return;
    const fresh = this.inbox.messages.slice(this.seen);
    this.seen = this.inbox.messages.length;
    if (!fresh.some((m) => m.body?.type === 'reoffer')) return;
    this.reoffers++;
    this.renegotiate();
  }

  /** A new peer connection and offer, retried a second later while refused. */
  private renegotiate(): void {
    this.renegotiating = (async () => {
      void this.peer.close();
      for (let attempt = 0; !this.closed && attempt < 30; attempt++) {
        try {
          await this.offer();
          return;
        } catch {
          await sleep(1000);
        }
      }
    })().finally(() => { this.renegotiating = null; });
  }

  /** Frames decoded by the current peer connection (viewers). */
  frames(): Promise<number> { return this.peer.frames(); }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    await this.peer?.close();
  }
}

/** Starts a busk as `client` and presents from a reoffering Leg (through `route` when given). */
export async function startReofferingBusk(host: PeerHost, client: StompTestClient, body: Record<string, unknown>, route: IceRoute = {}): Promise<{ buskId: string; presenter: Leg }> {
  const buskId = await requestBusk(client, body);
  return { buskId, presenter: await Leg.join(host, client, buskId, 'presenter', route) };
}
