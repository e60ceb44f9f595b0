// The whole product in a browser: the service (embedded media engine, in-memory state) on free
// ports, Debian's headless Chromium with a fake camera. A busker goes live with a pin; viewers find
// it on the map, watch (decoded frames, not just a <video>), chat both ways; a late viewer gets
// video within seconds; the busker's network drops and the show goes on; the busker ends it and
// viewers see "ended" while the pin leaves the map. Each page is photographed for the README.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { waitFor } from '../../test-support/ports';
import type { Service } from '../../signaling/src/service';
import { ROOT, WebTest, ensureBuilt, expectVideoFlowing, framesDecoded, startWebService, type ContextOptions } from './support';

const FOUNTAIN = { latitude: 51.50795, longitude: -0.12805 }; // Trafalgar Square
const NEARBY = { latitude: 51.5115, longitude: -0.1230 };
const TURN_FIXTURE = path.join(ROOT, 'turn', 'test', 'fixtures', 'coturn-4.6.1-timestamps.log');

let svc: Service;
let web: WebTest;
let tmp: string;
let turnLog: string;

const context = (opts: ContextOptions = {}) => web.context(opts);
const open = (ctx: Parameters<WebTest['open']>[0], url: string) => web.open(ctx, url);
const pageErrors = (page: Page) => web.pageErrors(page);
const shot = (page: Page, name: string, fullPage = false) => web.shot(page, name, fullPage);

async function chatLines(page: Page): Promise<string[]> {
  return page.$$eval('.chat-log li', (lis) => lis.map((li) => li.textContent ?? ''));
}

beforeAll(async () => {
  await ensureBuilt();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'busking-web-'));
  // A TURN log for the ops page: the first half of a real coturn capture now, the rest later.
  turnLog = path.join(tmp, 'turn.log');
  const lines = fs.readFileSync(TURN_FIXTURE, 'utf8').split('\n');
  fs.writeFileSync(turnLog, lines.slice(0, Math.floor(lines.length / 2)).join('\n') + '\n');
  svc = await startWebService({ TURN_LOG: turnLog });
  web = await WebTest.start(svc);
}, 120000);

