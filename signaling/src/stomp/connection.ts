// What a session needs from its transport. ws.ts and tcp.ts implement it; the session never sees
// a socket directly, so both transports share every line of protocol handling.
import type { TransportKind } from './types';

export interface Connection {
  readonly transport: TransportKind;
  readonly remoteAddress?: string;
  /** True when a frame must go out as one buffer (WebSocket: one message per frame). */
  readonly wholeFrames: boolean;
  /** Writes one frame (or a heart-beat EOL). `binary`: WebSocket binary message rather than text. */
  write(data: Buffer, binary: boolean): void;
  /** Writes one frame given in two parts (MESSAGE prefix + shared tail) without re-serializing. */
  writeParts(head: Buffer, tail: Buffer, binary: boolean): void;
  /** Bytes accepted but not yet on the wire (slow-consumer detection). */
  bufferedBytes(): number;
  /** Stops reading from the peer (backpressure): TCP flow control then slows the sender down.
   *  Data already read may still be delivered to the handler. */
  pause(): void;
  /** Reads again after pause(). */
  resume(): void;
  /** Largest message the transport reads before handing it over (WebSocket buffers whole messages):
   *  small until CONNECTED, so an unauthenticated socket cannot make it hold much. Optional. */
  setMaxMessageBytes?(n: number): void;
  /** Closes after what was written has been flushed. */
  end(): void;
  /** Closes now. */
  destroy(): void;
}

/** Called by the transport. */
export interface ConnectionHandler {
  onData(chunk: Buffer, binary: boolean): void;
  onClosed(): void;
}

/** What a transport needs from the broker: admission (connection caps) before any STOMP, then a handler. */
export interface Acceptor {
  /** Whether one more socket from this client address may open; false: refuse it now. */
  admit(address: string | undefined): boolean;
  accept(c: Connection): ConnectionHandler;
  /** Reverse proxies whose X-Forwarded-For names the client (WebSocket). */
  readonly trustedProxies: ReadonlySet<string>;
}
