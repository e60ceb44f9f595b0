// Fixed-window frame counter: cheap (two numbers per session). The session uses it for
// backpressure: a frame over the window's budget waits (and the socket is paused) until the next
// window, it is not refused.
export class RateLimiter {
  private windowStart = 0;
  private count = 0;

  constructor(private readonly limit: number, private readonly windowMs: number) {}

  /** Counts one event; false when the window's budget is exceeded (the event is not counted then). */
  take(now: number): boolean {
    if (this.limit <= 0) return true;
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.count = 0;
    }
    if (this.count >= this.limit) return false;
    this.count++;
    return true;
  }

  /** Milliseconds until the current window ends (and take() succeeds again). */
  msUntilNextWindow(now: number): number {
    return Math.max(0, this.windowStart + this.windowMs - now);
  }
}
