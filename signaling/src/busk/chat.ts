// Per-session sliding-window rate limit for chat (CHAT_RATE).
export class RateLimiter {
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
