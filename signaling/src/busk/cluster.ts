// Several signaling nodes on one Redis: this node's presence, the sweep that cleans up after nodes
// that died, the takeover of a busk whose presenter comes back on this node, and the control events
// the nodes exchange (signaling/src/protocol ControlMessage).
//
// Presence is a lease. A node that cannot refresh it for a whole TTL (Redis unreachable from it, a
// partition) knows the others will now sweep its busks and release their media, so it ends them
// itself, at once, for the presenters and viewers still connected to it: a busk is never live on a
// node that the rest of the cluster has written off (no split brain). When the presence key is found
// missing although this node was refreshing it (Redis restarted and lost its data, or the partition
// ended), the node reconciles: busks another node ended for it (tombstones) end here too; the others,
// and its viewers' entries, are written back, so the map and the counts come back without anyone
// re-joining.
import { AppError } from '../stomp';
import type { BuskRecord } from '../state';
import type { ControlMessage } from '../protocol';
import { log } from '../log';
import { Busk } from './busk';
import type { Audience } from './audience';
import type { BuskContext } from './context';

/** The busks presented on this node (BuskService holds them). */
export interface LocalBusks {
  get(id: string): Busk | undefined;
  all(): Busk[];
  add(busk: Busk): void;
  remove(busk: Busk): void;
  /** Ends a busk this node can no longer hold (State may be unreachable: best effort there). */
  lose(busk: Busk, reason: string): Promise<void>;
}

/** How long one node may hold a busk's takeover (its presenter is back here) or a dead node's sweep. */
const TAKEOVER_CLAIM_MS = 5000;
const SWEEP_CLAIM_MS = 30000;
/** How long a busk ended for a presumed-dead node stays marked, for that node to learn it (tombstone). */
const ENDED_MARK_MS = 24 * 3600 * 1000;

export class Cluster {
  private presenceTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private stopped = false;
  /** When this node's presence was last refreshed (0: never yet). */
  private presenceAt = 0;
  /** Fires when the lease is about to run out in State without a refresh (fence). */
  private leaseTimer: NodeJS.Timeout | null = null;
  /** The lease ran out while State was unreachable: busks ended here, viewers' legs presumed released. */
  private fenced = false;
  /** Until then, every beat writes the local viewers' entries back (their busks' owners write theirs back too). */
  private rewriteViewersUntil = 0;

  constructor(private readonly ctx: BuskContext, private readonly busks: LocalBusks, private readonly audience: Audience) {}

  /** Presence in State, refreshed at a third of its TTL, and a sweep each time (Redis only). */
  start(): void {
    const o = this.ctx.o;
    if (o.state.kind !== 'redis') return;
    const beat = () => { this.refresh().catch((e) => log.warn('busk', 'presence refresh failed', e)); };
    beat();
    this.presenceTimer = setInterval(beat, Math.max(100, Math.floor(o.presenceTtlMs / 3)));
    // Back at once when Redis is (a restart loses the map until this node writes its busks back).
    o.state.onReconnect?.(() => { if (!this.stopped) beat(); });
  }

  stop(): void {
    this.stopped = true;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    this.presenceTimer = null;
    this.leaseTimer = null;
  }

  private async refresh(): Promise<void> {
    const o = this.ctx.o;
    const sentAt = Date.now(); // the key's TTL runs from about here, not from the reply
    let was: boolean;
    try {
      was = await o.state.nodeAlive(o.nodeId, o.presenceTtlMs);
    } catch {
      return; // unreachable: the lease timer fences before the key expires
    }
    if (this.stopped) return;
    const first = this.presenceAt === 0;
    this.presenceAt = sentAt;
    this.armLease(sentAt);
    if (!was && !first) await this.reconcile();
    else if (Date.now() < this.rewriteViewersUntil) await this.rewriteViewers();
    await this.sweep();
  }

  /**
   * Fences a sixth of the TTL before the key can expire in State, so this node has ended its busks
   * before any other node's sweep can (their sweep needs the key gone). A sixth leaves refreshes every
   * third of the TTL one missed refresh and more: a cut shorter than half the TTL ends nothing.
   */
  private armLease(sentAt: number): void {
    if (this.leaseTimer) clearTimeout(this.leaseTimer);
    const ttl = this.ctx.o.presenceTtlMs;
    this.leaseTimer = setTimeout(() => this.fence(), Math.max(0, sentAt + ttl - ttl / 6 - Date.now()));
    this.leaseTimer.unref();
  }

  /** The lease is over: the others end this node's busks now; end them here for whoever is connected. */
  private fence(): void {
    if (this.fenced || this.stopped) return;
    this.fenced = true;
    const busks = this.busks.all();
    log.error('busk', `presence not refreshed for ${Date.now() - this.presenceAt} ms of its ${this.ctx.o.presenceTtlMs} ms TTL (State unreachable): ending this node's ${busks.length} busks, as the other nodes will`);
    this.ctx.o.metrics.stateLeaseLost.inc();
    for (const busk of busks) this.busks.lose(busk, 'node-lost').catch((e) => log.warn('busk', `ending ${busk.id} failed`, e));
    // Our viewers of other nodes' busks: their endpoints are swept too; they reoffer once State is back.
    this.audience.staleAll();
  }

