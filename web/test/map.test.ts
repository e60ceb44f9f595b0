// The live map when it gets crowded, and with a tile server configured.
// - Six buskers go live within a few hundred metres of each other (through the STOMP API: a busk and
//   its pin exist from /app/busk.start on, before any media flows, and the map lists them from then
//   on). Zoomed out they are one cluster marker counting six; one ends and the count drops without a
//   reload; a click, or Enter on the focused cluster, zooms in and splits it into single pins; the
//   list beside the map shows every busk all along.
// - With TILE_URL pointing at a tile server (a tiny one this test runs), the map draws its tiles and
//   not the bundled offline outline.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import type { Page } from 'playwright-core';
import { waitFor } from '../../test-support/ports';
import type { Service } from '../../signaling/src/service';
import { StompTestClient } from '../../signaling/test/support/stomp-client';
import { WebTest, devToken, ensureBuilt, startWebService } from './support';

const ROSSIO = { lat: 38.7139, lng: -9.1394 }; // Lisbon
// A 3 × 2 grid, about 175 m between neighbours: one spot of a few hundred metres.
const SPOTS = [0, 1, 2, 3, 4, 5].map((i) => ({ lat: ROSSIO.lat + (i % 3) * 0.0016, lng: ROSSIO.lng + Math.floor(i / 3) * 0.0022 }));

let web: WebTest;
const services: Service[] = [];

beforeAll(async () => {
  await ensureBuilt();
  services.push(await startWebService());
  web = await WebTest.start(services[0]);
}, 120000);

afterAll(async () => {
  await web?.close();
  for (const s of services) await s.close().catch(() => undefined);
});

interface Busker { client: StompTestClient; buskId: string }

/** A busker who goes live with a pin through the STOMP API alone (no media). */
async function goLive(svc: Service, name: string, location: { lat: number; lng: number }): Promise<Busker> {
  const client = await StompTestClient.connect(svc.stompUrl, { token: await devToken(svc, name, ['busker']) });
  const queue = await client.subscribeSync('/user/queue/busk');
  // Not client.request(): the loser of its race (the error inbox) keeps polling for 20 s, holding jest.
  client.send('/app/busk.start', { title: `${name} plays`, hashtags: ['lisbon'], location });
  const started = await queue.type('started', 10000).catch(() => { throw new Error(`busk.start refused: ${JSON.stringify(client.errors.messages.map((m) => m.body))}`); });
  return { client, buskId: started.buskId };
}

async function clusterCounts(page: Page): Promise<string[]> {
  return page.$$eval('#map .marker-cluster', (els) => els.map((e) => (e.textContent ?? '').trim()));
}

async function pinIds(page: Page): Promise<string[]> {
  return (await page.$$eval('#map .pin[data-busk]', (els) => els.map((e) => e.getAttribute('data-busk') ?? ''))).sort();
}

async function listIds(page: Page): Promise<string[]> {
  return (await page.$$eval('#busk-list .busk', (els) => els.map((e) => e.getAttribute('data-busk') ?? ''))).sort();
}

describe('a crowded square', () => {
  const buskers: Busker[] = [];
  let page: Page;

  afterAll(async () => {
    for (const b of buskers) await b.client.close().catch(() => undefined);
  });

  test('six busks close together: listed, and one cluster marker counting six', async () => {
    const svc = services[0];
    for (let i = 0; i < SPOTS.length; i++) buskers.push(await goLive(svc, `Player ${i + 1}`, SPOTS[i]));
    // Not a frame of media yet: the busks are on the map as soon as they start.
    const listed = (await (await fetch(`${svc.url}/api/busks`)).json()) as { id: string; media: string }[];
    expect(listed.map((b) => b.media)).toEqual(SPOTS.map(() => 'connecting'));

    page = await web.open(await web.context(), '/');
    const ids = buskers.map((b) => b.buskId).sort();
    await waitFor(async () => (await listIds(page)).length === 6, 10000, 'six busks in the list');
    expect(await listIds(page)).toEqual(ids);
    await waitFor(async () => (await clusterCounts(page)).join() === '6', 10000, 'one cluster of six');
    expect(await pinIds(page)).toEqual([]);
    const cluster = page.locator('#map .marker-cluster');
    expect(await cluster.getAttribute('aria-label')).toBe('6 live busks here: zoom in');
    expect(await cluster.getAttribute('role')).toBe('button');
    await page.evaluate(() => { (window as unknown as { sameDocument: boolean }).sameDocument = true; });
  }, 60000);

  test('a busk that ends leaves the cluster count, without a reload', async () => {
    const gone = buskers.shift()!;
    gone.client.send(`/app/busk.${gone.buskId}.leave`, {});
    await waitFor(async () => (await clusterCounts(page)).join() === '5', 10000, 'the cluster to count five');
    await waitFor(async () => (await listIds(page)).length === 5, 10000, 'five busks in the list');
    expect(await listIds(page)).not.toContain(gone.buskId);
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect(await page.textContent('#list-status')).toContain('5 live busks');
    expect(gone.client.errors.messages).toEqual([]);
    await gone.client.close();
  });

  test('a click on the cluster zooms in and splits it into single pins; the list keeps them all', async () => {
    const ids = buskers.map((b) => b.buskId).sort();
    await page.locator('#map .marker-cluster').click();
    // Once the zoom animation is over: five pins, no cluster.
    await waitFor(async () => (await pinIds(page)).join() === ids.join() && (await clusterCounts(page)).length === 0, 10000, 'five single pins');
    expect(await listIds(page)).toEqual(ids);
  });

  test('zoomed out again they cluster again; Enter on the focused cluster splits it too', async () => {
    const ids = buskers.map((b) => b.buskId).sort();
    for (let i = 0; i < 12 && (await clusterCounts(page)).join() !== '5'; i++) {
      await page.getByRole('button', { name: 'Zoom out' }).click();
      await page.waitForTimeout(500); // the zoom animation
    }
    await waitFor(async () => (await clusterCounts(page)).join() === '5' && (await pinIds(page)).length === 0, 5000, 'one cluster of five');
    await page.locator('#map .marker-cluster').focus();
    await page.keyboard.press('Enter');
    await waitFor(async () => (await pinIds(page)).join() === ids.join() && (await clusterCounts(page)).length === 0, 10000, 'five single pins after Enter');
    expect(await listIds(page)).toEqual(ids);
    expect(web.pageErrors(page)).toEqual([]);
  });
});

