// What a process's ArrayBuffers still hold once everything unreferenced is gone.
//
// One gc() is not enough to read that: V8 frees ArrayBuffer backing stores in a concurrent sweeper
// after the collection, so `process.memoryUsage().arrayBuffers` read right after gc() can still count
// buffers that are already garbage (a CI run saw the full 13 MB of a test's socket reads that way).
// So collect, let the sweeper run, and keep the lowest reading: retained bytes cannot go below it.
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * `npm test` starts jest with --expose-gc, so every context has gc(). Setting the flag at run time is
 * what a single `npx jest file` falls back to: V8 calls flags changed after start undefined
 * behaviour, and the one process of the whole --runInBand suite should not rely on it.
 */
export function collector(): () => void {
  const g = (globalThis as { gc?: () => void }).gc;
  if (g) return g;
  v8.setFlagsFromString('--expose-gc');
  return vm.runInNewContext('gc') as () => void;
}
const gc = collector();

/** The ArrayBuffer bytes still referenced: the lowest of a few full collections, each given time to sweep. */
export async function retainedArrayBuffers(rounds = 5): Promise<number> {
  let lowest = Infinity;
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((res) => setTimeout(res, 20));
    lowest = Math.min(lowest, process.memoryUsage().arrayBuffers);
  }
  return lowest;
}
