// The sidecar's buffer while the broker is away: bounded, oldest dropped first (the newest events
// say most about the present), drops counted so ops can see that something was lost.

export interface Sequenced<T> { seq: number; item: T }

export class BoundedQueue<T> {
  private items: Array<Sequenced<T>> = [];
  private nextSeq = 1;
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!(capacity > 0)) throw new Error('BoundedQueue capacity must be > 0');
  }

  push(item: T): number {
    const seq = this.nextSeq++;
    this.items.push({ seq, item });
    if (this.items.length > this.capacity) {
      const over = this.items.length - this.capacity;
      this.items.splice(0, over);
      this.dropped += over;
    }
    return seq;
  }

  /** The oldest `n` entries, left in place until acknowledged. */
  peek(n: number): Array<Sequenced<T>> {
    return this.items.slice(0, n);
  }

  /** Removes everything up to and including `seq` (entries dropped meanwhile are already gone). */
  ackThrough(seq: number): void {
    let i = 0;
    while (i < this.items.length && this.items[i].seq <= seq) i++;
    if (i) this.items.splice(0, i);
  }

  get length(): number { return this.items.length; }
}
