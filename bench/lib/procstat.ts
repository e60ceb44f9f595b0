/** Linux /proc readings for a process other than ours: CPU time and resident memory. */
import fs from 'node:fs';

const TICK = 100; // USER_HZ on Linux

export function alive(pid: number): boolean {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return st.slice(st.lastIndexOf(')') + 2, st.lastIndexOf(')') + 3) !== 'Z';
  } catch { return false; }
}

/** user + system CPU seconds consumed so far. */
export function cpuSeconds(pid: number): number {
  try {
    const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICK; // utime, stime (fields 14, 15)
  } catch { return NaN; }
}

/** Resident set size in bytes (VmRSS). */
export function rssBytes(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch { return NaN; }
}

/** Waits until the process uses less than `maxShare` of one CPU over `windowMs` (or `timeoutMs` passes). */
export async function waitQuiet(pid: number, maxShare = 0.05, windowMs = 500, timeoutMs = 20000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const a = cpuSeconds(pid);
    await new Promise((r) => setTimeout(r, windowMs));
    const share = (cpuSeconds(pid) - a) / (windowMs / 1000);
    if (!(share > maxShare) || Date.now() - t0 > timeoutMs) return Date.now() - t0;
  }
}
