// Reads the service's Prometheus text (/metrics) for the ops page. Which metrics exist is the
// signaling service's business; this picks the ones about sessions, busks, viewers and media by name
// so that a renamed or new metric shows up without a change here.
export interface Sample { name: string; labels: string; value: number }

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/;
const FIGURE = /(session|busk|viewer|presenter|pipeline|endpoint|media|subscription|message|chat|turn|node)/i;
// turn_*: the TURN card shows those, fresher, from the monitor's snapshot.
const NOISE = /(_bucket|_sum|_count|_created)$|^(process_|nodejs_|turn_)/;

export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1], labels: m[2] ?? '', value });
  }
  return out;
}

function pretty(name: string): string {
  const s = name.replace(/^(busking|signaling|busk_signaling)_/, '').replace(/_total$/, '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** The headline figures: one row per metric name (summed over its labels), in the order they came. */
export function serviceFigures(samples: Sample[]): [string, string][] {
  const sums = new Map<string, number>();
  for (const s of samples) {
    if (NOISE.test(s.name) || !FIGURE.test(s.name)) continue;
    sums.set(s.name, (sums.get(s.name) ?? 0) + s.value);
  }
  return [...sums].map(([n, v]) => [pretty(n), Number.isInteger(v) ? v.toLocaleString() : v.toFixed(2)]);
}
