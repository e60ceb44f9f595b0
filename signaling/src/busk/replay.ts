// Chat replay reaches exactly one subscription: the new subscriber's /topic/busk.{id}.chat. The
// broker's public API does that (Broker.sendToSubscription); nothing here touches broker internals.
//
// Cross-node: the broker's 'subscribe' event fires on the node that holds the subscribing session,
// and the history comes from State (shared through Redis), so the replay is always local: no bus.

/** The one broker call replay needs (signaling/src/stomp Broker). */
export interface SubscriptionDelivery {
  sendToSubscription(sessionId: string, subscriptionId: string, body: string | Buffer, headers?: Record<string, string>): boolean | void;
}

export const REPLAY_HEADERS: Readonly<Record<string, string>> = Object.freeze({ replay: 'true', 'content-type': 'application/json' });

/**
 * Delivers history (JSON bodies, oldest first) to one subscription of one session, each message
 * with `replay: true`. Returns how many were delivered (0 when the session or subscription is gone).
 */
export function replayToSubscription(broker: SubscriptionDelivery, sessionId: string, subscriptionId: string, bodies: readonly string[]): number {
  let n = 0;
  for (const body of bodies) {
    if (broker.sendToSubscription(sessionId, subscriptionId, body, { ...REPLAY_HEADERS }) === false) break;
    n++;
  }
  return n;
}
