// kurento-client prints to the console from module-level code (reconnects, pings, unknown objects)
// and keeps its ping state in module globals shared by every client in the process. We do not fight
// that: we route its known console lines to our logger at debug level, once, and leave the rest alone.
import { log } from '../log';

const KURENTO_NOISE = [
  /^notReconnectIfNumLessThan/, /^reconnect to server/, /^Invalid Session/, /^Server did not respond to ping/,
  /^Trying to send ping/, /^Unknown object id/, /^Unknown message type/, /^Implicit transaction failed/,
  /^Unexpected request:/, /^Could not check /, /^Unknown type '/,
];

let installed = false;

export function quietKurentoClient(): void {
  if (installed) return;
  installed = true;
  for (const method of ['log', 'warn', 'error'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      if (typeof args[0] === 'string' && KURENTO_NOISE.some((re) => re.test(args[0] as string))) {
        log.debug('kurento-client', args.map((a) => (typeof a === 'string' ? a : safe(a))).join(' '));
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