afterAll(async () => {
  await web?.close();
  await svc?.close();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

describe('a show, from going live to the end', () => {
  let studio: Page;
  let mapPage: Page;
  let viewers: Page[] = [];
  let buskId = '';

  test('the map is up before anyone is live, and draws the world offline', async () => {
    mapPage = await open(await context(), '/');
    await waitFor(async () => (await mapPage.textContent('#list-status'))?.includes('Nobody is busking'), 10000, 'the empty list');
    await mapPage.waitForSelector('#map .leaflet-overlay-pane path, #map canvas', { timeout: 10000 }); // Natural Earth outlines
    await mapPage.waitForSelector('.city-label', { timeout: 10000 });
    expect(await mapPage.textContent('#link-state')).toBe('Connected');
  });

  test('a busker signs in, turns on the camera, pins the location and goes live', async () => {
    studio = await open(await context({ geolocation: FOUNTAIN }), '/studio.html');
    await studio.getByLabel('Your name').fill('Ana');
    await studio.getByRole('button', { name: 'Sign in' }).click();
    await studio.getByText('Signed in as').waitFor();
    await studio.getByRole('button', { name: 'Turn on camera' }).click();
    await waitFor(() => studio.$eval('#preview', (v) => (v as HTMLVideoElement).videoWidth > 0), 10000, 'the camera preview');
    expect(await studio.$$eval('#camera option', (o) => o.length)).toBeGreaterThan(0);
    await studio.getByLabel('Title').fill('Saxophone by the fountain');
    await studio.getByLabel('Hashtags').fill('#jazz, sax');
    await studio.getByLabel('Description').fill('Standards and <b>requests</b>');
    await studio.getByLabel('Use my location').check();
    await waitFor(async () => (await studio.textContent('#where-status'))?.includes('Pin at your location'), 10000, 'the pin');
    await studio.getByRole('button', { name: 'Go live' }).click();
    await waitFor(async () => (await studio.textContent('#busk-state')) === 'You are live', 30000, 'live');
    await waitFor(async () => (await studio.textContent('#media-health')) === 'Flowing', 15000, 'media flowing');
    buskId = new URL(await studio.getAttribute('#watch-link', 'href') ?? '', svc.url).searchParams.get('busk') ?? '';
    expect(buskId).not.toBe('');
  }, 60000);

  test('the pin appears on the open map without a reload, with the busk in the list', async () => {
    await mapPage.locator(`.busk[data-busk="${buskId}"]`).waitFor({ timeout: 10000 });
    await mapPage.locator(`.pin[data-busk="${buskId}"]`).waitFor({ timeout: 10000 });
    expect(await mapPage.textContent(`.busk[data-busk="${buskId}"]`)).toContain('#jazz');
    // The hashtag filter hides it for another tag and shows it for its own.
    await mapPage.getByLabel('Filter by hashtag').fill('opera');
    await mapPage.locator(`.busk[data-busk="${buskId}"]`).waitFor({ state: 'detached' });
    await mapPage.getByLabel('Filter by hashtag').fill('#jazz');
    await mapPage.locator(`.busk[data-busk="${buskId}"]`).waitFor();
  });

  test('two viewers open it from the map and see decoded video', async () => {
    for (const phone of [false, true]) {
      const page = await open(await context({ phone, geolocation: NEARBY }), '/');
      if (phone) await page.getByRole('button', { name: 'Near me' }).click();
      await page.locator(`.busk[data-busk="${buskId}"] a.title`).click();
      await page.waitForURL(/watch\.html\?busk=/);
      viewers.push(page);
    }
    for (const v of viewers) {
      await waitFor(async () => (await v.getAttribute('#watch-state', 'data-state')) === 'live', 15000, 'viewer live');
      await expectVideoFlowing(v);
      expect(await v.textContent('#title')).toBe('Saxophone by the fountain');
      expect(await v.textContent('#description')).toBe('Standards and <b>requests</b>'); // as text
    }
    await waitFor(async () => (await studio.textContent('#viewer-count')) === '2 watching', 10000, 'busker sees 2 viewers');
    // The phone viewer shared its position on the map: distance and directions are there.
    expect(await viewers[1].textContent('#distance')).toMatch(/m away|km away/);
    expect(await viewers[1].getAttribute('#directions', 'href')).toContain('openstreetmap.org/directions');
    expect(await viewers[1].getAttribute('#geo-link', 'href')).toMatch(/^geo:51\.50795\d*,-0\.12805/);
  }, 60000);

  test('chat goes both ways; guests are labelled as such', async () => {
    await viewers[0].getByRole('textbox', { name: 'Chat message' }).fill('Play Take Five!');
    await viewers[0].getByRole('button', { name: 'Send' }).click();
    await waitFor(async () => (await chatLines(studio)).some((l) => l.includes('Play Take Five!')), 10000, 'busker sees the request');
    await waitFor(async () => (await chatLines(viewers[1])).some((l) => l.includes('Play Take Five!')), 10000, 'other viewer sees it');
    const guest = await studio.locator('.chat-log li', { hasText: 'Play Take Five!' }).locator('.who').textContent();
    expect(guest).toMatch(/guest/i);
    await studio.getByRole('textbox', { name: 'Chat message' }).fill('Coming right up <3');
    await studio.getByRole('button', { name: 'Send' }).click();
    for (const v of viewers) {
      await waitFor(async () => (await chatLines(v)).some((l) => l.includes('Ana') && l.includes('Coming right up <3')), 10000, 'viewers see the answer');
    }
    await shot(studio, 'studio', true);
    await shot(viewers[0], 'watch');
    await shot(viewers[1], 'watch-phone', true);
    await mapPage.getByLabel('Filter by hashtag').fill('');
    await waitFor(async () => (await mapPage.textContent(`.busk[data-busk="${buskId}"]`))?.includes('2 watching'), 10000, 'map shows 2 watching');
    await shot(mapPage, 'map');
    const phoneMap = await open(await context({ phone: true, geolocation: NEARBY }), '/');
    await phoneMap.getByRole('button', { name: 'Near me' }).click();
    await phoneMap.locator(`.busk[data-busk="${buskId}"]`).waitFor();
    await waitFor(async () => (await phoneMap.textContent(`.busk[data-busk="${buskId}"]`))?.includes('away'), 10000, 'distance in the list');
    await phoneMap.waitForTimeout(500); // let the tiles of the outline settle
    await shot(phoneMap, 'map-phone', true);
  }, 60000);

  test('a third viewer joins late and sees video within seconds', async () => {
    const late = await open(await context(), `/watch.html?busk=${buskId}`);
    viewers.push(late);
    const t0 = Date.now();
    await waitFor(async () => (await framesDecoded(late)) > 0, 8000, 'late viewer frames');
    await expectVideoFlowing(late);
    expect(Date.now() - t0).toBeLessThan(10000);
    await waitFor(async () => (await studio.textContent('#viewer-count')) === '3 watching', 10000, 'busker sees 3 viewers');
    // Chat history is replayed to the latecomer.
    await waitFor(async () => (await chatLines(late)).some((l) => l.includes('Play Take Five!')), 10000, 'history replayed');
  }, 30000);

  test("the busker's network drops briefly and the show continues", async () => {
    const ctx = studio.context();
    await ctx.setOffline(true);
    await waitFor(async () => (await studio.textContent('#link-state')) !== 'Connected', 10000, 'the studio notices the drop');
    await studio.waitForTimeout(2000);
    await ctx.setOffline(false);
    await waitFor(async () => (await studio.textContent('#link-state')) === 'Connected', 20000, 'the studio reconnects');
    await waitFor(async () => (await studio.textContent('#busk-state')) === 'You are live', 20000, 'live again');
    await waitFor(async () => (await studio.textContent('#media-health')) === 'Flowing', 20000, 'media flowing again');
    for (const v of viewers) {
      await waitFor(async () => (await v.getAttribute('#watch-state', 'data-state')) === 'live', 20000, 'viewer live again');
      await expectVideoFlowing(v, 15000);
    }
    // Still listed on the map, never having ended.
    expect(await mapPage.locator(`.busk[data-busk="${buskId}"]`).count()).toBe(1);
  }, 90000);

  test('the busker ends the show: viewers see "ended" and the pin leaves the map', async () => {
    await studio.getByRole('button', { name: 'End show' }).click();
    await waitFor(async () => (await studio.textContent('#busk-state'))?.startsWith('Show ended'), 10000, 'studio ended');
    for (const v of viewers) {
      await waitFor(async () => (await v.getAttribute('#watch-state', 'data-state')) === 'ended', 10000, 'viewer sees ended');
      expect(await v.textContent('#watch-state')).toContain('ended');
    }
    await shot(viewers[0], 'watch-ended');
    await mapPage.locator(`.pin[data-busk="${buskId}"]`).waitFor({ state: 'detached', timeout: 10000 });
    await mapPage.locator(`.busk[data-busk="${buskId}"]`).waitFor({ state: 'detached', timeout: 10000 });
    expect(await mapPage.textContent('#list-status')).toContain('Nobody is busking');
    for (const p of [studio, mapPage, ...viewers]) expect(pageErrors(p)).toEqual([]);
  }, 30000);
});

describe('ops page', () => {
  test('an ops user sees the TURN monitor and the service figures, live', async () => {
    const page = await open(await context(), '/ops.html');
    // Live events need the STOMP session that signed in as ops (the page reconnects after sign-in).
    let opsSubscribed = false;
    let signedInSocket = false;
    page.on('websocket', (ws) => ws.on('framesent', (f) => {
      const frame = String(f.payload);
      if (frame.startsWith('CONNECT') && frame.includes('passcode:')) signedInSocket = true;
      if (signedInSocket && frame.startsWith('SUBSCRIBE') && frame.includes('/topic/ops.turn')) opsSubscribed = true;
    }));
    await page.getByLabel('Your name').fill('Olu');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#ops-panels').waitFor();
    await waitFor(async () => ((await page.textContent('#turn-figures')) ?? '').includes('Live sessions'), 10000, 'TURN figures');
    await waitFor(async () => ((await page.textContent('#service-figures')) ?? '').includes('Sessions'), 10000, 'service figures');
    await waitFor(() => opsSubscribed, 10000, 'the ops STOMP subscription');
    await page.waitForTimeout(300);
    // The rest of the coturn log arrives while the page is open: live events appear.
    const lines = fs.readFileSync(TURN_FIXTURE, 'utf8').split('\n');
    fs.appendFileSync(turnLog, lines.slice(Math.floor(lines.length / 2)).join('\n'));
    await waitFor(async () => (await page.$$('#turn-events li')).length > 0, 15000, 'live TURN events');
    await page.waitForTimeout(300);
    await shot(page, 'ops', true);
    expect(pageErrors(page)).toEqual([]);
  }, 30000);

  test('a busker without the ops role is told so', async () => {
    const page = await open(await context(), '/ops.html');
    await page.evaluate(async () => {
      const r = await fetch('/api/dev/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Bo', roles: ['busker'] }) });
      localStorage.setItem('busking.token', ((await r.json()) as { token: string }).token);
    });
    await page.reload();
    await page.getByText('lacks the "ops" role').waitFor();
    expect(await page.isHidden('#ops-panels')).toBe(true);
  });
});

