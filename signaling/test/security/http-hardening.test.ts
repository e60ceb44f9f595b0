// Issue 17 item 11, the HTTP side: /metrics had no authentication, and the pages had no CSP,
// X-Frame-Options or Referrer-Policy. Now METRICS_TOKEN makes /metrics answer 401 without
// `Authorization: Bearer <it>` (the monitoring profile's Prometheus sends it from a file, as the
// repository's prometheus.yml says), and every response carries the page security headers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { startTestService } from '../support/service';
import type { Service } from '../../src/service';
import { pageSecurityHeaders } from '../../src/http/app';
import { loadConfig } from '../../src/config';
import { startPrometheus, StartedPrometheus } from '../../../test-support/prometheus';
import { waitFor } from '../../../test-support/ports';

jest.setTimeout(90000);

const TOKEN = 'metrics-token-for-test-0123456789';
let svc: Service;
let prom: StartedPrometheus | undefined;
let tmp: string;

beforeAll(async () => {
  svc = await startTestService({ METRICS_TOKEN: TOKEN });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'metrics-token-'));
});
afterAll(async () => {
  await prom?.stop();
  await svc?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('with METRICS_TOKEN, /metrics answers 401 without the bearer and the figures with it', async () => {
  const none = await fetch(`${svc.url}/metrics`);
  expect(none.status).toBe(401);
  expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
  expect((await fetch(`${svc.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  expect((await fetch(`${svc.url}/metrics`, { headers: { authorization: TOKEN } })).status).toBe(401);
  const ok = await fetch(`${svc.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  expect(ok.status).toBe(200);
  expect(await ok.text()).toMatch(/^# (HELP|TYPE) /m);
  // Health checks stay open (load balancers and compose healthchecks do not carry the token).
  expect((await fetch(`${svc.url}/healthz`)).status).toBe(200);
});

test('a real Prometheus with the repository\'s signaling job authorization scrapes it (up 1)', async () => {
  const repoCfg = parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'deploy', 'monitoring', 'prometheus.yml'), 'utf8'));
  const job = repoCfg.scrape_configs.find((j: { job_name: string }) => j.job_name === 'signaling');
  expect(job.authorization).toEqual({ type: 'Bearer', credentials_file: 'metrics-token' });
  // What docker-compose.yml's prometheus entrypoint writes next to prometheus.yml.
  const file = path.join(tmp, job.authorization.credentials_file);
  fs.writeFileSync(file, TOKEN);
  prom = await startPrometheus({ jobs: { signaling: [`127.0.0.1:${svc.httpPort}`] }, bearerFiles: { signaling: file }, interval: '1s' });
  // Until a scrape succeeds (a first one may time out on a loaded machine); a refused bearer
  // would stay 'down' with "server returned HTTP status 401 Unauthorized".
  let last = '';
  await waitFor(async () => {
    const t = (await prom!.api<{ activeTargets: Array<{ health: string; lastError: string }> }>('targets')).activeTargets[0];
    last = t ? `${t.health} ${t.lastError}` : '';
    return t?.health === 'up';
  }, 30000, 'a successful scrape').catch((e) => { throw new Error(`${(e as Error).message}; last: ${last}`); });
});

test('pages carry CSP, X-Frame-Options and Referrer-Policy', async () => {
  for (const page of ['/', '/watch.html', '/api/config']) {
    const res = await fetch(`${svc.url}${page}`);
    expect([page, res.headers.get('x-frame-options')]).toEqual([page, 'DENY']);
    expect(res.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain(`script-src 'self'`);
    expect(csp).toContain(`frame-ancestors 'none'`);
    expect(csp).toContain(`object-src 'none'`);
  }
});

test('the CSP admits the configured tile server and media origin, and nothing else', () => {
  const csp = pageSecurityHeaders(loadConfig({
    TILE_URL: 'https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png', S3_PUBLIC_URL: 'https://media.example.org/busking',
  }))['Content-Security-Policy'];
  expect(csp).toContain(`img-src 'self' data: blob: https://*.tile.openstreetmap.org https://media.example.org`);
  expect(csp).toContain(`media-src 'self' blob: https://media.example.org`);
  expect(csp).not.toMatch(/script-src[^;]*(https|\*)/);
});
