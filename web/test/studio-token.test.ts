// A show outlives the busker's token. The service ends a session whose token expires unless the
// client sent /app/auth.refresh first (PROTOCOL.md); the studio keeps its token fresh:
// - development sign-in: a busker with a 20 s token goes live and stays live well past two token
//   lifetimes: one STOMP socket throughout, no ERROR, viewers joining after the first expiry get
//   video, and the busker and an observer still get `viewers` updates;
// - a token from elsewhere and no refresh source: the studio warns before it expires, and a token
//   pasted into the warning renews the session in place;
// - an embedding app's `window.busking.refreshToken` hook is used when present.
import type { Page } from 'playwright-core';
import { waitFor } from '../../test-support/ports';
import type { Service } from '../../signaling/src/service';
import { StompTestClient } from '../../signaling/test/support/stomp-client';
import { WebTest, devToken, ensureBuilt, expectVideoFlowing, startWebService } from './support';

const TTL_S = 20;

let svc: Service;
let web: WebTest;

beforeAll(async () => {
  await ensureBuilt();
  svc = await startWebService();
  web = await WebTest.start(svc);
}, 120000);

afterAll(async () => {
  await web?.close();
  await svc?.close();
});

function expOf(token: string): number {
  return (JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number }).exp * 1000;
}

interface Wire { sockets: number; closed: number; errors: string[]; refreshes: number }

/** The studio's STOMP traffic as the browser sees it. */
function watchWire(page: Page): Wire {
  const wire: Wire = { sockets: 0, closed: 0, errors: [], refreshes: 0 };
  page.on('websocket', (ws) => {
    wire.sockets++;
    ws.on('close', () => { wire.closed++; });
    ws.on('framereceived', (f) => { const s = String(f.payload); if (s.startsWith('ERROR')) wire.errors.push(s); });
    ws.on('framesent', (f) => { const s = String(f.payload); if (s.startsWith('SEND') && s.includes('destination:/app/auth.refresh')) wire.refreshes++; });
  });
  return wire;
}

/** A studio page signed in with `token` (kept in localStorage as the sign-in box would). */
async function studioWith(token: string, source: 'dev' | 'external', extraInit?: string): Promise<{ page: Page; wire: Wire }> {
  let wire: Wire | null = null;
  const page = await web.open(await web.context(), '/studio.html', async (p) => {
    wire = watchWire(p);
    await p.addInitScript(([t, s]) => {
      if (sessionStorage.getItem('seeded')) return;
      sessionStorage.setItem('seeded', '1');
      localStorage.setItem('busking.token', t);
      localStorage.setItem('busking.token.source', s);
    }, [token, source]);
    if (extraInit) await p.addInitScript(extraInit);
  });
  await page.getByText('Signed in as').waitFor();
  await waitFor(async () => (await page.textContent('#link-state')) === 'Connected', 10000, 'the studio connected');
  return { page, wire: wire! };
}

async function storedToken(page: Page): Promise<string | null> {
  return page.evaluate(() => localStorage.getItem('busking.token'));
}

test('development sign-in: a 20 s token, and the show goes on past two of its lifetimes', async () => {
  const first = await devToken(svc, 'Rui', ['busker'], TTL_S);
  const firstExp = expOf(first);
  const { page: studio, wire } = await studioWith(first, 'dev');
  await studio.getByLabel('Title').fill('Fado at dusk');
  await studio.getByRole('button', { name: 'Go live' }).click();
  await waitFor(async () => (await studio.textContent('#busk-state')) === 'You are live', 30000, 'live');
  await waitFor(async () => (await studio.textContent('#media-health')) === 'Flowing', 15000, 'media flowing');
  const buskId = new URL(await studio.getAttribute('#watch-link', 'href') ?? '', svc.url).searchParams.get('busk') ?? '';
  const observer = await StompTestClient.connect(svc.stompUrl);
  try {
    const topic = await observer.subscribeSync(`/topic/busk.${buskId}`);

    // At ~80% of the lifetime a new token is fetched and handed to the open session.
    await waitFor(() => wire.refreshes >= 1, (firstExp - Date.now()) + 5000, 'an auth.refresh before the first expiry');
    expect(Date.now()).toBeLessThan(firstExp);
    const second = (await storedToken(studio))!;
    expect(second).not.toBe(first);
    expect(expOf(second)).toBeGreaterThan(firstExp);

    // Past the first token's expiry: still live, on the same socket, never refused.
    await waitFor(() => Date.now() > firstExp + 2000, TTL_S * 1000, 'the first token to expire');
    expect(await studio.textContent('#busk-state')).toBe('You are live');

    // A viewer arriving now gets video; the busker and an observer get the count.
    const viewer = await web.open(await web.context(), `/watch.html?busk=${buskId}`);
    await waitFor(async () => (await viewer.getAttribute('#watch-state', 'data-state')) === 'live', 15000, 'viewer live');
    await expectVideoFlowing(viewer, 15000);
    await topic.type('viewers', 10000, (b) => b.count === 1);
    await waitFor(async () => (await studio.textContent('#viewer-count')) === '1 watching', 10000, 'busker sees the viewer');

    // And past the second token's expiry too (a second refresh).
    const secondExp = expOf(second);
    await waitFor(() => Date.now() > secondExp + 2000, TTL_S * 1000 + 5000, 'the second token to expire');
    expect(wire.refreshes).toBeGreaterThanOrEqual(2);
    await viewer.close();
    await topic.type('viewers', 10000, (b) => b.count === 0);
    await waitFor(async () => (await studio.textContent('#viewer-count')) === '0 watching', 10000, 'busker sees the viewer leave');

    expect(await studio.textContent('#busk-state')).toBe('You are live');
    expect(await studio.textContent('#link-state')).toBe('Connected');
    expect(await studio.isHidden('#token-warning')).toBe(true);
    expect(wire).toMatchObject({ sockets: 1, closed: 0, errors: [] });
    expect(topic.ofType('ended')).toEqual([]);
    expect(((await (await fetch(`${svc.url}/api/busks/${buskId}`)).json()) as { media: string }).media).toBe('flowing');
    expect(web.pageErrors(studio)).toEqual([]);

    await studio.getByRole('button', { name: 'End show' }).click();
    expect((await topic.type('ended', 10000)).reason).toBe('presenter-left');
  } finally {
    await observer.close();
  }
}, 120000);

