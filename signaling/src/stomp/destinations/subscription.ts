// One SUBSCRIBE of one session, and the deliveries it has not acknowledged yet.
import type { Session } from '../session';
import type { Message } from './message';
import { EscapeMode } from '../frame';
import { escapeHeader } from '../escape';

export type AckMode = 'auto' | 'client' | 'client-individual';
export type DestinationKind = 'topic' | 'queue' | 'user';

/** A MESSAGE written to a non-auto subscription, waiting for ACK or NACK. */
export interface Delivery {
  ackId: string;
  message: Message;
  sub: Subscription;
}

export class Subscription {
  /** Unacknowledged deliveries in delivery order, by message id (client mode acks cumulatively). */
  readonly pending = new Map<string, Delivery>();
  /** "MESSAGE\nsubscription:<id>\n", cached: the only per-subscriber bytes of an auto-ack MESSAGE. */
  readonly prefix: Buffer;
  private escapedId: string;

  constructor(
    readonly session: Session,
    readonly id: string,
    /** As the client subscribed (/topic/a, /queue/b, /user/queue/c). */
    readonly destination: string,
    readonly kind: DestinationKind,
    /** Routing key: the destination, or for /user subscriptions the part after /user. */
    readonly key: string,
    readonly ack: AckMode,
    mode: EscapeMode,
  ) {
    this.escapedId = escapeHeader(id, mode);
    this.prefix = Buffer.from('MESSAGE\nsubscription:' + this.escapedId + '\n');
  }

  /** Prefix for a delivery that needs an ack header and/or the redelivered marker. */
  prefixWith(ackId: string | null, redelivered: boolean): Buffer {
    let s = 'MESSAGE\nsubscription:' + this.escapedId + '\n';
    if (ackId !== null) s += 'ack:' + ackId + '\n';
    if (redelivered) s += 'redelivered:true\n';
    return Buffer.from(s);
  }
}
