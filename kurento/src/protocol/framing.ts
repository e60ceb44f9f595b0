// kurento-client writes requests through websocket-stream, which may coalesce several writes
// into one WebSocket frame: `{...}{...}`. Each top-level JSON value in a frame is one message.

/**
 * Splits a frame into its top-level JSON texts. Whitespace between values is skipped; a frame
 * that is not a sequence of complete objects/arrays comes back whole, for the parser to reject.
 */
export function splitMessages(frame: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let start = -1;
  for (let i = 0; i < frame.length; i++) {
    const c = frame[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (depth === 0) {
      if (c === ' ' || c === '\n' || c === '\r' || c === '\t') continue;
      if (c !== '{' && c !== '[') return [frame];
      start = i;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') {
      depth--;
      if (depth < 0) return [frame];
      if (depth === 0) out.push(frame.slice(start, i + 1));
    }
  }
  if (depth !== 0 || inString || out.length === 0) return [frame];
  return out;
}
