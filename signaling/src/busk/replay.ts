// Chat replay must reach exactly one subscription: the new subscriber's /topic/busk.{id}.chat.
// The broker's public API has publish (everyone), sendToUser and sendToSession (/user/... only),
// so until it offers sendToSubscription(sessionId, subscriptionId, body, headers) we deliver through
// the Session object the 'subscribe' event hands us, with the broker's own Message type. This is
// the only place that touches broker internals; it falls back to /user/queue/busk.{id}.chat.
import crypto from 'node:crypto';
import { Message } from '../stomp/destinations/message';
import type { SessionInfo } from '../stomp/types';

interface SessionInternals {
  subscriptions?: Map<string, { destination?: string }>;
  deliver?(sub: unknown, msg: Message): boolean;
}

export function deliverToSubscription(session: SessionInfo, subscriptionId: string, destination: string, json: string, headers: Record<string, string>): boolean {
  const s = session as unknown as SessionInternals;
  const sub = s.subscriptions?.get(subscriptionId);
  if (!sub || typeof s.deliver !== 'function') return false;
  const msg = new Message(`replay-${crypto.randomBytes(6).toString('hex')}`, destination, { 'content-type': 'application/json', ...headers }, Buffer.from(json, 'utf8'));
  return s.deliver.call(s, sub, msg);
}
