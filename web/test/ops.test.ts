// The ops page over time, in Chromium against the real service: a real coturn whose log the service
// follows, real TURN allocations (turnutils_uclient) with the credentials the service hands out and
// with a wrong password, a busk from a Node WebRTC presenter with a viewer and chat. The service keeps
// a point every 400 ms instead of every minute (ServiceOptions.ops.pointMs): the charts fill in
// seconds, not minutes. Checked: the four charts are drawn by uPlot with points that carry the driven
// traffic, the diagnosis shows with its start, the busk health list names the busk; at phone width
// nothing overflows sideways. Then a busk whose presenter's media stops comes first in the health
// list, and its diagnosis shows with its start and its end (the ops clock is moved past the 30 s).
import type { Page } from 'playwright-core';
import { ensureBuilt, startWebService, WebTest } from './support';
import { startCoturn, StartedCoturn } from '../../test-support/coturn';
import { waitFor } from '../../test-support/ports';
import type { Service } from '../../signaling/src/service';
import { StompTestClient } from '../../signaling/test/support/stomp-client';
import { PeerHost, startBusk, watchBusk } from '../../signaling/test/support/peers';
import { runUclient } from '../../turn/test/uclient';
import type { OpsPoint } from '../../signaling/src/ops';

jest.setTimeout(120000);

const POINT_MS = 400;
let coturn: StartedCoturn;
let svc: Service;
let web: WebTest;
let host: PeerHost;
/** Added to the service's ops clock (how long a busk has been stalled). */
let opsClockAheadMs = 0;
const clients: StompTestClient[] = [];

beforeAll(async () => {
  await ensureBuilt();
  coturn = await startCoturn({ secret: 'ops-page-turn-secret' });
  svc = await startWebService({ TURN_URLS: coturn.urls.join(','), TURN_SECRET: coturn.secret, TURN_LOG: coturn.logFile, DEV_TOKENS: 'true', JWT_SECRET: 'ops-page-jwt-secret'.padEnd(40, 'x') },
    { ops: { pointMs: POINT_MS, pollMs: 200, now: () => Date.now() + opsClockAheadMs } });
  web = await WebTest.start(svc);
  host = new PeerHost();
});

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  host?.stop();
  await web?.close();
  await svc?.close();
  await coturn?.stop();
});

async function token(name: string, roles: string[]): Promise<string> {
  const r = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, roles }) });
  return ((await r.json()) as { token: string }).token;
}

async function history(): Promise<{ points: OpsPoint[]; diagnoses: Array<{ id: string; startedAt: string; endedAt: string | null }>; busks: Array<{ id: string; viewers: number; media: string }> }> {
  const r = await fetch(`${svc.url}/api/ops/history`, { headers: { authorization: `Bearer ${await token('ops-reader', ['ops'])}` } });
  expect(r.status).toBe(200);
  return r.json() as never;
}

async function signIn(page: Page): Promise<void> {
  await page.getByLabel('Your name').fill('Olu');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#ops-panels').waitFor();
}

/** data-points of each chart figure, by chart id. */
const chartPoints = (page: Page) => page.$$eval('#ops-charts figure.chart', (fs) => Object.fromEntries(fs.map((f) => [(f as HTMLElement).dataset.chart, Number((f as HTMLElement).dataset.points)])));

test('the history needs role ops', async () => {
  expect((await fetch(`${svc.url}/api/ops/history`)).status).toBe(401);
  expect((await fetch(`${svc.url}/api/ops/history`, { headers: { authorization: `Bearer ${await token('bo', ['busker'])}` } })).status).toBe(403);
});

