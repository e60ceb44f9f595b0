/** Summarises a V8 .cpuprofile (node --cpu-prof): self and inclusive time per function. */
import fs from 'node:fs';
import inspector from 'node:inspector';
import path from 'node:path';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface HotSpot { fn: string; where: string; selfMs: number; selfPct: number; totalMs: number; totalPct: number }

export function summarize(file: string, root: string, top = 30): { totalMs: number; idlePct: number; gcPct: number; hot: HotSpot[]; byFile: { file: string; selfPct: number }[] } {
  const p = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  for (const n of p.nodes) byId.set(n.id, n);
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000; // the delta *after* a sample is the time it stands for
    self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + dt);
    total += dt;
  }
  const key = (n: Node) => {
    const cf = n.callFrame;
    const file = cf.url ? path.relative(root, cf.url.replace(/^file:\/\//, '')) : '';
    return `${cf.functionName || '(anonymous)'}\t${file}${file ? ':' + (cf.lineNumber + 1) : ''}`;
  };
  const selfBy = new Map<string, number>();
  const totalBy = new Map<string, number>();
  const fileBy = new Map<string, number>();
  for (const [id, ms] of self) {
    const n = byId.get(id)!;
    const k = key(n);
    selfBy.set(k, (selfBy.get(k) ?? 0) + ms);
    const f = n.callFrame.url ? path.relative(root, n.callFrame.url.replace(/^file:\/\//, '')) : `(${n.callFrame.functionName})`;
    fileBy.set(f, (fileBy.get(f) ?? 0) + ms);
    // inclusive: count once per distinct function on the stack
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const kk = key(byId.get(cur)!);
      if (seen.has(kk)) continue;
      seen.add(kk);
      totalBy.set(kk, (totalBy.get(kk) ?? 0) + ms);
    }
  }
  const pct = (ms: number) => (total ? (100 * ms) / total : 0);
  const hot = [...selfBy.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, ms]) => {
    const [fn, where] = k.split('\t');
    const t = totalBy.get(k) ?? ms;
    return { fn, where, selfMs: +ms.toFixed(1), selfPct: +pct(ms).toFixed(2), totalMs: +t.toFixed(1), totalPct: +pct(t).toFixed(2) };
  });
  const idle = selfBy.get('(idle)\t') ?? 0;
  const gc = selfBy.get('(garbage collector)\t') ?? 0;
  const byFile = [...fileBy.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([file, ms]) => ({ file, selfPct: +pct(ms).toFixed(2) }));
  return { totalMs: +total.toFixed(1), idlePct: +pct(idle).toFixed(2), gcPct: +pct(gc).toFixed(2), hot, byFile };
}

/** This process's CPU profiler (the inspector's), sampling every 0.5 ms; stop() writes a .cpuprofile. */
export class Profiler {
  private s = new inspector.Session();
  constructor() { this.s.connect(); }
  private post(m: string, p?: object): Promise<any> { return new Promise((res, rej) => this.s.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r)))); } // eslint-disable-line @typescript-eslint/no-explicit-any
  async start(): Promise<void> { await this.post('Profiler.enable'); await this.post('Profiler.setSamplingInterval', { interval: 500 }); await this.post('Profiler.start'); }
  async stop(file: string): Promise<any> { const { profile } = await this.post('Profiler.stop'); fs.writeFileSync(file, JSON.stringify(profile)); return profile; } // eslint-disable-line @typescript-eslint/no-explicit-any
}
