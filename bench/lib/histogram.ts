/**
 * Log-linear latency histogram in microseconds (HDR-style: 64 sub-buckets per power of two above 128 µs,
 * so every recorded value is kept within ~1.6 %). Small, mergeable across processes (plain arrays).
 */
const LINEAR = 128;
const SUB = 64;
const OCTAVES = 26; // up to 2^32 µs (over an hour)
export const HIST_SIZE = LINEAR + OCTAVES * SUB;

export function bucketOf(us: number): number {
  if (!(us > 0)) return 0;
  const v = us >= 4294967295 ? 4294967295 : Math.floor(us);
  if (v < LINEAR) return v;
  const shift = 31 - Math.clz32(v) - 6;
  return LINEAR + (shift - 1) * SUB + ((v >>> shift) - SUB);
}

/** Midpoint value (µs) of a bucket. */
export function valueOf(idx: number): number {
  if (idx < LINEAR) return idx + 0.5;
  const shift = Math.floor((idx - LINEAR) / SUB) + 1;
  const sub = ((idx - LINEAR) % SUB) + SUB;
  return (sub + 0.5) * 2 ** shift;
}

export class Histogram {
  counts = new Float64Array(HIST_SIZE);
  n = 0;
  sum = 0;
  max = 0;
  min = Infinity;

  record(us: number): void {
    this.counts[bucketOf(us)]++;
    this.n++;
    this.sum += us;
    if (us > this.max) this.max = us;
    if (us < this.min) this.min = us;
  }

  /** Sparse form for IPC. */
  toJSON(): SparseHistogram {
    const b: [number, number][] = [];
    for (let i = 0; i < HIST_SIZE; i++) if (this.counts[i]) b.push([i, this.counts[i]]);
    return { n: this.n, sum: this.sum, max: this.max, min: this.n ? this.min : 0, b };
  }

  merge(s: SparseHistogram): void {
    for (const [i, c] of s.b) this.counts[i] += c;
    this.n += s.n;
    this.sum += s.sum;
    if (s.max > this.max) this.max = s.max;
    if (s.n && s.min < this.min) this.min = s.min;
  }

  /** Percentile in microseconds (q in 0..100). */
  percentile(q: number): number {
    if (this.n === 0) return NaN;
    const target = Math.max(1, Math.ceil((q / 100) * this.n));
    let acc = 0;
    for (let i = 0; i < HIST_SIZE; i++) {
      acc += this.counts[i];
      if (acc >= target) return Math.min(valueOf(i), this.max);
    }
    return this.max;
  }

  mean(): number {
    return this.n ? this.sum / this.n : NaN;
  }
}

export interface SparseHistogram { n: number; sum: number; max: number; min: number; b: [number, number][] }
