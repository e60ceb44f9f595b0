// docker-compose.yml cannot be started here (no Docker engine): it is parsed and checked against the
// repository (mounted files exist, ports, health checks, restart policies) and against the one list
// of configuration variables (signaling/src/config.ts CONFIG_VARS) and .env.example.
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { CONFIG_VARS } from '../../signaling/src/config';

const repo = path.resolve(__dirname, '..', '..');
const composeText = fs.readFileSync(path.join(repo, 'docker-compose.yml'), 'utf8');
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const compose: any = parse(composeText, { merge: true });
const services: Record<string, any> = compose.services; // eslint-disable-line @typescript-eslint/no-explicit-any
const CONFIG_NAMES = new Set(CONFIG_VARS.map((v) => v.name));
/** Read by docker-compose.yml alone (for the kms and coturn containers), documented in .env.example. */
const COMPOSE_ONLY = ['PUBLIC_IP', 'KMS_TURN_URL', 'TURN_ALLOWED_PEER_IPS', 'GRAFANA_ADMIN_PASSWORD', 'POSTGRES_PASSWORD'];
/** CONFIG_VARS the signaling container does not take from .env: the embedded engine's and the sidecar's. */
const NOT_FOR_SIGNALING = ['EMBEDDED_KMS_PORT', 'ENGINE_WORKERS', 'ENGINE_NATIVE_SEND', 'KMS_ACCESS_TOKEN', 'KMS_HOST', 'KMS_PORT', 'RTP_MIN_PORT', 'RTP_MAX_PORT', 'TURN_SIDECAR_BROKER', 'TURN_SIDECAR_TOKEN', 'TURN_SIDECAR_METRICS'];
/** The `monitoring` profile: started only with `docker compose --profile monitoring up`. */
const MONITORING = ['grafana', 'prometheus'];

function envOf(svc: any): Record<string, string> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const e = svc.environment ?? {};
  if (Array.isArray(e)) return Object.fromEntries(e.map((kv: string) => { const i = kv.indexOf('='); return i < 0 ? [kv, ''] : [kv.slice(0, i), kv.slice(i + 1)]; }));
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/** `${NAME}`, `${NAME:-x}`, `${NAME:?msg}` references; `$$` is a literal dollar. */
function interpolated(text: string): string[] {
  const t = text.replace(/\$\$/g, '');
  return [...t.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]);
}

/** Default of `${NAME:-default}` in a value; the value itself when it is literal. */
function defaultOf(value: string): string {
  const m = /^\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]*)\}$/.exec(value);
  return m ? m[1] : value;
}

interface Mount { source: string; target: string; readOnly: boolean; bind: boolean }
function mountsOf(svc: any): Mount[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  return (svc.volumes ?? []).map((v: any) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    if (typeof v === 'string') {
      const [source, target, mode] = v.split(':');
      return { source, target, readOnly: (mode ?? '').split(',').includes('ro'), bind: /^[./~]/.test(source) };
    }
    return { source: v.source, target: v.target, readOnly: !!v.read_only, bind: v.type === 'bind' };
  });
}

