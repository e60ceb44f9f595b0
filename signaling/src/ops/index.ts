// The ops view over time, kept in the service: a bounded ring of points (one per pointMs, a minute
// by default) for the ops page's charts, every diagnosis with its start and end, and the per-busk
// health list. It also exports what the Prometheus alert rules need (deploy/monitoring/alerts.yml):
// state store and presence up, stalled busks, /user/queue/errors by code.
// One entry point: new OpsMonitor(sources, options).start(); read snapshot(); close().
import type { EventEmitter } from 'node:events';
import type { State } from '../state';
import type { ControlMessage } from '../state/bus';
import { Counter, Gauge, Metrics } from '../http/metrics';
import type { TurnMonitor } from '../../../turn/src/monitor';
import { log } from '../log';
import { Ring } from './ring';
import { ActiveDiagnosis, DiagnosisEntry, DiagnosisTimeline } from './timeline';
import { BuskHealth, BuskHealthList } from './health';

export type { DiagnosisEntry } from './timeline';
export type { BuskHealth } from './health';

/** One point of the charts. Rates are over the point's interval; TURN figures are null when the TURN monitor is off. */
export interface OpsPoint {
  /** End of the interval, epoch ms. */
  t: number;
  turnSessions: number | null;
  /** Bytes per second coturn relayed (peer side, both directions). */
  turnRelayedBytesPerSecond: number | null;
  /** TURN authentication failures per minute, by cause (expired-credentials, wrong-secret, ...). */
  authFailuresPerMinute: Record<string, number>;
  busks: number;
  viewers: number;
  chatPerMinute: number;
  stompSessions: number;
  mediaServersUp: number;
  mediaObjects: number;
}

export interface OpsSnapshot {
  at: string;
  node: string;
  pointMs: number;
  points: OpsPoint[];
  diagnoses: DiagnosisEntry[];
  busks: BuskHealth[];
}

export interface OpsSources {
  nodeId: string;
  state: State;
  broker: EventEmitter & { stats(): { sessions: number } };
  bus: EventEmitter;
  media: { servers: ReadonlyArray<{ url: string; isUp: boolean }>; anyUp: boolean };
  busks: { stats(): { pipelines: number; endpoints: number } };
  metrics: Metrics;
  turn: TurnMonitor | null;
}

export interface OpsOptions {
  /** One chart point per this many ms (a minute; tests use less). */
  pointMs?: number;
  /** Points kept (360 minutes by default). */
  keepPoints?: number;
  /** How often state, busks and diagnoses are checked. */
  pollMs?: number;
  now?: () => number;
}

/** The codes of PROTOCOL.md: their series exist from the start at 0, so that rate() sees the first
 *  errors of a code as an increase (a series born at 10 has no increase to Prometheus). */
const ERROR_CODES = ['unauthorized', 'forbidden', 'not-found', 'bad-request', 'conflict', 'rate-limited', 'media-error', 'unavailable'];

/** A busk stalled this long is a diagnosis (and the BuskStalled alert's threshold). */
const STALL_DIAGNOSIS_S = 30;

export class OpsMonitor {
  readonly pointMs: number;
  private readonly pollMs: number;
  private readonly now: () => number;
  private readonly ring: Ring<OpsPoint>;
  private readonly timeline = new DiagnosisTimeline();
  private readonly health: BuskHealthList;
  readonly userErrors = new Counter('busking_user_errors_total', 'Errors sent to clients on /user/queue/errors, by code (PROTOCOL.md).');
  private stateUp = true;
  private presenceUp = true;
  private last: { t: number; relayed: number; failures: Record<string, number>; chat: number } | null = null;
  private timers: NodeJS.Timeout[] = [];
  private polling = false;
  private readonly onControl = (m: ControlMessage) => { if (m.type === 'busk-reset' && m.buskId) this.health.noteReset(m.buskId); };
  private readonly onError = (_s: unknown, code: string) => this.userErrors.inc({ code });

  constructor(private readonly src: OpsSources, opts: OpsOptions = {}) {
    this.pointMs = opts.pointMs ?? 60000;
    this.pollMs = opts.pollMs ?? Math.min(5000, this.pointMs);
    this.now = opts.now ?? Date.now;
    this.ring = new Ring(opts.keepPoints ?? 360);
    this.health = new BuskHealthList(src.state);
    this.register(src.metrics);
  }

  private register(m: Metrics): void {
    const node = { node: this.src.nodeId };
    for (const code of ERROR_CODES) this.userErrors.inc({ code }, 0);
    m.add(this.userErrors);
    m.add(new Gauge('busking_state_up', 'The state store (Redis, or memory) answers a ping from this node.', () => [{ labels: node, v: this.stateUp ? 1 : 0 }]));
    m.add(new Gauge('busking_node_presence', 'This node\'s presence key is alive in the state store (0: other nodes will end its busks).', () => [{ labels: node, v: this.presenceUp ? 1 : 0 }]));
    m.add(new Gauge('busking_busks_stalled', 'Busks of this node whose presenter media is stalled.', () => [{ labels: node, v: this.health.ownStalled(this.src.nodeId, this.now()).count }]));
    m.add(new Gauge('busking_busk_stalled_seconds_max', 'Longest current stall among this node\'s busks, seconds (0: none stalled).', () => [{ labels: node, v: this.health.ownStalled(this.src.nodeId, this.now()).maxSeconds }]));
  }