test('after driven traffic the charts show it, with the diagnosis and the busk health', async () => {
  // A busk with a viewer, and chat.
  const busker = await StompTestClient.connect(svc.stompUrl, { token: await token('Ama', ['busker']) });
  const viewer = await StompTestClient.connect(svc.stompUrl, {});
  clients.push(busker, viewer);
  const { buskId } = await startBusk(host, busker, { title: 'Ops chart busk' });
  await watchBusk(host, viewer, buskId);
  for (let i = 0; i < 3; i++) expect(await viewer.request(`/app/busk.${buskId}.chat`, { text: `hello ${i}` })).toBe('ok');

  // TURN: allocations with the credentials the service hands out, and with a wrong password.
  const ice = (await (await fetch(`${svc.url}/api/ice-servers`)).json()) as Array<{ username?: string; credential?: string }>;
  const cred = ice.find((s) => s.username)!;
  const good = await runUclient({ port: coturn.port, username: cred.username!, password: cred.credential!, messages: 20 });
  expect(good.code).toBe(0);
  await runUclient({ port: coturn.port, username: cred.username!, password: 'not-the-password', messages: 1, timeoutMs: 4000 });

  // The service's points carry it (points come every POINT_MS; the busk, chat and TURN are in them).
  await waitFor(async () => {
    const h = await history();
    return h.points.some((p) => p.busks >= 1 && p.viewers >= 1 && p.stompSessions >= 2) && h.points.some((p) => p.chatPerMinute > 0)
      && h.points.some((p) => (p.turnRelayedBytesPerSecond ?? 0) > 0) && h.points.some((p) => (p.authFailuresPerMinute['wrong-secret'] ?? 0) > 0)
      && h.points.some((p) => p.mediaServersUp === 1 && p.mediaObjects >= 3);
  }, 30000, 'the traffic in the history points', 200);

  const page = await web.open(await web.context(), '/ops.html');
  await signIn(page);
  await waitFor(async () => {
    const pts = await chartPoints(page);
    return ['turn', 'auth', 'live', 'media'].every((id) => (pts[id] ?? 0) >= 5);
  }, 20000, 'four charts with points', 200);
  // uPlot drew them: a canvas per chart, a legend naming the series.
  expect(await page.$$eval('#ops-charts figure.chart .uplot canvas', (cs) => cs.length)).toBe(4);
  const legends = await page.$$eval('#ops-charts .u-legend', (ls) => ls.map((l) => l.textContent ?? ''));
  expect(legends.join(' ')).toMatch(/sessions.*relayed/);
  expect(legends.join(' ')).toContain('wrong-secret');
  expect(legends.join(' ')).toMatch(/busks.*viewers.*chat\/min.*STOMP sessions/);
  expect(legends.join(' ')).toMatch(/servers up.*media objects/);
  // The diagnosis with the time it started; the busk in the health list.
  const diag = page.locator('#diagnosis-timeline li[data-id="wrong-secret"]');
  await diag.waitFor();
  expect(await diag.locator('.when').textContent()).toMatch(/→ ongoing$/);
  await page.locator(`#busk-health tr[data-busk="${buskId}"]`).waitFor();
  expect(await page.textContent(`#busk-health tr[data-busk="${buskId}"]`)).toContain('Ops chart busk');
  await page.waitForTimeout(300);
  await web.shot(page, 'ops-charts', true);
  expect(web.pageErrors(page)).toEqual([]);

  // A phone: the charts fit the width, nothing scrolls sideways.
  const phone = await web.open(await web.context({ phone: true }), '/ops.html');
  await signIn(phone);
  await waitFor(async () => Object.keys(await chartPoints(phone)).length === 4, 20000, 'the charts on a phone', 200);
  const widths = await phone.evaluate(() => ({
    page: document.documentElement.scrollWidth, viewport: window.innerWidth,
    charts: Array.from(document.querySelectorAll("#ops-charts .uplot")).map((u) => u.getBoundingClientRect().right),
  }));
  expect(widths.page).toBeLessThanOrEqual(widths.viewport);
  for (const right of widths.charts) expect(right).toBeLessThanOrEqual(widths.viewport);
  await web.shot(phone, 'ops-charts-phone', true);
  expect(web.pageErrors(phone)).toEqual([]);
});

test('a stalled busk comes first in the health list; its diagnosis shows when it started and ended', async () => {
  const busker = await StompTestClient.connect(svc.stompUrl, { token: await token('Kofi', ['busker']) });
  clients.push(busker);
  const { buskId, presenter } = await startBusk(host, busker, { title: 'Frozen busk' });
  await waitFor(async () => (await history()).busks.find((b) => b.id === buskId)?.media === 'flowing', 20000, 'the busk flowing', 200);
  await presenter.close(); // its media stops; its STOMP session stays
  await waitFor(async () => (await history()).busks.find((b) => b.id === buskId)?.media === 'stalled', 20000, 'the busk stalled', 200);
  opsClockAheadMs += 31000;
  await waitFor(async () => (await history()).diagnoses.some((d) => d.id === 'busk-stalled'), 10000, 'the stall diagnosed', 200);

  const page = await web.open(await web.context({ phone: true }), '/ops.html');
  await signIn(page);
  const first = page.locator('#busk-health tbody tr').first();
  await page.waitForFunction((id) => document.querySelector('#busk-health tbody tr')?.getAttribute('data-busk') === id, buskId, { timeout: 20000 });
  expect(await first.textContent()).toMatch(/^Frozen busk\s*stalled 3\d s/);
  await page.locator('#diagnosis-timeline li[data-id="busk-stalled"]').waitFor({ timeout: 20000 });

  expect(await busker.request(`/app/busk.${buskId}.leave`, {})).toBe('ok');
  const ended = page.locator('#diagnosis-timeline li[data-id="busk-stalled"].ended');
  await ended.waitFor({ timeout: 20000 });
  const when = (await ended.locator('.when').textContent())!;
  expect(when).toMatch(/^.+ → .+$/);
  expect(when).not.toContain('ongoing');
  expect(web.pageErrors(page)).toEqual([]);
});
