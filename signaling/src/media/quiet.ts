// kurento-client prints to the console from module-level code (reconnects, pings, unknown objects)
// and keeps its ping state in module globals shared by every client in the process. We do not fight
// that: we route its known console lines to our logger at debug level, once, and leave the rest alone.
import { log } from '../log';

const KURENTO_NOISE = [
  /^notReconnectIfNumLessThan/, /^reconnect to server/, /^Invalid Session/, /^Server did not respond to ping/,
  /^Trying to send ping/, /^Unknown object id/, /^Unknown message type/, /^Implicit transaction failed/,
  /^Unexpected request:/, /^Could not check /, /^Unknown type '/,
  // kurento-jsonrpc, when an answer comes for a request it already settled: the media server answered
  // after the request timed out here (MEDIA_TIMEOUT_MS; the caller already got `unavailable`), or
  // answered twice. The first within duplicates_timeout of settling, the second after it.
  /^Response already processed/, /^No callback was defined for this message/,
];

/**
 * kurento-client's calls made without a callback (its own strict module check at connect, which we
 * handle through the client's promise) end in a `console.trace(error)`. Its errors carry the
 * JSON-RPC request (`request`, on a timeout) or the server's answer time (`requestTimestamp`); other
 * traces pass. Such a trace can fire after the client was closed: a request timer kurento-jsonrpc
 * does not clear (under jest a late console line fails the run).
 */
function isKurentoTrace(first: unknown): boolean {
  return first instanceof Error && ('request' in first || 'requestTimestamp' in first);
}

let installed = false;

export function quietKurentoClient(): void {
  if (installed) return;
  installed = true;
  for (const method of ['log', 'warn', 'error', 'trace'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const noise = typeof args[0] === 'string'
        ? KURENTO_NOISE.some((re) => re.test(args[0] as string))
        : method === 'trace' && isKurentoTrace(args[0]);
      if (noise) {
        log.debug('kurento-client', args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : safe(a))).join(' '));
        return;
      }
      original(...args);
    };
  }
}

function safe(v: unknown): string {
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}