describe('docker-compose.yml', () => {
  test('the seven services of the production stack, and Prometheus and Grafana behind the monitoring profile', () => {
    expect(Object.keys(services).sort()).toEqual(['coturn', 'grafana', 'kms', 'minio', 'postgres', 'prometheus', 'redis', 'signaling', 'turn-monitor']);
    for (const [name, svc] of Object.entries(services)) expect([name, svc.profiles]).toEqual([name, MONITORING.includes(name) ? ['monitoring'] : undefined]);
    expect(services.postgres.image).toMatch(/^postgres:15/);
    expect(services.minio.image).toMatch(/^minio\/minio:/);
    expect(services.kms.image).toMatch(/^kurento\/kurento-media-server:7\.\d+\.\d+$/);
    expect(services.coturn.image).toMatch(/^coturn\/coturn:/);
    expect(services.redis.image).toBe('redis:7-alpine');
  });

  test('every service has a restart policy, a health check and bounded logs', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect([name, svc.restart]).toEqual([name, 'unless-stopped']);
      const hc = svc.healthcheck;
      expect([name, Array.isArray(hc?.test) && ['CMD', 'CMD-SHELL'].includes(hc.test[0])]).toEqual([name, true]);
      expect([name, hc.interval && hc.timeout && hc.retries]).toBeTruthy();
      expect([name, svc.logging?.options?.['max-size']]).toEqual([name, '20m']);
    }
    expect(services.signaling.healthcheck.test.join(' ')).toContain('/readyz');
    expect(services.redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect(services.kms.healthcheck.test).toEqual(['CMD', '/healthchecker.sh']);
  });

  test('depends_on waits for health where the dependency has a health check', () => {
    expect(services.signaling.depends_on).toEqual({
      redis: { condition: 'service_healthy' }, kms: { condition: 'service_healthy' },
      postgres: { condition: 'service_healthy' }, minio: { condition: 'service_healthy' },
    });
    expect(services['turn-monitor'].depends_on.signaling).toEqual({ condition: 'service_healthy' });
    for (const svc of Object.values(services)) {
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(Object.keys(services)).toContain(dep);
    }
  });

  test('signaling and turn-monitor are built from the repository Dockerfile (one image)', () => {
    for (const name of ['signaling', 'turn-monitor']) {
      const b = services[name].build;
      expect(fs.existsSync(path.join(repo, b.context, b.dockerfile))).toBe(true);
      expect(services[name].image).toBe(services.signaling.image);
    }
  });

  test('every bind mount is read-only and exists in the repository; named volumes are declared', () => {
    const declared = Object.keys(compose.volumes ?? {});
    for (const [name, svc] of Object.entries(services)) {
      for (const m of mountsOf(svc)) {
        if (m.bind) {
          expect([name, m.source, fs.existsSync(path.resolve(repo, m.source))]).toEqual([name, m.source, true]);
          expect([name, m.source, m.readOnly]).toEqual([name, m.source, true]);
        } else {
          expect(declared).toContain(m.source);
        }
      }
    }
  });

  test('scripts run in containers are the mounted deploy/ scripts', () => {
    for (const [name, svc] of Object.entries(services)) {
      const words = [...(svc.entrypoint ?? []), ...(Array.isArray(svc.command) ? svc.command : [])];
      for (const w of words.filter((x: string) => x.startsWith('/busking/'))) {
        const m = mountsOf(svc).find((mm) => mm.target === w);
        expect([name, w, m?.source]).toEqual([name, w, expect.stringMatching(/^\.\/deploy\/.+\.sh$/)]);
      }
    }
  });

  test('KMS gets kurento/config and an RTP port range published with the same numbers', () => {
    const kms = services.kms;
    const cfg = mountsOf(kms).find((m) => m.target === '/busking/kurento');
    expect(cfg?.source).toBe('./kurento/config');
    for (const f of ['WebRtcEndpoint.conf.ini', 'BaseRtpEndpoint.conf.ini']) expect(fs.existsSync(path.join(repo, 'kurento', 'config', f))).toBe(true);
    const env = envOf(kms);
    expect(env.KMS_MIN_PORT).toMatch(/^\$\{RTP_MIN_PORT:-\d+\}$/);
    expect(env.KMS_MAX_PORT).toMatch(/^\$\{RTP_MAX_PORT:-\d+\}$/);
    const range = `${env.KMS_MIN_PORT}-${env.KMS_MAX_PORT}`;
    expect(kms.ports).toEqual([`${range}:${range}/udp`]);
    // The defaults are the committed BaseRtpEndpoint.conf.ini's, so both setups use one range.
    const ini = fs.readFileSync(path.join(repo, 'kurento', 'config', 'BaseRtpEndpoint.conf.ini'), 'utf8');
    const iniMin = /^minPort=(\d+)/m.exec(ini)?.[1];
    const iniMax = /^maxPort=(\d+)/m.exec(ini)?.[1];
    expect([defaultOf(env.KMS_MIN_PORT), defaultOf(env.KMS_MAX_PORT)]).toEqual([iniMin, iniMax]);
    expect(Number(iniMax)).toBeGreaterThan(Number(iniMin));
    // The Kurento protocol port stays on the compose network.
    expect(kms.expose).toEqual(['8888']);
  });

  test('ports: only the HTTP port (loopback, for the TLS proxy) and the RTP range are published', () => {
    expect(services.signaling.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(services.signaling.expose).toEqual(['61613']);
    expect(services.redis.ports).toBeUndefined();
    expect(services['turn-monitor'].ports).toBeUndefined();
    expect(services.prometheus.ports).toEqual(['127.0.0.1:9090:9090']);
    expect(services.grafana.ports).toEqual(['127.0.0.1:3000:3000']);
    // coturn relays on a large UDP range: host networking, nothing to publish.
    expect(services.coturn.network_mode).toBe('host');
    expect(services.coturn.ports).toBeUndefined();
    const published = Object.values(services).flatMap((s) => (s.ports ?? []) as string[]);
    for (const p of published) expect(p).not.toMatch(/(^|:)(8888|6379|61613)(\/|$)/);
  });

  test('signaling: environment only from CONFIG_VARS, wired to kms, redis and coturn', () => {
    const env = envOf(services.signaling);
    for (const k of Object.keys(env)) expect([k, CONFIG_NAMES.has(k)]).toEqual([k, true]);
    for (const v of CONFIG_VARS) {
      if (!NOT_FOR_SIGNALING.includes(v.name)) expect([v.name, v.name in env]).toEqual([v.name, true]);
    }
    expect(env.HOST).toBe('0.0.0.0');
    expect(env.PORT).toBe('8080');
    expect(env.STOMP_TCP_PORT).toBe('61613');
    expect(defaultOf(env.KMS_URLS)).toBe('ws://kms:8888/kurento');
    expect(defaultOf(env.REDIS_URL)).toBe('redis://redis:6379');
    expect(env.TURN_SECRET).toMatch(/^\$\{TURN_SECRET:\?/);
    expect(services.signaling.env_file).toBeUndefined();
  });

  test('signaling: durable data in PostgreSQL and MinIO of this stack, recordings on a volume', () => {
    const env = envOf(services.signaling);
    const pg = envOf(services.postgres);
    expect(env.DATABASE_URL).toBe(`postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`);
    expect(mountsOf(services.postgres).find((m) => m.target === '/var/lib/postgresql/data')?.bind).toBe(false);
    const minio = envOf(services.minio);
    expect(defaultOf(env.S3_ENDPOINT)).toBe('http://minio:9000');
    expect(services.minio.expose).toEqual(['9000']);
    expect(minio.MINIO_ROOT_USER).toBe(env.S3_ACCESS_KEY_ID);
    expect(minio.MINIO_ROOT_PASSWORD).toBe(env.S3_SECRET_ACCESS_KEY);
    const data = mountsOf(services.signaling).find((m) => env.DATA_DIR.startsWith(`${m.target}/`));
    expect(data?.bind).toBe(false);
    for (const name of ['postgres', 'minio']) expect(services[name].ports).toBeUndefined();
  });

  test('turn-monitor: CONFIG_VARS only, reads the log coturn writes in the shared volume, publishes to signaling over STOMP TCP', () => {
    const mon = envOf(services['turn-monitor']);
    for (const k of Object.keys(mon)) expect([k, CONFIG_NAMES.has(k)]).toEqual([k, true]);
    expect(mon.TURN_SIDECAR_BROKER).toBe(`signaling:${envOf(services.signaling).STOMP_TCP_PORT}`);
    const coturnLog = envOf(services.coturn).TURN_LOG;
    const coturnVol = mountsOf(services.coturn).find((m) => !m.bind && coturnLog.startsWith(`${m.target}/`));
    expect(coturnVol).toBeDefined();
    const monVol = mountsOf(services['turn-monitor']).find((m) => m.source === coturnVol!.source);
    expect(monVol?.readOnly).toBe(true);
    expect(mon.TURN_LOG).toBe(`${monVol!.target}/${coturnLog.slice(coturnVol!.target.length + 1)}`);
    // The sidecar code the command runs is part of the build.
    expect(fs.readFileSync(path.join(repo, 'deploy', 'turn-monitor.sh'), 'utf8')).toContain('dist/turn/src/sidecar.js');
    expect(fs.existsSync(path.join(repo, 'turn', 'src', 'sidecar.ts'))).toBe(true);
  });

  test('coturn is configured from turn/coturn/turnserver.prod.conf with the secret from .env', () => {
    const c = services.coturn;
    expect(mountsOf(c).find((m) => m.target === '/busking/turnserver.prod.conf')?.source).toBe('./turn/coturn/turnserver.prod.conf');
    expect(envOf(c).TURN_SECRET).toMatch(/^\$\{TURN_SECRET:\?/);
    const conf = fs.readFileSync(path.join(repo, 'turn', 'coturn', 'turnserver.prod.conf'), 'utf8');
    const active = conf.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    expect(active).toContain('use-auth-secret');
    expect(active.some((l) => /^realm=\S+/.test(l))).toBe(true);
    // No real secret and no static users (coturn ignores them with use-auth-secret) in the repository.
    for (const l of active.filter((x) => x.startsWith('static-auth-secret'))) expect(l).toMatch(/^static-auth-secret=<[A-Z_]+>$/);
    expect(active.some((l) => /^user=/.test(l))).toBe(false);
    // The health check's STUN port is the one coturn listens on.
    const port = /^listening-port=(\d+)/m.exec(conf)?.[1] ?? '3478';
    expect(c.healthcheck.test.join(' ')).toContain(`-p ${port} `);
  });

  test('monitoring: Prometheus scrapes every signaling node and the TURN sidecar with the repository rules; Grafana gets the dashboards', () => {
    const prom = services.prometheus;
    const mounted = Object.fromEntries(mountsOf(prom).map((m) => [m.target, m.source]));
    expect(mounted['/etc/prometheus/prometheus.yml']).toBe('./deploy/monitoring/prometheus.yml');
    expect(mounted['/etc/prometheus/alerts.yml']).toBe('./deploy/monitoring/alerts.yml');
    expect(prom.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    // METRICS_TOKEN reaches the signaling job's bearer (credentials_file metrics-token, next to prometheus.yml).
    expect(envOf(prom).METRICS_TOKEN).toBe('${METRICS_TOKEN:-}');
    expect(prom.entrypoint.join(' ')).toMatch(/printf '%s' "\$\$METRICS_TOKEN" > \/etc\/prometheus\/metrics-token && exec \/bin\/prometheus "\$\$@"/);
    const cfg = parse(fs.readFileSync(path.join(repo, 'deploy', 'monitoring', 'prometheus.yml'), 'utf8'));
    expect(cfg.rule_files).toEqual(['alerts.yml']); // next to prometheus.yml in the container too
    const jobs = Object.fromEntries(cfg.scrape_configs.map((j: { job_name: string }) => [j.job_name, j]));
    // Every replica of the signaling service: Docker's DNS answers one A record per container.
    expect(jobs.signaling.dns_sd_configs).toEqual([expect.objectContaining({ names: ['signaling'], type: 'A', port: Number(envOf(services.signaling).PORT) })]);
    const sidecarMetrics = envOf(services['turn-monitor']).TURN_SIDECAR_METRICS;
    const sidecarPort = /:(\d+)$/.exec(sidecarMetrics)![1];
    expect(services['turn-monitor'].expose).toEqual([sidecarPort]);
    expect(jobs.turn.static_configs).toEqual([{ targets: [`turn-monitor:${sidecarPort}`] }]);
    const graf = Object.fromEntries(mountsOf(services.grafana).map((m) => [m.target, m.source]));
    expect(graf['/etc/grafana/provisioning']).toBe('./deploy/monitoring/grafana/provisioning');
    const provider = parse(fs.readFileSync(path.join(repo, 'deploy', 'monitoring', 'grafana', 'provisioning', 'dashboards', 'busking.yml'), 'utf8'));
    expect(graf[provider.providers[0].options.path]).toBe('./deploy/monitoring/grafana/dashboards');
    const ds = parse(fs.readFileSync(path.join(repo, 'deploy', 'monitoring', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'));
    expect(ds.datasources[0].url).toBe('http://prometheus:9090');
    expect(services.grafana.depends_on).toEqual({ prometheus: { condition: 'service_healthy' } });
  });

  test('variables: only CONFIG_VARS and the compose-only ones; no literal secret', () => {
    for (const name of interpolated(composeText)) {
      expect([name, CONFIG_NAMES.has(name) || COMPOSE_ONLY.includes(name)]).toEqual([name, true]);
    }
    for (const name of COMPOSE_ONLY) expect(interpolated(composeText)).toContain(name);
    for (const [svcName, svc] of Object.entries(services)) {
      for (const [k, v] of Object.entries(envOf(svc))) {
        if (/SECRET$|_TOKEN$|PASSWORD|_KEY$|KMS_TURN_URL/.test(k)) expect([svcName, k, v === '' || /^\$\{[A-Z][A-Z0-9_]*(:[-?][^}]*)?\}$/.test(v)]).toEqual([svcName, k, true]);
      }
    }
  });
});

describe('.env.example and .gitignore', () => {
  const text = fs.readFileSync(path.join(repo, '.env.example'), 'utf8');
  const lines = text.split('\n');
  const entries = lines.map((l, i) => ({ i, m: /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(l) })).filter((e) => e.m);

  test('every CONFIG_VAR and every compose-only variable is in .env.example, documented by a comment above it', () => {
    const names = entries.map((e) => e.m![2]);
    for (const v of [...CONFIG_VARS.map((c) => c.name), ...COMPOSE_ONLY]) expect([v, names.includes(v)]).toEqual([v, true]);
    for (const e of entries) {
      const name = e.m![2];
      expect([name, CONFIG_NAMES.has(name) || COMPOSE_ONLY.includes(name)]).toEqual([name, true]);
      // A comment right above it, or above the group of settings it belongs to (RTP_MIN_PORT/RTP_MAX_PORT).
      let j = e.i - 1;
      while (j >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[j])) j--;
      expect([name, (lines[j] ?? '').startsWith('#')]).toEqual([name, true]);
    }
  });

  test('nothing secret is committed', () => {
    for (const e of entries) {
      if (/SECRET$|_TOKEN$|PASSWORD|KMS_TURN_URL|PUBLIC_KEY/.test(e.m![2])) expect([e.m![2], e.m![3]]).toEqual([e.m![2], '']);
    }
    const tracked = execFileSync('git', ['ls-files'], { cwd: repo, encoding: 'utf8' }).split('\n');
    expect(tracked).not.toContain('.env');
  });

  test('.env is git-ignored, .env.example is not', () => {
    expect(spawnSync('git', ['check-ignore', '-q', '.env'], { cwd: repo }).status).toBe(0);
    expect(spawnSync('git', ['check-ignore', '-q', '.env.example'], { cwd: repo }).status).toBe(1);
  });
});