  start(): this {
    this.src.bus.on('control', this.onControl);
    this.src.broker.on('error-reported', this.onError);
    this.last = this.readCounters();
    void this.poll();
    this.timers.push(setInterval(() => { void this.poll(); }, this.pollMs), setInterval(() => { void this.point(); }, this.pointMs));
    for (const t of this.timers) t.unref();
    return this;
  }

  close(): void {
    for (const t of this.timers.splice(0)) clearInterval(t);
    this.src.bus.off('control', this.onControl);
    this.src.broker.off('error-reported', this.onError);
  }

  /** Checks state, presence and busks, and updates the diagnoses. Never throws. */
  async poll(): Promise<void> {
    if (this.polling) return;
    this.polling = true;
    try {
      const { state, nodeId } = this.src;
      this.stateUp = await state.ping().catch(() => false);
      if (this.stateUp) {
        if (state.kind === 'redis') this.presenceUp = await state.isNodeAlive(nodeId).catch(() => false);
        await this.health.refresh(this.now()).catch((e) => log.debug('ops', 'busk health refresh failed', e));
      } else this.presenceUp = false;
      this.timeline.update(this.activeDiagnoses(), this.now());
    } finally {
      this.polling = false;
    }
  }

  /** Adds one chart point now (the timer calls it every pointMs). */
  async point(): Promise<OpsPoint> {
    await this.poll();
    const t = this.now();
    const cur = this.readCounters(t);
    const prev = this.last ?? cur;
    const seconds = Math.max(0.001, (cur.t - prev.t) / 1000);
    const perMinute = (d: number) => Math.max(0, Math.round((d / seconds) * 60 * 100) / 100);
    const turn = this.src.turn?.snapshot(t) ?? null;
    const failures: Record<string, number> = {};
    for (const [cause, n] of Object.entries(cur.failures)) failures[cause] = perMinute(n - (prev.failures[cause] ?? 0));
    const b = this.src.busks.stats();
    const { busks, viewers } = this.health.totals;
    const p: OpsPoint = {
      t,
      turnSessions: turn ? turn.totals.activeSessions : null,
      turnRelayedBytesPerSecond: turn ? Math.max(0, Math.round((cur.relayed - prev.relayed) / seconds)) : null,
      authFailuresPerMinute: failures,
      busks, viewers,
      chatPerMinute: perMinute(cur.chat - prev.chat),
      stompSessions: this.src.broker.stats().sessions,
      mediaServersUp: this.src.media.servers.filter((s) => s.isUp).length,
      mediaObjects: b.pipelines + b.endpoints,
    };
    this.last = cur;
    this.ring.push(p);
    return p;
  }

  private readCounters(t = this.now()) {
    const turn = this.src.turn?.snapshot(t);
    const failures = { ...(turn?.authFailures.byProblem ?? {}) };
    return { t, relayed: turn?.totals.relayedBytes ?? 0, failures, chat: this.src.metrics.chatMessages.get() };
  }

  private activeDiagnoses(): ActiveDiagnosis[] {
    const out: ActiveDiagnosis[] = [];
    for (const d of this.src.turn?.diagnoses(this.now()) ?? []) out.push({ id: d.id, source: 'turn', severity: d.severity, message: d.message });
    if (!this.src.media.anyUp) {
      out.push({ id: 'no-media-server', source: 'service', severity: 'error',
        message: `No media server is reachable from node ${this.src.nodeId} (${this.src.media.servers.map((s) => s.url).join(', ')}): new busks get "unavailable". Check that KMS runs and KMS_URLS points at it.` });
    }
    if (!this.stateUp) {
      out.push({ id: 'state-unreachable', source: 'service', severity: 'error', message: `The state store (${this.src.state.kind}) does not answer node ${this.src.nodeId}: busks cannot start and the map goes stale. Check Redis (REDIS_URL).` });
    } else if (!this.presenceUp) {
      out.push({ id: 'presence-lost', source: 'service', severity: 'error', message: `Node ${this.src.nodeId}'s presence key expired: other nodes will end its busks. Check this node's Redis latency and event loop.` });
    }
    const stalled = this.health.busks(this.now()).filter((b) => (b.stalledForSeconds ?? 0) >= STALL_DIAGNOSIS_S);
    if (stalled.length) {
      out.push({ id: 'busk-stalled', source: 'service', severity: 'warning',
        message: `${stalled.length} busk(s) have had no media from their presenter for over ${STALL_DIAGNOSIS_S} s: ${stalled.slice(0, 5).map((b) => `"${b.title}" (${b.stalledForSeconds} s)`).join(', ')}. The presenter's network or camera stopped; their viewers see a frozen picture.` });
    }
    return out;
  }

  snapshot(): OpsSnapshot {
    const now = this.now();
    return {
      at: new Date(now).toISOString(), node: this.src.nodeId, pointMs: this.pointMs,
      points: this.ring.toArray(), diagnoses: this.timeline.entries(), busks: this.health.busks(now),
    };
  }
}
