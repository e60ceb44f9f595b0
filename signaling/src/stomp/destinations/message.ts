// One published message, serialized for the wire once. Every subscriber receives
//   <per-subscription prefix> + <shared part>
// where the prefix is "MESSAGE\nsubscription:<id>\n" (plus ack/redelivered when needed) and the
// shared part holds message-id, destination, the publisher's headers, content-length, the body and
// the NUL. Fan-out to N subscribers therefore serializes the body once, not N times.
import { isUtf8 } from 'node:buffer';
import { EscapeMode } from '../frame';
import { escapeHeader } from '../escape';

/** Headers a publisher may not set on a MESSAGE: the broker owns them. */
const RESERVED = new Set(['message-id', 'destination', 'subscription', 'ack', 'content-length', 'receipt', 'transaction', 'redelivered']);

const RAW_UNSAFE_NAME = /[:\r\n]/;
const RAW_UNSAFE_VALUE = /[\r\n]/;

export class Message {
  /** Set when a /queue message goes out again after a NACK or a consumer's disconnect. */
  redelivered = false;
  /** Addressed to one subscription (sendToSubscription), not to its destination: a NACK or the
   *  consumer leaving drops it instead of putting it into a /queue for other consumers. */
  direct = false;
  /** True when the body is valid UTF-8 (may travel in a WebSocket text message). */
  readonly utf8: boolean;
  private readonly shared: [Buffer | undefined, Buffer | undefined, Buffer | undefined] = [undefined, undefined, undefined];
  // One-entry cache of a whole frame: subscribers of one destination very often use the same
  // subscription id (stompjs numbers them sub-0, sub-1, ... per connection), so consecutive
  // deliveries over WebSocket can share one buffer instead of joining prefix and tail each time.
  private fullPrefix: Buffer | null = null;
  private fullMode: EscapeMode | null = null;
  private fullBuf: Buffer | null = null;

  constructor(
    readonly id: string,
    /** The destination header subscribers see (for /user destinations: /user/queue/x). */
    readonly destination: string,
    readonly headers: Record<string, string>,
    readonly body: Buffer,
  ) {
    this.utf8 = body.length === 0 || isUtf8(body);
  }

  get size(): number {
    return this.body.length;
  }

  /** The shared tail of the MESSAGE frame for one escaping mode (built on first use). */
  tail(mode: EscapeMode): Buffer {
    const slot = mode === 'v12' ? 0 : mode === 'v11' ? 1 : 2;
    return this.shared[slot] ?? (this.shared[slot] = this.build(mode));
  }

  /** prefix + tail as one buffer, reusing the previous one when the prefix bytes are equal. */
  full(prefix: Buffer, mode: EscapeMode): Buffer {
    if (this.fullBuf !== null && this.fullMode === mode && (this.fullPrefix === prefix || this.fullPrefix!.equals(prefix))) {
      return this.fullBuf;
    }
    const tail = this.tail(mode);
    this.fullPrefix = prefix;
    this.fullMode = mode;
    return (this.fullBuf = Buffer.concat([prefix, tail], prefix.length + tail.length));
  }

  private build(mode: EscapeMode): Buffer {
    let head = 'message-id:' + escapeHeader(this.id, mode) + '\ndestination:' + escapeHeader(this.destination, mode) + '\n';
    for (const k in this.headers) {
      if (RESERVED.has(k)) continue;
      const v = this.headers[k];
      // STOMP 1.0 has no escaping: a header a 1.1/1.2 publisher sent with an (escaped) newline or a
      // colon in its name cannot be written raw; it would inject headers or end the frame early.
      if (mode === 'none' && (RAW_UNSAFE_NAME.test(k) || RAW_UNSAFE_VALUE.test(v))) continue;
      head += escapeHeader(k, mode) + ':' + escapeHeader(v, mode) + '\n';
    }
    // Always present, so a body with NUL bytes is safe for every client.
    head += 'content-length:' + this.body.length + '\n\n';
    const headLen = Buffer.byteLength(head);
    const out = Buffer.allocUnsafe(headLen + this.body.length + 1);
    out.write(head, 0, 'utf8');
    this.body.copy(out, headLen);
    out[out.length - 1] = 0;
    return out;
  }
}

/** Body and headers from the server-side API (publish/sendToUser/sendToSession). */
export function normalizeBody(body: string | Buffer | Uint8Array | object, headers: Record<string, string> | undefined): { body: Buffer; headers: Record<string, string> } {
  const h: Record<string, string> = { ...(headers ?? {}) };
  let b: Buffer;
  if (typeof body === 'string') {
    b = Buffer.from(body, 'utf8');
    if (!h['content-type']) h['content-type'] = 'text/plain;charset=utf-8';
  } else if (Buffer.isBuffer(body)) {
    b = body;
    if (!h['content-type']) h['content-type'] = 'application/octet-stream';
  } else if (body instanceof Uint8Array) {
    b = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    if (!h['content-type']) h['content-type'] = 'application/octet-stream';
  } else {
    // A plain object: sent as JSON (what the application sends almost always).
    b = Buffer.from(JSON.stringify(body), 'utf8');
    if (!h['content-type']) h['content-type'] = 'application/json';
  }
  return { body: b, headers: h };
}