test('no refresh source: a visible warning before expiry, and a pasted token renews in place', async () => {
  const first = await devToken(svc, 'Ines', ['busker'], TTL_S); // as if from an identity provider
  const firstExp = expOf(first);
  const { page, wire } = await studioWith(first, 'external');
  const warning = page.locator('#token-warning');
  expect(await warning.isHidden()).toBe(true);
  // Half the lifetime before expiry (at most 10 min) the warning shows.
  await warning.waitFor({ state: 'visible', timeout: TTL_S * 1000 });
  expect(Date.now()).toBeLessThan(firstExp);
  expect(await page.textContent('#token-warning-text')).toMatch(/^Your sign-in expires in (\d+ min|less than a minute)$/);
  expect(wire.refreshes).toBe(0);

  await page.getByLabel('New access token').fill(await devToken(svc, 'Ines', ['busker'], 60));
  await page.getByRole('button', { name: 'Renew sign-in' }).click();
  await warning.waitFor({ state: 'hidden', timeout: 5000 });
  expect(wire.refreshes).toBe(1);
  await waitFor(() => Date.now() > firstExp + 2000, TTL_S * 1000, 'the first token to expire');
  expect(await page.textContent('#link-state')).toBe('Connected');
  await page.getByText('Signed in as').waitFor();
  expect(wire).toMatchObject({ sockets: 1, closed: 0, errors: [] });

  // A token for someone else is refused, and the session keeps its own.
  const kept = await storedToken(page);
  await warning.evaluate((w) => { (w as HTMLElement).hidden = false; });
  await page.getByLabel('New access token').fill(await devToken(svc, 'Somebody Else', ['busker'], 60));
  await page.getByRole('button', { name: 'Renew sign-in' }).click();
  await page.getByText('Could not renew: the new token is for another user').waitFor();
  expect(await storedToken(page)).toBe(kept);
  expect(web.pageErrors(page)).toEqual([]);
}, 120000); // two 20 s token lifetimes of wall clock, plus a browser page on a loaded 2-core CI machine

test("an embedding app's refreshToken hook is used", async () => {
  const first = await devToken(svc, 'Zeca', ['busker'], TTL_S);
  const hook = `window.busking = { refreshToken: async () => {
    window.hookCalls = (window.hookCalls || 0) + 1;
    const r = await fetch('/api/dev/token', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Zeca', roles: ['busker'], ttlSeconds: 60 }) });
    return (await r.json()).token;
  } };`;
  const { page, wire } = await studioWith(first, 'external', hook);
  await waitFor(() => wire.refreshes >= 1, TTL_S * 1000, 'an auth.refresh');
  expect(await page.evaluate(() => (window as unknown as { hookCalls: number }).hookCalls)).toBe(1);
  expect(expOf((await storedToken(page))!)).toBeGreaterThan(expOf(first));
  await waitFor(() => Date.now() > expOf(first) + 2000, TTL_S * 1000, 'the first token to expire');
  expect(await page.isHidden('#token-warning')).toBe(true);
  expect(wire).toMatchObject({ sockets: 1, closed: 0, errors: [] });
  expect(web.pageErrors(page)).toEqual([]);
}, 60000);

test('POST /api/dev/token takes an optional ttlSeconds from 10 s to 24 h', async () => {
  const ask = (body: unknown) => fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  for (const ttlSeconds of [9, 86401, 20.5, '20', null]) expect((await ask({ name: 'T', roles: ['busker'], ttlSeconds })).status).toBe(400);
  const claims = (t: string) => JSON.parse(Buffer.from(t.split('.')[1], 'base64url').toString()) as { iat: number; exp: number };
  const short = claims(((await (await ask({ name: 'T', ttlSeconds: 10 })).json()) as { token: string }).token);
  expect(short.exp - short.iat).toBe(10);
  const plain = claims(((await (await ask({ name: 'T' })).json()) as { token: string }).token);
  expect(plain.exp - plain.iat).toBe(12 * 3600);
});
