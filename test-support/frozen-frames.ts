// Viewers' frozen time as the people watching would see it: each viewer's decoded-frame count is
// sampled every 100 ms, and an interval in which it did not advance, once that viewer had decoded
// its first frame, was frozen. Used by the flapping-presenter chaos scenario (bench/lib/chaos-flapping.ts)
// and its test (signaling/test/chaos/flapping.test.ts).

/** A viewer's decoded frames so far; must not go down (see `decodedFrames` for a viewer that reoffers). */
export type FrameCounter = () => Promise<number>;

interface Sample { t: number; frames: number }

/**
 * Frames decoded by a viewer across its peer connections: a reoffer replaces `peer` and the new one
 * counts from 0, which must not read as the picture going back in time.
 */
export function decodedFrames(viewer: { peer: { frames(): Promise<number> } }): FrameCounter {
  let peer = viewer.peer;
  let before = 0;
  let current = 0;
  return async () => {
    if (viewer.peer !== peer) { before += current; current = 0; peer = viewer.peer; }
    const p = peer;
    const n = await p.frames();
    if (p === peer) current = Math.max(current, n);
    return before + current;
  };
}

export class FreezeMeter {
  private readonly samples: Sample[][];
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly counters: FrameCounter[], private readonly intervalMs = 100) {
    this.samples = counters.map(() => []);
  }

  /** Samples every viewer every `intervalMs` (all at once; a slow round delays the next, never overlaps it). */
  start(): void {
    this.running ??= (async () => {
      while (!this.stopped) {
        const round = Date.now();
        await Promise.all(this.counters.map(async (count, i) => {
          const frames = await count().catch(() => null);
          if (frames !== null) this.samples[i]!.push({ t: Date.now(), frames });
        }));
        await new Promise((r) => setTimeout(r, Math.max(0, this.intervalMs - (Date.now() - round))));
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  get viewers(): number { return this.counters.length; }

  /** Ms viewer `i` was frozen within [from, to) (Date.now() times). */
  frozenMs(i: number, from = 0, to = Infinity): number {
    let ms = 0;
    const s = this.samples[i]!;
    for (let k = 1; k < s.length; k++) {
      const a = s[k - 1]!;
      const b = s[k]!;
      if (a.frames === 0 || b.frames > a.frames) continue;
      ms += Math.max(0, Math.min(b.t, to) - Math.max(a.t, from));
    }
    return ms;
  }

  /** Ms from `t` until viewer `i`'s count advanced in a sample interval that began at or after `t`; null if not yet. */
  advancedAfter(i: number, t: number): number | null {
    const s = this.samples[i]!;
    for (let k = 1; k < s.length; k++) {
      if (s[k - 1]!.t >= t && s[k]!.frames > s[k - 1]!.frames) return s[k]!.t - t;
    }
    return null;
  }

  /**
   * Ms from `t` until viewer `i`'s picture moved again for good within [t, until): the end of the
   * last freeze of `gapMs` or more in that span (after a drop, a few seconds of frames can come back,
   * play and stop again while the viewer waits for a keyframe), or the first frame after `t` if none.
   * Null if no frame came after `t`, or the picture is still frozen at `until`.
   */
  playingAgainAfter(i: number, t: number, until = Infinity, gapMs = 500): number | null {
    const s = this.samples[i]!;
    let movedAt: number | null = null;
    let stillSince: number | null = null;
    let last = t;
    for (let k = 1; k < s.length; k++) {
      const a = s[k - 1]!;
      const b = s[k]!;
      if (a.t < t) continue;
      if (b.t > until) break;
      last = b.t;
      if (b.frames > a.frames) {
        if (movedAt === null || (stillSince !== null && b.t - stillSince >= gapMs)) movedAt = b.t;
        stillSince = null;
      } else {
        stillSince ??= a.t;
      }
    }
    if (movedAt === null || (stillSince !== null && last - stillSince >= gapMs)) return null;
    return movedAt - t;
  }

  /** Last sampled count of viewer `i`. */
  frames(i: number): number { return this.samples[i]!.at(-1)?.frames ?? 0; }
}
