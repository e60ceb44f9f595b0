// A clock for the broker (BrokerOptions.clock) that moves only when the test says so: heart-beat,
// timeout and rate-window tests advance it instead of sleeping. Sockets stay real; only the
// broker's notion of time is fake.
import type { Clock, TimerHandle } from '../../src/stomp/clock';

interface Timer extends TimerHandle {
  at: number;
  every: number; // 0: one-shot
  fn: () => void;
  seq: number;
}

export class FakeClock implements Clock {
  private t: number;
  private seq = 0;
  private readonly timers = new Set<Timer>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, 0);
  }

  setInterval(fn: () => void, ms: number): TimerHandle {
    return this.add(fn, ms, Math.max(1, ms));
  }

  clearTimeout(t: TimerHandle): void {
    this.timers.delete(t as Timer);
  }

  clearInterval(t: TimerHandle): void {
    this.timers.delete(t as Timer);
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: Timer | undefined;
      for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.seq < next.seq))) next = x;
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.every > 0) next.at += next.every;
      else this.timers.delete(next);
      next.fn();
    }
    this.t = end;
  }

  /** Advances in steps of `stepMs`, letting socket I/O run between steps (await it). */
  async advanceAsync(ms: number, stepMs = 50): Promise<void> {
    for (let done = 0; done < ms; done += stepMs) {
      this.advance(Math.min(stepMs, ms - done));
      await new Promise((r) => setImmediate(r));
    }
  }

  private add(fn: () => void, ms: number, every: number): Timer {
    const t: Timer = { at: this.t + Math.max(0, ms), every, fn, seq: ++this.seq };
    this.timers.add(t);
    return t;
  }
}
