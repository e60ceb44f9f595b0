// Renders the TURN monitor's data for the ops page: TurnMonitor.snapshot() from GET /api/ops/turn
// (turn/src/monitor.ts) and its TurnEvents live from /topic/ops.turn. Types are restated here, not
// imported: the web bundle must not pull in Node modules, and a missing field shows as "—" rather
// than breaking the page.
import { el } from './ui';

interface Bytes { rp: number; rb: number; sp: number; sb: number }
interface ActiveSession {
  id: string; user: string; realm: string; clientAddress: string | null; transport: string | null;
  ageSeconds: number; peers: number; relayedBytes: number; client?: Bytes;
}
interface AuthFailure { at: string; user: string; realm: string; clientAddress: string | null; code: number; problem: string }
interface Diagnosis { id: string; severity: 'warning' | 'error'; message: string; count: number }
export interface TurnSnapshot {
  at?: string;
  activeSessions?: ActiveSession[];
  totals?: { sessionsStarted?: number; sessionsEnded?: number; activeSessions?: number; relayedBytes?: number; client?: Bytes; quotaRejections?: number; peersDenied?: number };
  authFailures?: { total?: number; lastMinute?: number; unansweredChallenges?: number; byProblem?: Record<string, number>; recent?: AuthFailure[] };
  clockSkewSeconds?: number | null;
  diagnoses?: Diagnosis[];
}

const RECENT_FAILURES_SHOWN = 8;

export function formatBytes(n: number | undefined): string {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function num(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? n.toLocaleString() : '—';
}

function age(s: number | undefined): string {
  if (typeof s !== 'number') return '—';
  return s < 60 ? `${Math.round(s)} s` : s < 3600 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function table(target: HTMLTableElement, head: string[], rows: string[][], empty: string): void {
  target.tHead!.replaceChildren(el('tr', {}, ...head.map((h) => el('th', { scope: 'col' }, h))));
  target.tBodies[0].replaceChildren(...(rows.length === 0
    ? [el('tr', {}, el('td', { colspan: head.length, class: 'empty' }, empty))]
    : rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c))))));
}

export interface TurnTargets {
  figures: HTMLElement;
  diagnoses: HTMLElement;
  sessions: HTMLTableElement;
  failures: HTMLTableElement;
}

export function renderTurnSnapshot(raw: unknown, t: TurnTargets): void {
  const s = (raw && typeof raw === 'object' ? raw : {}) as TurnSnapshot;
  const totals = s.totals ?? {};
  const auth = s.authFailures ?? {};
  const client = totals.client;
  const figures: [string, string][] = [
    ['Live sessions', num(totals.activeSessions ?? s.activeSessions?.length)],
    ['Sessions started', num(totals.sessionsStarted)],
    ['Sessions ended', num(totals.sessionsEnded)],
    ['Relayed (peer side)', formatBytes(totals.relayedBytes)],
    ['Client traffic', client ? formatBytes(client.rb + client.sb) : '—'],
    ['Auth failures', num(auth.total)],
    ['Auth failures, last minute', num(auth.lastMinute)],
    ['Unanswered challenges', num(auth.unansweredChallenges)],
    ['Quota rejections', num(totals.quotaRejections)],
    ['Peers denied', num(totals.peersDenied)],
    ['Clock skew', s.clockSkewSeconds === null || s.clockSkewSeconds === undefined ? '—' : `${s.clockSkewSeconds} s`],
  ];
  for (const [problem, n] of Object.entries(auth.byProblem ?? {})) figures.push([`Auth failures: ${problem}`, num(n)]);
  t.figures.replaceChildren(...figures.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));

  const diagnoses = s.diagnoses ?? [];
  t.diagnoses.replaceChildren(...(diagnoses.length === 0
    ? [el('li', { class: 'ok' }, 'No problems diagnosed.')]
    : diagnoses.map((d) => el('li', { class: d.severity === 'error' ? 'bad' : 'warn' }, el('strong', {}, d.severity === 'error' ? 'Error: ' : 'Warning: '), d.message, ` (${d.count}×)`))));

  table(t.sessions, ['User', 'Realm', 'Client', 'Transport', 'Age', 'Peers', 'Relayed'],
    (s.activeSessions ?? []).map((x) => [x.user || '—', x.realm || '—', x.clientAddress ?? '—', x.transport ?? '—', age(x.ageSeconds), num(x.peers), formatBytes(x.relayedBytes)]),
    'No live TURN sessions.');
  table(t.failures, ['When', 'User', 'Realm', 'Client', 'Problem'],
    [...(auth.recent ?? [])].reverse().slice(0, RECENT_FAILURES_SHOWN).map((f) => [new Date(f.at).toLocaleTimeString(), f.user || '—', f.realm || '—', f.clientAddress ?? '—', `${f.problem} (${f.code})`]),
    'No authentication failures.');
}

/** One TurnEvent from /topic/ops.turn as a line of the event log. */
export function renderTurnEvent(ev: Record<string, unknown>): HTMLLIElement {
  const at = new Date(typeof ev.at === 'string' || typeof ev.at === 'number' ? ev.at : Date.now());
  const type = String(ev.type ?? 'event');
  let text: string;
  switch (type) {
    case 'session-started': text = `${ev.user} (${ev.realm})`; break;
    case 'session-ended': text = `${ev.user} after ${age(ev.durationSeconds as number)}, relayed ${formatBytes(ev.relayedBytes as number)}: ${ev.reason}`; break;
    case 'auth-failure': text = `${ev.user || 'no user'} from ${ev.clientAddress ?? 'unknown'}: ${ev.problem}`; break;
    case 'quota-reached': text = `${ev.user} (${ev.realm})`; break;
    case 'peer-denied': text = `${ev.peer} by ${ev.rule}`; break;
    case 'diagnosis': text = String((ev.diagnosis as Diagnosis | undefined)?.message ?? ''); break;
    default: text = JSON.stringify(ev);
  }
  return el('li', { class: type === 'auth-failure' || type === 'peer-denied' ? 'bad' : undefined },
    el('time', { datetime: isNaN(at.getTime()) ? '' : at.toISOString() }, isNaN(at.getTime()) ? '' : at.toLocaleTimeString()),
    ' ', el('strong', {}, type), ' ', text);
}
