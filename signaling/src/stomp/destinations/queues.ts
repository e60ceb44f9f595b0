// /queue/...: each message goes to one consumer, round-robin. Semantics follow RabbitMQ's STOMP
// adapter: a message waits in the queue while no consumer can take it (none subscribed, or all at
// their unacked limit, like AMQP prefetch); a NACKed message, or one still unacked when its
// consumer unsubscribes or disconnects, goes back to the head of the queue and is redelivered with
// `redelivered:true` — to another consumer when there is one.
import type { Message } from './message';
import type { Subscription } from './subscription';

export interface QueueHooks {
  maxDepth: () => number;
  /** A message was dropped because the queue was full. */
  onDrop: (msg: Message) => void;
}

class Queue {
  readonly consumers: Subscription[] = [];
  readonly waiting: Message[] = [];
  private next = 0;

  constructor(readonly key: string, private readonly hooks: QueueHooks) {}

  enqueue(msg: Message, front = false): void {
    if (front) this.waiting.unshift(msg);
    else {
      if (this.waiting.length >= this.hooks.maxDepth()) this.hooks.onDrop(this.waiting.shift()!);
      this.waiting.push(msg);
    }
  }

  /** Hands waiting messages to consumers that can take them. `avoid` gets one only if nobody else can. */
  drain(avoid?: Subscription): void {
    while (this.waiting.length > 0) {
      const sub = this.pick(avoid);
      if (!sub) return;
      const msg = this.waiting.shift()!;
      if (!sub.session.deliver(sub, msg)) this.waiting.unshift(msg);
    }
  }

  private pick(avoid?: Subscription): Subscription | undefined {
    const n = this.consumers.length;
    let fallback: Subscription | undefined;
    for (let k = 0; k < n; k++) {
      const i = (this.next + k) % n;
      const sub = this.consumers[i];
      if (!sub.session.canTake(sub)) continue;
      if (sub === avoid) {
        fallback = sub;
        continue;
      }
      this.next = (i + 1) % n;
      return sub;
    }
    return fallback;
  }
}

export class QueueRegistry {
  private readonly queues = new Map<string, Queue>();

  constructor(private readonly hooks: QueueHooks) {}

  private get(key: string): Queue {
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = new Queue(key, this.hooks)));
    return q;
  }

  add(sub: Subscription): void {
    const q = this.get(sub.key);
    q.consumers.push(sub);
    q.drain();
  }

  /** Removes a consumer; its unacked messages are redelivered to the others (or wait). */
  remove(sub: Subscription, unacked: Message[]): void {
    const q = this.queues.get(sub.key);
    if (!q) return;
    const i = q.consumers.indexOf(sub);
    if (i >= 0) q.consumers.splice(i, 1);
    this.requeue(sub.key, unacked);
    if (q.consumers.length === 0 && q.waiting.length === 0) this.queues.delete(sub.key);
  }

  publish(key: string, msg: Message): void {
    const q = this.get(key);
    q.enqueue(msg);
    q.drain();
  }

  /** Puts messages back at the head (in their order) and redelivers them, preferring not `avoid`. */
  requeue(key: string, msgs: Message[], avoid?: Subscription): void {
    if (msgs.length === 0) return;
    const q = this.get(key);
    for (let i = msgs.length - 1; i >= 0; i--) {
      msgs[i].redelivered = true;
      q.enqueue(msgs[i], true);
    }
    q.drain(avoid);
  }

  /** A consumer got capacity back (it acked): let its queue continue. */
  resume(key: string): void {
    this.queues.get(key)?.drain();
  }

  /** Messages waiting in all queues. */
  get waiting(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.waiting.length;
    return n;
  }

  depth(key: string): number {
    return this.queues.get(key)?.waiting.length ?? 0;
  }
}
