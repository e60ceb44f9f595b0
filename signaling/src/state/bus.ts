// Server-originated STOMP messages and cross-node control events. The broker knows nothing of Redis;
// busk/ sends through a Bus. Local delivery is always direct (no Redis round trip on the hot path:
// an answer to a session on this node never leaves the process); other nodes get the message over
// Redis pub/sub and deliver it to their own broker.
import { EventEmitter } from 'node:events';
import type { RedisClient } from './redis';

import type { ControlMessage } from '../protocol';

export type { ControlMessage };

/** The broker a Bus delivers to (its local one): the three delivery calls and a session lookup. */
export interface BusTarget {
  publish(destination: string, body: string | Buffer, headers?: Record<string, string>): void;
  sendToUser(userId: string, destination: string, body: string | Buffer, headers?: Record<string, string>): void;
  sendToSession(sessionId: string, destination: string, body: string | Buffer, headers?: Record<string, string>): void;
  session(id: string): unknown;
}

export interface Bus extends EventEmitter {
  publish(destination: string, body: string): void;
  sendToUser(userId: string, destination: string, body: string): void;
  sendToSession(sessionId: string, destination: string, body: string): void;
  /** Delivered to every node's 'control' listeners, this one included (synchronously here). */
  control(msg: ControlMessage): void;
  close(): Promise<void>;
}

/** Every server message is JSON (PROTOCOL.md). */
const JSON_HEADERS = Object.freeze({ 'content-type': 'application/json' }) as Record<string, string>;

export class LocalBus extends EventEmitter implements Bus {
  constructor(private readonly broker: BusTarget) { super(); }
  publish(d: string, b: string) { this.broker.publish(d, b, JSON_HEADERS); }
  sendToUser(u: string, d: string, b: string) { this.broker.sendToUser(u, d, b, JSON_HEADERS); }
  sendToSession(s: string, d: string, b: string) { this.broker.sendToSession(s, d, b, JSON_HEADERS); }
  control(msg: ControlMessage) { this.emit('control', msg); }
  async close() {}
}

interface Envelope {
  o: string; // origin node
  k: 'p' | 'u' | 's' | 'c';
  t?: string; // user or session
  d?: string;
  b?: string;
  c?: ControlMessage;
}

export class RedisBus extends EventEmitter implements Bus {
  private readonly channel: string;

  private constructor(private readonly broker: BusTarget, private readonly pub: RedisClient, private readonly sub: RedisClient, private readonly nodeId: string, prefix: string) {
    super();
    this.channel = `${prefix}bus`;
  }

  static async create(broker: BusTarget, client: RedisClient, nodeId: string, prefix = 'busking:'): Promise<RedisBus> {
    const sub = client.duplicate();
    sub.on('error', () => {});
    await sub.connect();
    const bus = new RedisBus(broker, client, sub, nodeId, prefix);
    await sub.subscribe(bus.channel, (raw) => bus.onMessage(raw));
    return bus;
  }

  private onMessage(raw: string) {
    let e: Envelope;
    try {
      e = JSON.parse(raw) as Envelope;
    } catch {
      return;
    }
    if (e.o === this.nodeId) return; // delivered locally already
    switch (e.k) {
      case 'p': this.broker.publish(e.d!, e.b!, JSON_HEADERS); break;
      case 'u': this.broker.sendToUser(e.t!, e.d!, e.b!, JSON_HEADERS); break;
      case 's': if (this.broker.session(e.t!)) this.broker.sendToSession(e.t!, e.d!, e.b!, JSON_HEADERS); break;
      case 'c': this.emit('control', e.c); break;
    }
  }

  private send(e: Omit<Envelope, 'o'>) {
    this.pub.publish(this.channel, JSON.stringify({ o: this.nodeId, ...e })).catch(() => { /* Redis down: readiness reports it */ });
  }

  publish(d: string, b: string) { this.broker.publish(d, b, JSON_HEADERS); this.send({ k: 'p', d, b }); }
  sendToUser(u: string, d: string, b: string) { this.broker.sendToUser(u, d, b, JSON_HEADERS); this.send({ k: 'u', t: u, d, b }); }
  sendToSession(s: string, d: string, b: string) {
    if (this.broker.session(s)) this.broker.sendToSession(s, d, b, JSON_HEADERS);
    else this.send({ k: 's', t: s, d, b });
  }
  control(msg: ControlMessage) { this.emit('control', msg); this.send({ k: 'c', c: msg }); }

  async close() {
    if (this.sub.isOpen) await this.sub.quit().catch(() => this.sub.disconnect());
  }
}
