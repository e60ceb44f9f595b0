// Fixed-window frame counter: cheap (two numbers per session) and good enough to stop a flood.
export class RateLimiter {
  private windowStart = 0;
  private count = 0;

  constructor(private readonly limit: number, private readonly windowMs: number) {}

  /** Counts one event; false when the window's budget is exceeded. */
  take(now: number): boolean {
    if (this.limit <= 0) return true;
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    return ++this.count <= this.limit;
  }
}
