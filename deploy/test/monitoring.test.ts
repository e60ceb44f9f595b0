// The monitoring profile against real parts: the alert rules pass promtool; every metric the Grafana
// dashboards and the alert rules name is exported by the live service or the TURN sidecar; and a real
// Prometheus (started here, 1 s scrape/evaluation, its own data directory) scraping both fires the
// alerts for failures driven for real: coturn refusing credentials signed with a wrong secret,
// clients refused on /user/queue/errors, a busk whose presenter's media stops, a second node whose
// presence key lapses and which is then stopped, a stopped media server, the Redis process stopped (last: it restarts empty);
// and resolves them when the part is back (busk ended, the media server and Redis restarted).
// The rules are evaluated as committed except their `for:` durations, set to 0 s in the test's copy:
// what is checked is that the expressions catch the failures, not the waiting. The 30 s of a stall
// are counted by the service's ops clock, which the test moves forward (no sleeping).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { startPrometheus, StartedPrometheus, PromAlert } from '../../test-support/prometheus';
import { freePort, waitFor } from '../../test-support/ports';
import { requireProgram, startRedis, RedisServer } from '../../test-support/processes';
import { startTestService, devToken, connect } from '../../signaling/test/support/service';
import type { Service } from '../../signaling/src/service';
import { startMediaServer, MediaServer } from '../../kurento/src';
import { startSidecar, Sidecar } from '../../turn/src/sidecar';
import { runUclient } from '../../turn/test/uclient';
import { startBusk, watchBusk, PeerHost } from '../../signaling/test/support/peers';

jest.setTimeout(120000);

const MON = path.resolve(__dirname, '..', 'monitoring');
const RULES = path.join(MON, 'alerts.yml');
const DASHBOARDS = path.join(MON, 'grafana', 'dashboards');

