// Media flow detection as KMS does it: a kind is "flowing" while packets keep arriving, and stops
// flowing after ~1.5 s without any. The hot path only increments a counter; a coarse timer compares.
import type { MediaKind } from './types';

const KINDS: readonly MediaKind[] = ['audio', 'video'];

export class FlowMonitor {
  readonly counts = { audio: 0, video: 0 };
  private seen = { audio: 0, video: 0 };
  private idleTicks = { audio: 0, video: 0 };
  private flowing = { audio: false, video: false };

  constructor(private readonly onChange: (kind: MediaKind, flowing: boolean) => void, private readonly ticksToStop = 3) {}

  /** Hot path: one packet of `kind`. Goes FLOWING at once on the first packet. */
  packet(kind: MediaKind): void {
    this.counts[kind]++;
    if (!this.flowing[kind]) {
      this.flowing[kind] = true;
      this.seen[kind] = this.counts[kind];
      this.idleTicks[kind] = 0;
      this.onChange(kind, true);
    }
  }

  /** Called every ~500 ms. */
  tick(): void {
    for (const k of KINDS) {
      if (!this.flowing[k]) continue;
      if (this.counts[k] !== this.seen[k]) {
        this.seen[k] = this.counts[k];
        this.idleTicks[k] = 0;
      } else if (++this.idleTicks[k] >= this.ticksToStop) {
        this.stop(k);
      }
    }
  }

  /** Forces NOT_FLOWING now (source released, peer closing). */
  stop(kind: MediaKind): void {
    if (!this.flowing[kind]) return;
    this.flowing[kind] = false;
    this.idleTicks[kind] = 0;
    this.onChange(kind, false);
  }

  isFlowing(kind: MediaKind): boolean {
    return this.flowing[kind];
  }
}
