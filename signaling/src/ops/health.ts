// Per-busk media health as ops see it: which busks are stalled and since when, their viewers, and
// how often their media was rebuilt (each rebuild asks the presenter and every viewer to reoffer).
// Read from the shared State, so the list covers the busks of every node.
import type { BuskRecord, MediaState, State } from '../state';

export interface BuskHealth {
  id: string;
  title: string;
  node: string;
  media: MediaState;
  /** Seconds the busk has been stalled, as seen by this node's polls; null when not stalled. */
  stalledForSeconds: number | null;
  viewers: number;
  /** Media rebuilds since this node started (busk-reset: presenter and viewers get `reoffer`). */
  reoffers: number;
}

const ORDER: Record<MediaState, number> = { stalled: 0, connecting: 1, flowing: 2 };

export class BuskHealthList {
  private stalledSince = new Map<string, number>();
  private reoffers = new Map<string, number>();
  private list: BuskHealth[] = [];
  private records: BuskRecord[] = [];

  constructor(private readonly state: State) {}

  /** A media rebuild of one busk (the bus's busk-reset control message). */
  noteReset(buskId: string): void {
    this.reoffers.set(buskId, (this.reoffers.get(buskId) ?? 0) + 1);
  }

  async refresh(nowMs: number): Promise<void> {
    const recs = await this.state.listBusks();
    const counts = await this.state.viewerCounts(recs.map((r) => r.id));
    const live = new Set(recs.map((r) => r.id));
    for (const id of this.stalledSince.keys()) if (!live.has(id)) this.stalledSince.delete(id);
    for (const id of this.reoffers.keys()) if (!live.has(id)) this.reoffers.delete(id);
    for (const r of recs) {
      if (r.media !== 'stalled') this.stalledSince.delete(r.id);
      else if (!this.stalledSince.has(r.id)) this.stalledSince.set(r.id, nowMs);
    }
    this.records = recs;
    this.list = recs.map((r, i) => ({
      id: r.id, title: r.title, node: r.node, media: r.media, viewers: counts[i] ?? 0, reoffers: this.reoffers.get(r.id) ?? 0,
      stalledForSeconds: this.stalledFor(r.id, nowMs),
    }));
  }

  private stalledFor(id: string, nowMs: number): number | null {
    const since = this.stalledSince.get(id);
    return since === undefined ? null : Math.max(0, Math.round((nowMs - since) / 1000));
  }

  /** Stalled first (longest first), then connecting, then flowing; most watched first within each. */
  busks(nowMs: number): BuskHealth[] {
    return this.list.map((b) => ({ ...b, stalledForSeconds: this.stalledFor(b.id, nowMs) }))
      .sort((a, b) => ORDER[a.media] - ORDER[b.media] || (b.stalledForSeconds ?? 0) - (a.stalledForSeconds ?? 0) || b.viewers - a.viewers);
  }

  /** This node's own busks only, so that summing over nodes counts each busk once. */
  ownStalled(nodeId: string, nowMs: number): { count: number; maxSeconds: number } {
    let count = 0;
    let max = 0;
    for (const r of this.records) {
      if (r.node !== nodeId) continue;
      const s = this.stalledFor(r.id, nowMs);
      if (s === null) continue;
      count++;
      max = Math.max(max, s);
    }
    return { count, maxSeconds: max };
  }

  get totals(): { busks: number; viewers: number } {
    return { busks: this.list.length, viewers: this.list.reduce((n, b) => n + b.viewers, 0) };
  }
}
