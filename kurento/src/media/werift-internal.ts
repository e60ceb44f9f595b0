// werift's modules that its package.json does not export, reached by file next to its main entry
// (lib/webrtc/src/index.js), for the fixes the engine installs into them. werift's compiled code calls
// its own functions through the module objects (`(0, module_1.fn)(…)`), so a replaced export or
// prototype method is what every caller gets.
import path from 'node:path';

/** The werift module at `relative` (from lib/, e.g. 'dtls/src/cipher/prf.js'); null if its layout changed. */
export function weriftModule<T>(relative: string): T | null {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(path.join(path.dirname(require.resolve('werift')), '../..', relative)) as T;
  } catch {
    return null;
  }
}
