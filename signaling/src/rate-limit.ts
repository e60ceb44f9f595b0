// One sliding-window limiter for the per-user limits of the app (chat, comments on shorts); the
// broker's per-session frame limit is its own (stomp/ratelimit.ts), so stomp/ depends on nothing here.
/** Sliding-window limit per key (a chat sender for CHAT_RATE, a user for COMMENT_RATE). */
export class KeyedRateLimit {
  private hits = new Map<string, number[]>();

  constructor(private readonly count: number, private readonly windowMs: number) {}

  /** True when `key` may act now (and records the hit). */
  take(key: string, now = Date.now()): boolean {
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
}
