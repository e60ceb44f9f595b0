// /topic/...: every subscriber gets every message (fan-out).
import type { Message } from './message';
import type { Subscription } from './subscription';

export class TopicRegistry {
  private readonly byKey = new Map<string, Set<Subscription>>();

  add(sub: Subscription): void {
    let set = this.byKey.get(sub.key);
    if (!set) this.byKey.set(sub.key, (set = new Set()));
    set.add(sub);
  }

  remove(sub: Subscription): void {
    const set = this.byKey.get(sub.key);
    if (!set) return;
    set.delete(sub);
    if (set.size === 0) this.byKey.delete(sub.key);
  }

  /** Delivers to every subscriber; returns how many got it. */
  publish(key: string, msg: Message): number {
    const set = this.byKey.get(key);
    if (!set) return 0;
    let n = 0;
    for (const sub of set) if (sub.session.deliver(sub, msg)) n++;
    return n;
  }

  subscriberCount(key: string): number {
    return this.byKey.get(key)?.size ?? 0;
  }

  get size(): number {
    return this.byKey.size;
  }
}