/** Names of the metric families in Prometheus text (histograms also by their _bucket/_sum/_count series). */
function families(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    out.add(m[1]);
    if (m[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(m[1] + s);
  }
  return out;
}

const PROMQL_WORDS = new Set(['sum', 'min', 'max', 'avg', 'count', 'rate', 'irate', 'increase', 'histogram_quantile', 'topk', 'bottomk',
  'and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/** The metric names a PromQL expression reads. */
function metricNames(expr: string): string[] {
  const e = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\{[^}]*\}/g, ' ').replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  const names: string[] = [];
  for (const m of e.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = e.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(') || PROMQL_WORDS.has(m[0])) continue;
    if (m.index! > 0 && /[0-9.]/.test(e[m.index! - 1])) continue; // 1e3, 5m
    names.push(m[0]);
  }
  return names;
}

interface Dashboard { uid: string; title: string; panels: Array<{ title: string; targets: Array<{ expr: string }> }> }
const dashboards = (): Array<[string, Dashboard]> => fs.readdirSync(DASHBOARDS).filter((f) => f.endsWith('.json'))
  .map((f) => [f, JSON.parse(fs.readFileSync(path.join(DASHBOARDS, f), 'utf8')) as Dashboard]);
const rules = (): Array<{ alert: string; expr: string; annotations: Record<string, string> }> =>
  parse(fs.readFileSync(RULES, 'utf8')).groups.flatMap((g: { rules: unknown[] }) => g.rules);

test('promtool check rules and check config pass', () => {
  const promtool = requireProgram('promtool', 'prometheus');
  const r = spawnSync(promtool, ['check', 'rules', RULES], { encoding: 'utf8' });
  expect([r.status, r.stdout + r.stderr]).toEqual([0, expect.stringContaining('SUCCESS: 6 rules found')]);
  // As in the container: prometheus.yml and alerts.yml side by side, with the metrics-token file
  // docker-compose.yml's entrypoint writes there (promtool checks that it exists).
  const etc = fs.mkdtempSync(path.join(os.tmpdir(), 'prometheus-etc-'));
  for (const f of ['prometheus.yml', 'alerts.yml']) fs.copyFileSync(path.join(MON, f), path.join(etc, f));
  fs.writeFileSync(path.join(etc, 'metrics-token'), '');
  const c = spawnSync(promtool, ['check', 'config', path.join(etc, 'prometheus.yml')], { cwd: etc, encoding: 'utf8' });
  fs.rmSync(etc, { recursive: true, force: true });
  expect([c.status, c.stdout + c.stderr]).toEqual([0, expect.stringContaining('SUCCESS')]);
  expect(rules().map((x) => x.alert).sort()).toEqual(['BuskStalled', 'NoMediaServer', 'NodePresenceLost', 'RedisUnreachable', 'TurnAuthFailures', 'UserErrorRate']);
});

test('the dashboards: busks and viewers, STOMP, media servers, TURN; valid JSON with unique uids', () => {
  const ds = dashboards();
  expect(ds.map(([f]) => f).sort()).toEqual(['busks.json', 'media.json', 'stomp.json', 'turn.json']);
  expect(new Set(ds.map(([, d]) => d.uid)).size).toBe(4);
  for (const [f, d] of ds) {
    expect([f, d.panels.length > 0 && d.panels.every((p) => p.targets.length > 0 && p.targets.every((t) => t.expr.trim() !== ''))]).toEqual([f, true]);
  }
});

describe('against the live service, the TURN sidecar, coturn and a real Prometheus', () => {
  let coturn: StartedCoturn;
  let engine: MediaServer;
  let redis: RedisServer;
  let svc: Service;
  /** A second node on the same Redis, whose presence the test lets lapse, then stops. */
  let other: Service;
  let host: PeerHost;
  /** Added to the ops clock of `svc` (how long its busks have been stalled). */
  let opsClockAheadMs = 0;
  let sidecar: Sidecar;
  let sidecarUrl: string;
  let prom: StartedPrometheus;
  let tmp: string;

  beforeAll(async () => {
    coturn = await startCoturn({ secret: 'the-secret-coturn-has' });
    engine = await startMediaServer({ host: '127.0.0.1', port: 0 });
    redis = await startRedis();
    const cluster = { REDIS_URL: redis.url, KMS_URLS: engine.url, NODE_PRESENCE_TTL_MS: '1500' };
    const ops = { pollMs: 250 };
    svc = await startTestService({
      ...cluster, NODE_ID: 'node-a', TURN_URLS: coturn.urls.join(','), TURN_LOG: coturn.logFile,
      // The failure an operator meets: the service signs credentials with another secret than coturn's.
      TURN_SECRET: 'a-secret-coturn-does-not-have',
    }, { ops: { ...ops, now: () => Date.now() + opsClockAheadMs } });
    other = await startTestService({ ...cluster, NODE_ID: 'node-b' }, { ops });
    host = await PeerHost.start();
    const metricsPort = await freePort();
    sidecar = startSidecar({
      log: coturn.logFile, host: '127.0.0.1', port: svc.stompTcpPort!, token: await devToken(svc, 'turn-monitor', ['ops']),
      fromStart: true, metrics: { host: '127.0.0.1', port: metricsPort }, summaryMs: 0,
    });
    sidecarUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'alerts-'));
    const rulesCopy = path.join(tmp, 'alerts.yml');
    fs.writeFileSync(rulesCopy, fs.readFileSync(RULES, 'utf8').replace(/^(\s+)for: \S+$/gm, '$1for: 0s'));
    prom = await startPrometheus({
      jobs: { signaling: [`127.0.0.1:${svc.httpPort}`, `127.0.0.1:${other.httpPort}`], turn: [`127.0.0.1:${metricsPort}`] },
      ruleFiles: [rulesCopy], interval: '1s',
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await sidecar?.stop();
    host?.stop();
    await other?.close();
    await svc?.close();
    await redis?.stop();
    await engine?.close().catch(() => {});
    await coturn?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('every metric a dashboard or an alert names is exported (service /metrics or the sidecar /metrics)', async () => {
    const exported = new Set([
      ...families(await (await fetch(`${svc.url}/metrics`)).text()),
      ...families(await waitFor(async () => (await fetch(sidecarUrl)).text(), 10000, 'sidecar /metrics')),
      'up', // Prometheus's own, per target
    ]);
    const missing: string[] = [];
    for (const [f, d] of dashboards()) {
      for (const p of d.panels) for (const t of p.targets) for (const n of metricNames(t.expr)) if (!exported.has(n)) missing.push(`${f} "${p.title}": ${n}`);
    }
    for (const r of rules()) for (const n of metricNames(r.expr)) if (!exported.has(n)) missing.push(`alert ${r.alert}: ${n}`);
    for (const r of rules()) for (const a of Object.values(r.annotations)) for (const q of a.matchAll(/query \(printf "([a-z_]+)/g)) if (!exported.has(q[1])) missing.push(`alert ${r.alert} annotation: ${q[1]}`);
    expect(missing).toEqual([]);
    // The extraction itself finds names (not vacuously empty).
    expect(metricNames('histogram_quantile(0.95, sum by (le) (rate(busking_join_seconds_bucket[5m])))')).toEqual(['busking_join_seconds_bucket']);
  });

  const alerts = async () => (await prom.api<{ alerts: PromAlert[] }>('alerts')).alerts.filter((a) => a.state === 'firing');
  const firing = async (name: string, pred: (a: PromAlert) => boolean = () => true) => waitFor(
    async () => (await alerts()).find((a) => a.labels.alertname === name && pred(a)), 30000, `alert ${name} firing`, 250);
  const query = async (q: string) => (await prom.api<{ result: Array<{ metric: Record<string, string> }> }>('query?query=' + encodeURIComponent(q))).result;
  const instance = (s: Service) => `127.0.0.1:${s.httpPort}`;
  const on = (s: Service) => (a: PromAlert) => a.labels.instance === instance(s);

  test('driven failures fire TurnAuthFailures (with the diagnosis) and UserErrorRate', async () => {
    // Nothing fires while all is well (the scrape works and every part is up).
    await waitFor(async () => (await query('up == 1')).length === 3, 20000, 'the three targets up', 250);
    expect(await alerts()).toEqual([]);

    // 1. Real allocations with the credentials the service hands out, which coturn refuses.
    const ice = (await (await fetch(`${svc.url}/api/ice-servers`)).json()) as Array<{ username?: string; credential?: string }>;
    const cred = ice.find((s) => s.username)!;
    const counted = async () => Number(/^turn_auth_failures_total\{problem="all"\} (\d+)$/m.exec(await (await fetch(`${svc.url}/metrics`)).text())?.[1] ?? 0);
    for (let i = 0; i < 6 && (await counted()) < 8; i++) {
      await runUclient({ port: coturn.port, username: cred.username!, password: cred.credential!, messages: 1, clients: 2, timeoutMs: 4000 });
    }
    await waitFor(async () => (await counted()) >= 8, 15000, '8 authentication failures counted');
    const turn = await firing('TurnAuthFailures');
    expect(turn.annotations.diagnosis).toContain('wrong-secret: wrong secret: TURN_SECRET of the service differs from static-auth-secret');
    expect(turn.annotations.summary).toMatch(/TURN authentication failures in 5 minutes/);

    // 2. Clients refused: SENDs where the default rules forbid them are answered on /user/queue/errors.
    const client = await connect(svc);
    // The rule's rate is over 5 minutes: 40 errors are 0.13/s, above its 0.1/s.
    for (let i = 0; i < 40; i++) expect(await client.request('/topic/not-for-clients', { i })).toMatchObject({ code: 'forbidden' });
    await client.close();
    const errors = await firing('UserErrorRate', (a) => a.labels.code === 'forbidden');
    expect(errors.annotations.summary).toContain('code forbidden');
  });

  /** A busk on `svc` that keeps flowing, with one viewer: the health list's order, then the media server's restart. */
  let flowing: string;
  const health = (id: string) => svc.ops.snapshot().busks.find((b) => b.id === id);

  test('a busk whose presenter\'s media stops fires BuskStalled once stalled for over 30 s; it comes first in the health list', async () => {
    const busker = await connect(svc, await devToken(svc, 'Frozen', ['busker']));
    const { buskId, presenter } = await startBusk(host, busker, { title: 'Frozen' });
    const still = await connect(svc, await devToken(svc, 'Still', ['busker']));
    flowing = (await startBusk(host, still, { title: 'Still flowing' })).buskId;
    await watchBusk(host, await connect(svc), flowing);
    await waitFor(() => health(buskId)?.media === 'flowing' && health(flowing)?.media === 'flowing' && health(flowing)?.viewers === 1, 20000, 'both busks flowing', 100);
    // The presenter's media stops; its STOMP session stays (no grace period, no end of the busk).
    await presenter.close();
    await waitFor(() => health(buskId)?.media === 'stalled' && health(buskId)!.stalledForSeconds !== null, 20000, 'the busk stalled', 100);
    await waitFor(async () => (await query(`busking_busks_stalled{instance="${instance(svc)}"} == 1`)).length === 1, 20000, 'the stall scraped', 250);
    // Stalled, but not yet for 30 s: no alert.
    expect((await alerts()).filter((a) => a.labels.alertname === 'BuskStalled')).toEqual([]);
    opsClockAheadMs += 31000;
    const stalled = await firing('BuskStalled', on(svc));
    expect(stalled.annotations.summary).toMatch(/has had no media for 3\d/);
    // The health list (GET /api/ops/history, the ops page): stalled first, then the flowing one with its viewer.
    expect(svc.ops.snapshot().busks.map((b) => [b.title, b.media, b.viewers, b.reoffers])).toEqual([['Frozen', 'stalled', 0, 0], ['Still flowing', 'flowing', 1, 0]]);
    expect(svc.ops.snapshot().diagnoses.find((d) => d.id === 'busk-stalled' && d.endedAt === null)?.message).toContain('"Frozen"');
    expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
    await busker.close();
    await waitFor(async () => !(await alerts()).some((a) => a.labels.alertname === 'BuskStalled'), 30000, 'BuskStalled resolved once the busk ended', 250);
    // The diagnosis keeps its start and now has its end.
    const ended = svc.ops.snapshot().diagnoses.find((d) => d.id === 'busk-stalled')!;
    expect(Date.parse(ended.endedAt!)).toBeGreaterThan(Date.parse(ended.startedAt));
  });

  test('a node whose presence key lapses fires NodePresenceLost, and so does the node stopped', async () => {
    // As a wedged process: the node still answers /metrics but no longer refreshes its presence.
    other.busks.halt();
    const lapsed = await firing('NodePresenceLost', on(other));
    expect(lapsed.labels.severity).toBe('critical');
    expect(lapsed.labels.job).toBeUndefined(); // from busking_node_presence, not from `up`
    expect((await alerts()).filter((a) => on(svc)(a) && a.labels.alertname === 'NodePresenceLost')).toEqual([]);
    // Stopped: nothing answers the scrape any more.
    await other.close();
    const gone = await firing('NodePresenceLost', (a) => on(other)(a) && a.labels.job === 'signaling');
    expect(gone.annotations.summary).toBe(`Signaling node ${instance(other)} lost its presence`);
  });

  test('the only media server stopped fires NoMediaServer; restarted, the busk rebuilt on it is counted', async () => {
    await engine.close();
    await waitFor(() => !svc.media.anyUp, 15000, 'the service to see the media server down');
    const media = await firing('NoMediaServer', on(svc));
    expect(media.labels.severity).toBe('critical');
    // It restarts empty: the busk still on the node is rebuilt (its presenter and viewer asked to
    // reoffer), which the health list counts; the alert resolves.
    engine = await startMediaServer({ host: '127.0.0.1', port: engine.port });
    await waitFor(() => health(flowing)?.reoffers === 1, 30000, 'the rebuild counted in the health list', 100);
    await waitFor(async () => !(await alerts()).some((a) => a.labels.alertname === 'NoMediaServer'), 30000, 'NoMediaServer resolved', 250);
  });

  test('the Redis process stopped fires RedisUnreachable; it resolves when Redis is back', async () => {
    await redis.stop();
    const down = await firing('RedisUnreachable', on(svc));
    expect(down.labels.severity).toBe('critical');
    expect(svc.ops.snapshot().diagnoses.find((d) => d.id === 'state-unreachable' && d.endedAt === null)).toBeDefined();
    redis = await startRedis(redis.port);
    await waitFor(async () => !(await alerts()).some((a) => a.labels.alertname === 'RedisUnreachable'), 30000, 'RedisUnreachable resolved', 250);
    expect(svc.ops.snapshot().diagnoses.find((d) => d.id === 'state-unreachable')?.endedAt).toEqual(expect.any(String));
  });
});
