// Several signaling nodes on one Redis: this node's presence, the sweep that cleans up after nodes
// that died, the takeover of a busk whose presenter comes back on this node, and the control events
// the nodes exchange (signaling/src/protocol ControlMessage).
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
  add(busk: Busk): void;
  remove(busk: Busk): void;
}

/** How long one node may hold a busk's takeover (its presenter is back here) or a dead node's sweep. */
const TAKEOVER_CLAIM_MS = 5000;
const SWEEP_CLAIM_MS = 30000;

export class Cluster {
  private presenceTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  private stopped = false;

  constructor(private readonly ctx: BuskContext, private readonly busks: LocalBusks, private readonly audience: Audience) {}

  /** Presence in State, refreshed at a third of its TTL, and a sweep each time (Redis only). */
  start(): void {
    const o = this.ctx.o;
    if (o.state.kind !== 'redis') return;
    const beat = () => {
      o.state.nodeAlive(o.nodeId, o.presenceTtlMs).catch(() => {});
      this.sweep().catch((e) => log.warn('busk', 'sweep failed', e));
    };
    beat();
    this.presenceTimer = setInterval(beat, Math.max(100, Math.floor(o.presenceTtlMs / 3)));
  }

  stop(): void {
    this.stopped = true;
    if (this.presenceTimer) clearInterval(this.presenceTimer);
    this.presenceTimer = null;
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
