// Typed STOMP frames. Headers are a plain map: STOMP 1.2 says that when a header repeats only the
// first occurrence counts, so the parser keeps the first and the map never needs arrays.

export type ClientCommand =
  | 'CONNECT' | 'STOMP' | 'SEND' | 'SUBSCRIBE' | 'UNSUBSCRIBE' | 'ACK' | 'NACK'
  | 'BEGIN' | 'COMMIT' | 'ABORT' | 'DISCONNECT';
export type ServerCommand = 'CONNECTED' | 'MESSAGE' | 'RECEIPT' | 'ERROR';
export type Command = ClientCommand | ServerCommand;

export const CLIENT_COMMANDS: ReadonlySet<string> = new Set<ClientCommand>([
  'CONNECT', 'STOMP', 'SEND', 'SUBSCRIBE', 'UNSUBSCRIBE', 'ACK', 'NACK', 'BEGIN', 'COMMIT', 'ABORT', 'DISCONNECT',
]);

/** Only SEND, MESSAGE and ERROR may carry a body. */
export const BODY_COMMANDS: ReadonlySet<string> = new Set(['SEND', 'MESSAGE', 'ERROR']);

export type Headers = Record<string, string>;

/** A frame as it came off the wire: the command is not validated yet (the session does that). */
export interface Frame {
  command: string;
  headers: Headers;
  body: Buffer;
}

export type StompVersion = '1.0' | '1.1' | '1.2';
export const SUPPORTED_VERSIONS: readonly StompVersion[] = ['1.2', '1.1', '1.0'];

/**
 * How header names and values are escaped on the wire. 1.0 has no escaping; 1.1 escapes \n \c \\;
 * 1.2 adds \r. CONNECT and CONNECTED are never escaped (so old clients can still read them).
 */
export type EscapeMode = 'none' | 'v11' | 'v12';

export function escapeModeFor(version: StompVersion): EscapeMode {
  return version === '1.0' ? 'none' : version === '1.1' ? 'v11' : 'v12';
}

/** Null-prototype header map: a header named `__proto__` must stay a header. */
export function newHeaders(): Headers {
  return Object.create(null) as Headers;
}
