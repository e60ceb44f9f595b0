// The monitoring profile against real parts: the alert rules pass promtool; every metric the Grafana
// dashboards and the alert rules name is exported by the live service or the TURN sidecar; and a real
// Prometheus (started here, 1 s scrape/evaluation, its own data directory) scraping both fires the
// alerts for failures driven for real: coturn refusing credentials signed with a wrong secret, a
// stopped media server, clients refused on /user/queue/errors.
// The rules are evaluated as committed except their `for:` durations, set to 0 s in the test's copy:
// what is checked is that the expressions catch the failures, not the waiting.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { startPrometheus, StartedPrometheus, PromAlert } from '../../test-support/prometheus';
import { freePort, waitFor } from '../../test-support/ports';
import { requireProgram } from '../../test-support/processes';
import { startTestService, devToken, connect } from '../../signaling/test/support/service';
import type { Service } from '../../signaling/src/service';
import { startMediaServer, MediaServer } from '../../kurento/src';
import { startSidecar, Sidecar } from '../../turn/src/sidecar';
import { runUclient } from '../../turn/test/uclient';

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
  let svc: Service;
  let sidecar: Sidecar;
  let sidecarUrl: string;
  let prom: StartedPrometheus;
  let tmp: string;

  beforeAll(async () => {
    coturn = await startCoturn({ secret: 'the-secret-coturn-has' });
    engine = await startMediaServer({ host: '127.0.0.1', port: 0 });
    svc = await startTestService({
      KMS_URLS: engine.url, TURN_URLS: coturn.urls.join(','), TURN_LOG: coturn.logFile,
      // The failure an operator meets: the service signs credentials with another secret than coturn's.
      TURN_SECRET: 'a-secret-coturn-does-not-have',
    });
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
      jobs: { signaling: [`127.0.0.1:${svc.httpPort}`], turn: [`127.0.0.1:${metricsPort}`] }, ruleFiles: [rulesCopy], interval: '1s',
    });
  });

  afterAll(async () => {
    await prom?.stop();
    await sidecar?.stop();
    await svc?.close();
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

  test('driven failures fire TurnAuthFailures (with the diagnosis), NoMediaServer and UserErrorRate', async () => {
    const firing = async (name: string, pred: (a: PromAlert) => boolean = () => true) => waitFor(async () => {
      const { alerts } = await prom.api<{ alerts: PromAlert[] }>('alerts');
      return alerts.find((a) => a.labels.alertname === name && a.state === 'firing' && pred(a));
    }, 30000, `alert ${name} firing`, 250);
    // Nothing fires while all is well (the scrape works and every part is up).
    await waitFor(async () => (await prom.api<{ result: unknown[] }>('query?query=' + encodeURIComponent('up == 1'))).result.length === 2, 20000, 'both targets up', 250);
    expect((await prom.api<{ alerts: PromAlert[] }>('alerts')).alerts.filter((a) => a.state === 'firing')).toEqual([]);

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

    // 3. The only media server stops.
    await engine.close();
    await waitFor(() => !svc.media.anyUp, 15000, 'the service to see the media server down');
    const media = await firing('NoMediaServer');
    expect(media.labels.instance).toBe(`127.0.0.1:${svc.httpPort}`);
    expect(media.labels.severity).toBe('critical');
  });
});
