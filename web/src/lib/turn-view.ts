// Renders the TURN monitor's data. The snapshot's exact shape belongs to the TURN module
// (turn/src TurnMonitor.snapshot()); this shows any object it gets: plain numbers and strings as
// figures, arrays of records as tables, so a new field appears without a change here.
import { el } from './ui';

const BYTES = /bytes|traffic|octets/i;

function formatValue(key: string, v: unknown): string {
  if (typeof v === 'number' && BYTES.test(key)) return formatBytes(v);
  if (typeof v === 'number') return v.toLocaleString();
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function label(key: string): string {
  const s = key.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/_/g, ' ').toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Scalars (also one level down, e.g. totals.relayedBytes) as figures; the first record array as a table. */
export function renderTurnSnapshot(snapshot: unknown, figures: HTMLElement, table: HTMLTableElement): void {
  const obj = (snapshot && typeof snapshot === 'object' ? snapshot : {}) as Record<string, unknown>;
  const rows: [string, string][] = [];
  let records: Record<string, unknown>[] | null = null;
  for (const [k, v] of Object.entries(obj)) {
    if (Array.isArray(v)) {
      if (!records && (v.length === 0 || typeof v[0] === 'object')) records = v as Record<string, unknown>[];
      else rows.push([label(k), String(v.length)]);
    } else if (v && typeof v === 'object') {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>)) {
        if (typeof v2 !== 'object' || v2 === null) rows.push([label(`${k} ${k2}`), formatValue(k2, v2)]);
      }
    } else {
      rows.push([label(k), formatValue(k, v)]);
    }
  }
  figures.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
  const list = records ?? [];
  const cols = [...new Set(list.flatMap((r) => Object.keys(r ?? {})))].slice(0, 8);
  table.tHead!.replaceChildren(el('tr', {}, ...cols.map((c) => el('th', { scope: 'col' }, label(c)))));
  const body = table.tBodies[0];
  body.replaceChildren(...(list.length === 0
    ? [el('tr', {}, el('td', { colspan: Math.max(1, cols.length) }, 'No live TURN sessions.'))]
    : list.map((r) => el('tr', {}, ...cols.map((c) => el('td', {}, formatValue(c, r?.[c])))))));
}

/** One live event from /topic/ops.turn as a line of the event log. */
export function renderTurnEvent(ev: Record<string, unknown>): HTMLLIElement {
  const at = typeof ev.at === 'number' || typeof ev.at === 'string' ? new Date(ev.at) : new Date();
  const kind = String(ev.type ?? ev.event ?? 'event');
  const rest = Object.entries(ev).filter(([k]) => !['type', 'event', 'at'].includes(k))
    .map(([k, v]) => `${k}=${formatValue(k, v)}`).join(' ');
  return el('li', { class: /fail|error|401|unauthori/i.test(kind + rest) ? 'bad' : undefined },
    el('time', { datetime: isNaN(at.getTime()) ? '' : at.toISOString() }, isNaN(at.getTime()) ? '' : at.toLocaleTimeString()),
    ' ', el('strong', {}, kind), ' ', rest);
}