// ---- a tile server --------------------------------------------------------------------------------

function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A 256 × 256 RGB PNG: a pale checkerboard, so a tile is visibly a tile. */
function tilePng(): Buffer {
  const size = 256;
  const raw = Buffer.alloc((size * 3 + 1) * size);
  for (let y = 0; y < size; y++) {
    const row = y * (size * 3 + 1); // filter byte 0 (none) first
    for (let x = 0; x < size; x++) {
      const light = ((x >> 5) + (y >> 5)) % 2 === 0;
      raw.set(light ? [0xe8, 0xf0, 0xe0] : [0xc8, 0xd8, 0xc0], row + 1 + x * 3);
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter, no interlace
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

interface TileServer { url: string; requests: string[]; close(): Promise<void> }

async function startTileServer(): Promise<TileServer> {
  const png = tilePng();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const m = /^\/(\d+)\/(\d+)\/(\d+)\.png$/.exec(req.url ?? '');
    if (!m) { res.writeHead(404).end(); return; }
    requests.push(req.url!);
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length, 'cache-control': 'no-store' }).end(png);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('with a tile server configured', () => {
  let tiles: TileServer;
  let svc: Service;

  beforeAll(async () => {
    tiles = await startTileServer();
    svc = await startWebService({ TILE_URL: `${tiles.url}/{z}/{x}/{y}.png` });
    services.push(svc);
  }, 60000);

  afterAll(async () => { await tiles?.close(); });

  test('the map loads and shows its tiles, and not the offline outline', async () => {
    const fetched: string[] = [];
    const page = await web.open(await web.context({}, svc), '/', (p) => { p.on('request', (r) => fetched.push(r.url())); });
    await waitFor(async () => (await page.textContent('#list-status'))?.includes('Nobody is busking'), 10000, 'the empty list');
    await waitFor(async () => (await page.$$('#map img.leaflet-tile-loaded')).length >= 4, 10000, 'tiles loaded');
    const shown = await page.$$eval('#map img.leaflet-tile-loaded', (imgs) => imgs.map((i) => {
      const img = i as HTMLImageElement;
      return { src: img.src, complete: img.complete, w: img.naturalWidth, h: img.naturalHeight, opacity: getComputedStyle(img).opacity };
    }));
    for (const t of shown) {
      expect(t.src.startsWith(`${tiles.url}/`)).toBe(true);
      expect(t).toMatchObject({ complete: true, w: 256, h: 256 });
    }
    await waitFor(async () => (await page.$$eval('#map img.leaflet-tile-loaded', (imgs) => imgs.every((i) => getComputedStyle(i).opacity === '1'))), 5000, 'tiles faded in');
    expect(tiles.requests.length).toBeGreaterThanOrEqual(shown.length);
    expect(tiles.requests.every((u) => /^\/2\/\d+\/\d+\.png$/.test(u))).toBe(true); // the world view, zoom 2
    // The offline base map stays out of it: no outline data fetched, no outline drawn, no city labels.
    expect(fetched.filter((u) => /countries-\d+m\.json|cities\.json/.test(u))).toEqual([]);
    expect(await page.$eval('#map', (m) => m.classList.contains('offline-map'))).toBe(false);
    expect(await page.$$('#map .city-label')).toHaveLength(0);
    expect(await page.$$('#map .leaflet-world-pane path, #map .leaflet-world-pane canvas')).toHaveLength(0);
    // Zooming in asks the tile server for the next level.
    await page.getByRole('button', { name: 'Zoom in' }).click();
    await waitFor(() => tiles.requests.some((u) => u.startsWith('/3/')), 10000, 'zoom 3 tiles requested');
    expect(web.pageErrors(page)).toEqual([]);
  }, 60000);
});
