// Frame → bytes. Small control frames (CONNECTED, RECEIPT, ERROR) go through serializeFrame. The
// MESSAGE hot path is in destinations/message.ts: the body and the headers that are the same for
// every subscriber are serialized once per publish, and only a short per-subscription prefix
// ("MESSAGE\nsubscription:..\n") varies.
import { EscapeMode } from './frame';
import { escapeHeader } from './escape';

export type HeaderInput = Record<string, string | number | undefined>;

/** One complete frame. content-length is always written when there is a body. */
export function serializeFrame(command: string, headers: HeaderInput, body: Buffer | string | undefined, mode: EscapeMode): Buffer {
  const m = command === 'CONNECTED' || command === 'CONNECT' ? 'none' : mode;
  let head = command + '\n';
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || k === 'content-length') continue;
    head += escapeHeader(k, m) + ':' + escapeHeader(String(v), m) + '\n';
  }
  const bodyLen = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (bodyLen > 0) head += 'content-length:' + bodyLen + '\n';
  head += '\n';
  const headLen = Buffer.byteLength(head);
  const out = Buffer.allocUnsafe(headLen + bodyLen + 1);
  out.write(head, 0, 'utf8');
  if (bodyLen > 0) {
    if (typeof body === 'string') out.write(body, headLen, 'utf8');
    else (body as Buffer).copy(out, headLen);
  }
  out[headLen + bodyLen] = 0;
  return out;
}

/** A server heart-beat: one EOL. */
export const HEARTBEAT = Buffer.from('\n');
