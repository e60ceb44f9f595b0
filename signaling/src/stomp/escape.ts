// Header escaping of STOMP 1.1/1.2 ("\\" "\n" "\r" "\c"). Both directions have a fast path: most
// header values contain nothing to escape, and then the string is returned untouched.
import { EscapeMode } from './frame';
import { FrameError } from './errors';

const NEEDS_ESCAPE = /[\\\n\r:]/;

export function escapeHeader(s: string, mode: EscapeMode): string {
  if (mode === 'none' || !NEEDS_ESCAPE.test(s)) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === ':') out += '\\c';
    // 1.1 has no \r escape: a CR can only be sent raw there.
    else if (c === '\r') out += mode === 'v12' ? '\\r' : '\r';
    else out += c;
  }
  return out;
}

export function unescapeHeader(s: string, mode: EscapeMode): string {
  if (mode === 'none' || s.indexOf('\\') < 0) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = s[++i];
    if (n === '\\') out += '\\';
    else if (n === 'n') out += '\n';
    else if (n === 'c') out += ':';
    else if (n === 'r' && mode === 'v12') out += '\r';
    // The spec: an undefined escape sequence MUST be treated as a fatal protocol error.
    else throw new FrameError('bad-escape', `undefined escape sequence \\${n ?? ''} in header`);
  }
  return out;
}
