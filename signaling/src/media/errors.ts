import { kcall } from './kurento';

/** A media server call failed: `code` is a PROTOCOL.md error code (media-error or unavailable). */
export class MediaError extends Error {
  constructor(readonly code: 'media-error' | 'unavailable', message: string, readonly cause?: unknown) {
    super(message);
    this.name = 'MediaError';
  }

  static from(e: unknown, what: string): MediaError {
    if (e instanceof MediaError) return e;
    const msg = e instanceof Error ? e.message : String(e);
    // kurento-client reports transport trouble as plain Errors; KMS errors carry a numeric code.
    const code = (e as { code?: unknown })?.code;
    if (typeof code !== 'number' && /timed out|disconnected|Connection error|socket/i.test(msg)) return new MediaError('unavailable', 'media server unavailable', e);
    return new MediaError('media-error', `${what}: ${msg}`, e);
  }
}

export function withTimeout<T>(p: PromiseLike<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new MediaError('unavailable', `media server timed out (${what})`)), ms);
    Promise.resolve(p).then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });
}

/** One kurento-client call (callback form) with a timeout; any failure becomes a MediaError saying `failure`. */
export async function mediaCall<T>(f: Parameters<typeof kcall<T>>[0], timeoutMs: number, what: string, failure: string): Promise<T> {
  try {
    return await withTimeout(kcall<T>(f), timeoutMs, what);
  } catch (e) {
    throw MediaError.from(e, failure);
  }
}
