// The ops page over time: charts of the service's bounded history (GET /api/ops/history,
// signaling/src/ops), every diagnosis with its start and end, and the per-busk health list.
// Charts are uPlot (canvas, ~50 KB); they are rebuilt on each refresh, which for at most a few
// hundred points costs less than tracking which series appeared. Types are restated, not imported
// from the service: the web bundle must not pull in Node modules.
import uPlot from 'uplot';
import { el } from './ui';
import { formatBytes } from './turn-view';

interface OpsPoint {
  t: number;
  turnSessions: number | null;
  turnRelayedBytesPerSecond: number | null;
  authFailuresPerMinute: Record<string, number>;
  busks: number; viewers: number; chatPerMinute: number; stompSessions: number;
  mediaServersUp: number; mediaObjects: number;
}
interface DiagnosisEntry { id: string; source: string; severity: 'warning' | 'error'; message: string; startedAt: string; endedAt: string | null }
interface BuskHealth { id: string; title: string; node: string; media: string; stalledForSeconds: number | null; viewers: number; reoffers: number }
export interface OpsHistory { pointMs?: number; points?: OpsPoint[]; diagnoses?: DiagnosisEntry[]; busks?: BuskHealth[] }

export interface HistoryTargets { charts: HTMLElement; diagnoses: HTMLElement; busks: HTMLTableElement }

const COLORS = ['#e4572e', '#17bebb', '#ffc914', '#76b041', '#7d5ba6', '#2e86ab', '#f25f5c', '#888'];

interface ChartSpec {
  id: string;
  title: string;
  series: Array<{ label: string; value: (p: OpsPoint) => number | null; scale?: string }>;
  /** Axis formatter of the second scale, when there is one. */
  right?: { scale: string; format: (v: number) => string };
}

function specs(points: OpsPoint[]): ChartSpec[] {
  const causes = [...new Set(points.flatMap((p) => Object.keys(p.authFailuresPerMinute ?? {})))].sort();
  return [
    { id: 'turn', title: 'TURN sessions and relayed bandwidth', series: [
      { label: 'sessions', value: (p) => p.turnSessions },
      { label: 'relayed', value: (p) => p.turnRelayedBytesPerSecond, scale: 'bw' },
    ], right: { scale: 'bw', format: (v) => `${formatBytes(v)}/s` } },
    { id: 'auth', title: 'TURN auth failures per minute, by cause', series: causes.length
      ? causes.map((c) => ({ label: c, value: (p: OpsPoint) => p.authFailuresPerMinute?.[c] ?? 0 }))
      : [{ label: 'failures', value: () => 0 }] },
    { id: 'live', title: 'Live busks, viewers, chat and STOMP sessions', series: [
      { label: 'busks', value: (p) => p.busks },
      { label: 'viewers', value: (p) => p.viewers },
      { label: 'chat/min', value: (p) => p.chatPerMinute },
      { label: 'STOMP sessions', value: (p) => p.stompSessions },
    ] },
    { id: 'media', title: 'Media servers up and media objects', series: [
      { label: 'servers up', value: (p) => p.mediaServersUp },
      { label: 'media objects', value: (p) => p.mediaObjects },
    ] },
  ];
}

const charts = new Map<string, uPlot>();

function renderChart(box: HTMLElement, spec: ChartSpec, points: OpsPoint[]): void {
  let fig = box.querySelector<HTMLElement>(`figure[data-chart="${spec.id}"]`);
  if (!fig) {
    fig = el('figure', { class: 'chart', 'data-chart': spec.id }, el('figcaption', {}, spec.title), el('div', { class: 'chart-plot' }));
    box.append(fig);
  }
  const plot = fig.querySelector<HTMLElement>('.chart-plot')!;
  charts.get(spec.id)?.destroy();
  const data: uPlot.AlignedData = [points.map((p) => p.t / 1000), ...spec.series.map((s) => points.map((p) => s.value(p)))];
  const width = Math.max(240, Math.floor(plot.clientWidth || box.clientWidth || 320));
  const opts: uPlot.Options = {
    width, height: 170,
    series: [{}, ...spec.series.map((s, i) => ({ label: s.label, stroke: COLORS[i % COLORS.length], width: 2, scale: s.scale ?? 'y', spanGaps: true }))],
    scales: { x: { time: true } },
    axes: [
      { size: 30 },
      { scale: 'y', size: 40 },
      ...(spec.right ? [{ scale: spec.right.scale, side: 1, size: 70, grid: { show: false }, values: (_u: uPlot, vs: number[]) => vs.map((v) => spec.right!.format(v)) }] : []),
    ],
    legend: { show: true, live: false },
  };
  charts.set(spec.id, new uPlot(opts, data, plot));
  // For people (and the tests): how many points the chart holds, and the latest values in words.
  fig.dataset.points = String(points.length);
  const last = points[points.length - 1];
  plot.setAttribute('role', 'img');
  plot.setAttribute('aria-label', `${spec.title}: ${points.length} points${last ? `; latest ${spec.series.map((s) => `${s.label} ${s.value(last) ?? '—'}`).join(', ')}` : ''}`);
}

function when(iso: string | null): string {
  return iso ? new Date(iso).toLocaleString() : 'ongoing';
}

function stalledText(b: BuskHealth): string {
  return b.stalledForSeconds === null ? b.media : `stalled ${b.stalledForSeconds} s`;
}

export function renderHistory(h: OpsHistory, t: HistoryTargets): void {
  const points = h.points ?? [];
  for (const spec of specs(points)) renderChart(t.charts, spec, points);

  const diags = h.diagnoses ?? [];
  t.diagnoses.replaceChildren(...(diags.length ? diags.map((d) => el('li', { class: `${d.severity}${d.endedAt ? ' ended' : ''}`, 'data-id': d.id },
    el('strong', {}, `${d.id} `), el('span', { class: 'when' }, `${when(d.startedAt)} → ${when(d.endedAt)}`), el('p', {}, d.message)))
    : [el('li', { class: 'ok' }, 'No diagnosis since this node started.')]));

  const busks = h.busks ?? [];
  t.busks.tHead!.replaceChildren(el('tr', {}, ...['Busk', 'Media', 'Viewers', 'Reoffers', 'Node'].map((x) => el('th', { scope: 'col' }, x))));
  t.busks.tBodies[0].replaceChildren(...(busks.length ? busks.map((b) => el('tr', { class: b.media, 'data-busk': b.id },
    el('td', {}, b.title), el('td', {}, stalledText(b)), el('td', {}, String(b.viewers)), el('td', {}, String(b.reoffers)), el('td', {}, b.node)))
    : [el('tr', {}, el('td', { colspan: 5 }, 'No live busks.'))]));
}

/** Charts follow their box's width (phones rotate, windows resize). */
export function followWidth(box: HTMLElement): void {
  new ResizeObserver(() => {
    for (const [id, u] of charts) {
      const plot = box.querySelector<HTMLElement>(`figure[data-chart="${id}"] .chart-plot`);
      if (plot && Math.abs(plot.clientWidth - u.width) > 8) u.setSize({ width: Math.max(240, plot.clientWidth), height: 170 });
    }
  }).observe(box);
}
