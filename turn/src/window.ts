// Counts per minute over a sliding window, for "failures per minute" and windowed diagnoses.
// Buckets are keyed by the event's own time (the log's time when it has one), not by arrival.

export class MinuteCounter {
  private buckets = new Map<number, number>();
  constructor(private readonly keepMinutes = 60) {}

  add(atMs: number, n = 1): void {
    const minute = Math.floor(atMs / 60000);
    this.buckets.set(minute, (this.buckets.get(minute) ?? 0) + n);
    if (this.buckets.size > this.keepMinutes * 2) this.prune(minute);
  }

  /** Sum over the last `minutes` minutes up to `nowMs` (inclusive of the current minute). */
  sum(nowMs: number, minutes: number): number {
    const cur = Math.floor(nowMs / 60000);
    let total = 0;
    for (const [m, n] of this.buckets) if (m > cur - minutes && m <= cur) total += n;
    return total;
  }

  /** Oldest first, only minutes that had events, within the kept window. */
  series(nowMs: number): Array<{ minute: string; count: number }> {
    const cur = Math.floor(nowMs / 60000);
    this.prune(cur);
    return [...this.buckets.entries()].sort((a, b) => a[0] - b[0])
      .map(([m, count]) => ({ minute: new Date(m * 60000).toISOString(), count }));
  }

  private prune(currentMinute: number): void {
    for (const m of this.buckets.keys()) if (m <= currentMinute - this.keepMinutes) this.buckets.delete(m);
  }
}

/** A Map of counts that keeps at most `max` keys (drops the least recently bumped), so an attacker
 *  spraying random usernames cannot grow the monitor without bound. */
export class BoundedCounts {
  private map = new Map<string, number>();
  constructor(private readonly max = 500) {}
  add(key: string, n = 1): void {
    const v = (this.map.get(key) ?? 0) + n;
    this.map.delete(key);
    if (v > 0) this.map.set(key, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as string);
  }
  get(key: string): number { return this.map.get(key) ?? 0; }
  /** Largest first. */
  toObject(limit = 50): Record<string, number> {
    return Object.fromEntries([...this.map.entries()].sort((a, b) => b[1] - a[1]).slice(0, limit));
  }
  get size(): number { return this.map.size; }
}
