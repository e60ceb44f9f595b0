// A tiny Prometheus text-format registry: counters, gauges (callbacks read at scrape time) and
// histograms. Enough for /metrics without another dependency.

type Labels = Record<string, string>;

function fmtLabels(l: Labels | undefined): string {
  if (!l || Object.keys(l).length === 0) return '';
  return `{${Object.entries(l).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}

export class Counter {
  private values = new Map<string, { labels?: Labels; v: number }>();
  constructor(readonly name: string, readonly help: string) {}
  inc(labels?: Labels, by = 1): void {
    const k = fmtLabels(labels);
    const e = this.values.get(k) ?? { labels, v: 0 };
    e.v += by;
    this.values.set(k, e);
  }
  get(labels?: Labels): number { return this.values.get(fmtLabels(labels))?.v ?? 0; }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, e] of this.values) lines.push(`${this.name}${k} ${e.v}`);
    return lines.join('\n');
  }
}

export class Gauge {
  constructor(readonly name: string, readonly help: string, private readonly read: () => number | { labels: Labels; v: number }[]) {}
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    const v = this.read();
    if (typeof v === 'number') lines.push(`${this.name} ${v}`);
    else for (const e of v) lines.push(`${this.name}${fmtLabels(e.labels)} ${e.v}`);
    return lines.join('\n');
  }
}

export class Histogram {
  private counts: number[];
  private sum = 0;
  private n = 0;
  constructor(readonly name: string, readonly help: string, readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.n++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
  get count(): number { return this.n; }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`));
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.n}`, `${this.name}_sum ${this.sum}`, `${this.name}_count ${this.n}`);
    return lines.join('\n');
  }
}

export class Metrics {
  private items: { render(): string }[] = [];
  private extra: (() => string)[] = [];

  /** Messages handled per /app destination kind (start, offer, ice, chat, ...). */
  readonly appMessages = this.add(new Counter('busking_app_messages_total', 'STOMP /app messages handled, by kind and outcome.'));
  readonly joinSeconds = this.add(new Histogram('busking_join_seconds', 'Viewer offer received to SDP answer sent, seconds.', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]));
  readonly presentSeconds = this.add(new Histogram('busking_present_seconds', 'Presenter offer received to SDP answer sent, seconds.', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]));
  readonly busksStarted = this.add(new Counter('busking_busks_started_total', 'Busks started on this node.'));
  readonly busksEnded = this.add(new Counter('busking_busks_ended_total', 'Busks ended by this node, by reason.'));
  readonly chatMessages = this.add(new Counter('busking_chat_messages_total', 'Chat messages accepted.'));
  readonly reoffers = this.add(new Counter('busking_reoffers_total', 'reoffer messages sent after a lost media path.'));
  readonly stateLeaseLost = this.add(new Counter('busking_state_lease_lost_total', 'Times this node could not refresh its presence in Redis for a whole NODE_PRESENCE_TTL_MS and ended its busks.'));

  add<T extends { render(): string }>(m: T): T {
    this.items.push(m);
    return m;
  }

  /** Text appended as is (e.g. the TURN monitor's own Prometheus text). */
  addText(render: () => string): void {
    this.extra.push(render);
  }

  render(): string {
    return [...this.items.map((m) => m.render()), ...this.extra.map((f) => f().trim()).filter(Boolean)].join('\n') + '\n';
  }
}