describe('a pin placed by hand', () => {
  test('the busker places the pin on the map, goes live, and moves it while live', async () => {
    const mapPage = await open(await context(), '/');
    const studio = await open(await context(), '/studio.html');
    await studio.getByLabel('Your name').fill('Bo');
    await studio.getByRole('button', { name: 'Sign in' }).click();
    await studio.getByText('Signed in as').waitFor();
    await studio.getByLabel('Title').fill('Fire juggling');
    await studio.getByLabel('Place a pin on the map').check();
    await studio.getByRole('button', { name: 'Pin at map centre' }).click(); // the keyboard way
    await waitFor(async () => (await studio.textContent('#where-status'))?.includes('Pin placed'), 5000, 'pin placed');
    await studio.getByRole('button', { name: 'Go live' }).click(); // turns the camera on by itself
    await waitFor(async () => (await studio.textContent('#busk-state')) === 'You are live', 30000, 'live');
    const id = new URL(await studio.getAttribute('#watch-link', 'href') ?? '', svc.url).searchParams.get('busk') ?? '';
    const first = (await (await fetch(`${svc.url}/api/busks/${id}`)).json()) as { location: { lat: number; lng: number } };
    expect(first.location).not.toBeNull();
    await mapPage.locator(`.pin[data-busk="${id}"]`).waitFor({ timeout: 10000 });

    // A click elsewhere on the map moves the pin of the live show.
    const box = (await studio.locator('#pin-map').boundingBox())!;
    await studio.mouse.click(box.x + box.width * 0.8, box.y + box.height * 0.3);
    await waitFor(async () => {
      const b = (await (await fetch(`${svc.url}/api/busks/${id}`)).json()) as { location: { lat: number; lng: number } };
      return b.location.lat !== first.location.lat || b.location.lng !== first.location.lng;
    }, 10000, 'the pin to move');
    // The moved pin may be out of view now: "Show on map" in the list brings it into view.
    await mapPage.locator(`.busk[data-busk="${id}"]`).getByRole('button', { name: /Show .* on the map/ }).click();
    await mapPage.locator(`.pin[data-busk="${id}"]`).waitFor({ timeout: 10000 });
    // No pin: the show stays listed, the pin leaves the map.
    await studio.getByLabel('No pin').check();
    await mapPage.locator(`.pin[data-busk="${id}"]`).waitFor({ state: 'detached', timeout: 10000 });
    expect(await mapPage.textContent(`.busk[data-busk="${id}"]`)).toContain('no pin');
    await studio.getByRole('button', { name: 'End show' }).click();
    await mapPage.locator(`.busk[data-busk="${id}"]`).waitFor({ state: 'detached', timeout: 10000 });
    for (const p of [studio, mapPage]) expect(pageErrors(p)).toEqual([]);
  }, 60000);
});
