// Error types the broker and its users throw. Each carries a stable `code` so callers can react
// without matching on messages.

/** Codes of PROTOCOL.md, sent to a client on /user/queue/errors. */
export type AppErrorCode =
  | 'unauthorized' | 'forbidden' | 'not-found' | 'bad-request' | 'conflict' | 'rate-limited'
  | 'media-error' | 'unavailable' | (string & {});

/** Thrown (or rejected) by an app handler: reported to the sending session on /user/queue/errors. */
export class AppError extends Error {
  constructor(readonly code: AppErrorCode, message: string) {
    super(message);
    this.name = 'AppError';
  }
}

/** Thrown by an Authenticator: the session gets ERROR "unauthorized" and is closed. */
export class AuthError extends Error {
  readonly code = 'unauthorized';
  constructor(message: string) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Any error an authenticator throws that means "bad credentials" (ours or auth/'s own AuthError). */
export function isAuthError(e: unknown): boolean {
  return e instanceof AuthError || (e instanceof Error && ((e as { code?: unknown }).code === 'unauthorized' || e.name === 'AuthError'));
}

export type FrameErrorCode =
  | 'frame-too-large' | 'too-many-headers' | 'header-too-long' | 'malformed-header' | 'bad-escape'
  | 'bad-content-length' | 'missing-null' | 'bad-command';

/** The byte stream is not valid STOMP (or breaks a size limit): the session answers ERROR and closes. */
export class FrameError extends Error {
  /** The `receipt` header of the broken frame, when the parser had already read it (ERROR's receipt-id). */
  receiptId?: string;
  constructor(readonly code: FrameErrorCode, message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** A well-formed frame the session refuses: ERROR (with `message`, details in the body) then close. */
export class ProtocolError extends Error {
  constructor(message: string, readonly details?: string, readonly receiptId?: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}
