// Event subscriptions. As in KMS's WebSocketTransport, a session gets one copy of each event
// per (object, event type) however many subscriptions it holds for it; the listener stays until
// the last of them is removed, the object is released, or the session is forgotten.
import { randomUUID } from 'node:crypto';
import type { KmsEvent, MediaObject } from '../objects/media-object';

interface Listener {
  off: () => void;
  subscriptions: Set<string>;
}

interface Subscription {
  sessionId: string;
  objectId: string;
  listenerKey: string;
}

export class Subscriptions {
  private readonly listeners = new Map<string, Listener>();
  private readonly subscriptions = new Map<string, Subscription>();

  constructor(private readonly deliver: (sessionId: string, event: KmsEvent) => void) {}

  subscribe(sessionId: string, object: MediaObject, type: string): string {
    const listenerKey = `${sessionId}|${object.id}|${type}`;
    let listener = this.listeners.get(listenerKey);
    if (!listener) {
      const off = object.on(type, (event) => this.deliver(sessionId, event));
      listener = { off, subscriptions: new Set() };
      this.listeners.set(listenerKey, listener);
    }
    const id = randomUUID();
    listener.subscriptions.add(id);
    this.subscriptions.set(id, { sessionId, objectId: object.id, listenerKey });
    return id;
  }

  /** Unknown subscriptions are ignored, as in KMS. */
  unsubscribe(sessionId: string, subscriptionId: string): void {
    const sub = this.subscriptions.get(subscriptionId);
    if (!sub || sub.sessionId !== sessionId) return;
    this.remove(subscriptionId, sub);
  }

  /** Drops what a released object leaves behind (its emitter is already cleared). */
  objectReleased(objectId: string): void {
    for (const [id, sub] of this.subscriptions) if (sub.objectId === objectId) this.remove(id, sub);
  }

  sessionForgotten(sessionId: string): void {
    for (const [id, sub] of this.subscriptions) if (sub.sessionId === sessionId) this.remove(id, sub);
  }

  get size(): number {
    return this.subscriptions.size;
  }

  private remove(id: string, sub: Subscription): void {
    this.subscriptions.delete(id);
    const listener = this.listeners.get(sub.listenerKey);
    if (!listener) return;
    listener.subscriptions.delete(id);
    if (listener.subscriptions.size === 0) {
      listener.off();
      this.listeners.delete(sub.listenerKey);
    }
  }
}
