// One sliding-window limiter for the per-user limits of the app (chat, pin moves, comments on shorts); the
// broker's per-session frame limit is its own (stomp/ratelimit.ts), so stomp/ depends on nothing here.
const PRUNE_AT = 10000;

/** Sliding-window limit per key (a chat sender for CHAT_RATE, a user for COMMENT_RATE). */
export class KeyedRateLimit {
  private hits = new Map<string, number[]>();

  constructor(private readonly count: number, private readonly windowMs: number) {}

  /** True when `key` may act now (and records the hit). */
  take(key: string, now = Date.now()): boolean {
    // Keys are users and client addresses, which come and go: forget the idle ones now and then.
    if (this.hits.size >= PRUNE_AT) this.prune(now);
    const l = (this.hits.get(key) ?? []).filter((t) => now - t < this.windowMs);
    if (l.length >= this.count) {
      this.hits.set(key, l);
      return false;
    }
    l.push(now);
    this.hits.set(key, l);
    return true;
  }

  forget(key: string): void {
    this.hits.delete(key);
  }

  private prune(now: number): void {
    for (const [k, l] of this.hits) if (!l.length || now - l[l.length - 1] >= this.windowMs) this.hits.delete(k);
  }
}