  /** The presence key was gone: State restarted empty, or this node was written off for a while. */
  private async reconcile(): Promise<void> {
    const { state, nodeId, presenceTtlMs } = this.ctx.o;
    const fenced = this.fenced;
    this.fenced = false;
    log.warn('busk', fenced ? 'State is reachable again after this node was written off: reconciling' : 'this node\'s presence was missing from State (restarted empty?): writing its busks and viewers back');
    // Ours in State but not held here (ended while State was unreachable): gone for good.
    for (const rec of await state.listBusks()) {
      if (rec.node === nodeId && !this.busks.get(rec.id)) await state.deleteBusk(rec.id);
    }
    for (const busk of this.busks.all()) {
      if (await state.wasEnded(busk.id)) {
        await this.busks.lose(busk, 'node-lost');
        continue;
      }
      await state.putBusk(busk.rec);
      await this.ctx.publishUpdated(busk.rec);
    }
    if (fenced) this.audience.reofferAllStale('state-lost');
    this.rewriteViewersUntil = Date.now() + presenceTtlMs;
    await this.rewriteViewers();
    // Viewers of busks whose owners had not written them back yet: once more shortly, not a beat later.
    setTimeout(() => { if (!this.stopped) this.rewriteViewers().catch(() => {}); }, 500).unref();
  }

  /** Local viewers' entries, for busks that are in State (idempotent; their owners may write them back later). */
  private async rewriteViewers(): Promise<void> {
    const { state, nodeId } = this.ctx.o;
    const exists = new Map<string, boolean>();
    for (const v of this.audience.all()) {
      if (v.stale || !v.endpoint) continue;
      if (!exists.has(v.buskId)) exists.set(v.buskId, (await state.getBusk(v.buskId)) !== null);
      if (!exists.get(v.buskId)) continue;
      const before = await state.viewerCount(v.buskId);
      const after = await state.setViewer(v.buskId, v.sessionId, { node: nodeId, user: v.userId, endpointId: v.endpoint.id });
      if (after !== before) this.ctx.countChanged(v.buskId);
    }
  }

  /** Adopts a busk whose presenter dropped on another node and came back here. */
  async takeOver(rec: BuskRecord, sessionId: string): Promise<Busk> {
    const { state, media, bus, nodeId } = this.ctx.o;
    if (!(await state.claim(`takeover:${rec.id}`, TAKEOVER_CLAIM_MS))) throw new AppError('conflict', 'the busk is being taken over; retry');
    const busk = new Busk({ ...rec, node: nodeId, presenterSession: sessionId, presenterEndpointId: null }, this.ctx);
    if (rec.kmsUrl && rec.pipelineId) {
      const srv = media.server(rec.kmsUrl);
      // The pipeline now belongs to this node: it releases it when the busk ends.
      if (srv) busk.pipeline = await srv.adoptPipeline(rec.pipelineId).catch(() => null);
    }
    this.busks.add(busk);
    await state.updateBusk(rec.id, { node: nodeId, presenterSession: sessionId, presenterEndpointId: null });
    bus.control({ type: 'busk-moved', buskId: rec.id, node: nodeId, oldEndpointId: rec.presenterEndpointId });
    return busk;
  }

  async onControl(m: ControlMessage): Promise<void> {
    if (this.stopped) return;
    const id = m.buskId;
    switch (m.type) {
      case 'busk-ended':
        this.audience.dropBusk(id);
        break;
      case 'busk-moved': {
        // Another node adopted this busk (its presenter came back there): hand it over without releasing media.
        const busk = this.busks.get(id);
        if (busk && m.node !== this.ctx.nodeId) {
          busk.handOver();
          this.busks.remove(busk);
        }
        this.audience.forgetSource(id);
        break;
      }
      case 'busk-reset':
        this.audience.reset(id);
        break;
      case 'reoffer-viewers':
        this.audience.reofferStale(id);
        break;
    }
  }

  /** Ends busks of nodes whose presence expired, and forgets their viewers. */
  private async sweep(): Promise<void> {
    if (this.sweeping || this.stopped) return;
    this.sweeping = true;
    try {
      const { state, nodeId } = this.ctx.o;
      const alive = new Map<string, boolean>([[nodeId, true]]);
      const isAlive = async (n: string) => {
        if (!alive.has(n)) alive.set(n, await state.isNodeAlive(n));
        return alive.get(n)!;
      };
      for (const rec of await state.listBusks()) {
        if (await isAlive(rec.node)) await this.sweepViewers(rec, isAlive);
        else await this.endOrphan(rec);
      }
    } finally {
      this.sweeping = false;
    }
  }

  /** The busk's node is gone: release its pipeline (every endpoint with it) and end it for everyone. */
  private async endOrphan(rec: BuskRecord): Promise<void> {
    const { state, media, metrics } = this.ctx.o;
    if (!(await state.claim(`sweep:${rec.id}`, SWEEP_CLAIM_MS))) return;
    log.warn('busk', `node ${rec.node} is gone: ending its busk ${rec.id}`);
    this.audience.dropBusk(rec.id);
    // Marked first: a node that was only cut off learns from it, when it is back, that its busk ended.
    await state.markEnded(rec.id, ENDED_MARK_MS);
    if (rec.kmsUrl && rec.pipelineId) await media.server(rec.kmsUrl)?.releaseById(rec.pipelineId);
    await state.deleteBusk(rec.id);
    metrics.busksEnded.inc({ reason: 'node-lost' });
    this.ctx.announceEnded(rec.id, 'node-lost');
  }

  /** Viewers whose node is gone: their endpoints released, their entries removed. */
  private async sweepViewers(rec: BuskRecord, isAlive: (node: string) => Promise<boolean>): Promise<void> {
    const { state, media } = this.ctx.o;
    let changed = false;
    for (const [sid, v] of Object.entries(await state.viewers(rec.id))) {
      if (await isAlive(v.node)) continue;
      if (v.endpointId && rec.kmsUrl) await media.server(rec.kmsUrl)?.releaseById(v.endpointId);
      if ((await state.removeViewer(rec.id, sid)) !== null) changed = true;
    }
    if (changed) this.ctx.countChanged(rec.id);
  }
}
