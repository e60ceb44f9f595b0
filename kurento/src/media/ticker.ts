// One shared coarse timer for every open peer (flow detection, REMB). A per-peer setInterval would
// be one more thing to leak; this one stops by itself when the last peer closes.
export interface Ticking { tick(now: number): void }

const members = new Set<Ticking>();
let timer: NodeJS.Timeout | null = null;
export const TICK_MS = 500;

export function addTicking(t: Ticking): void {
  members.add(t);
  if (!timer) {
    timer = setInterval(() => {
      const now = Date.now();
      for (const m of members) {
        try { m.tick(now); } catch { /* one peer's failure must not stop the others */ }
      }
    }, TICK_MS);
    timer.unref();
  }
}

export function removeTicking(t: Ticking): void {
  members.delete(t);
  if (members.size === 0 && timer) {
    clearInterval(timer);
    timer = null;
  }
}

export function tickingCount(): number {
  return members.size;
}
