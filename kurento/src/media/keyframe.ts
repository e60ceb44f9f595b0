// Keyframe requests from many sinks collapse into at most one upstream request per interval.
// A request that arrives inside the interval is not dropped but deferred to the end of it, so a
// late joiner always gets its keyframe (KMS behaves the same way: it throttles, it does not ignore).
export class KeyframeLimiter {
  private last = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly send: () => void, private readonly intervalMs = 400) {}

  request(): void {
    if (this.timer) return; // one already scheduled
    const wait = this.last + this.intervalMs - Date.now();
    if (wait <= 0) {
      this.fire();
      return;
    }
    this.timer = setTimeout(() => { this.timer = null; this.fire(); }, wait);
    this.timer.unref();
  }

  private fire(): void {
    this.last = Date.now();
    try { this.send(); } catch { /* transport gone: nothing to do */ }
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
