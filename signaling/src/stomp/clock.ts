// The broker's one source of time. Sessions, heart-beats, rate windows and timeouts read the time
// and set timers only through a Clock, so a test can hand the broker a fake one and move time by
// hand instead of sleeping (signaling/test/stomp/fake-clock.ts).

export interface TimerHandle {
  /** Whether the process may exit while this timer is pending (Node's unref). */
  unref?(): void;
}

export interface Clock {
  /** Milliseconds since the epoch, like Date.now(). */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(t: TimerHandle): void;
  setInterval(fn: () => void, ms: number): TimerHandle;
  clearInterval(t: TimerHandle): void;
}

/** The wall clock and Node's timers (the default). */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as NodeJS.Timeout),
};
