// What the web app's browser tests share: the built app, the service started in-process on free
// ports, Debian's headless Chromium, browser contexts and pages that record their script errors,
// and development tokens. Every test file makes one `WebTest` and closes it in afterAll.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../test-support/browser';
import { waitFor } from '../../test-support/ports';
import { loadConfig, type Env } from '../../signaling/src/config';
import { startService, type Service, type ServiceOptions } from '../../signaling/src/service';

// eslint-disable-next-line @typescript-eslint/no-var-requires
const { build, outDir } = require('../build.js') as { build(o?: { quiet?: boolean }): Promise<unknown>; outDir: string };

export const ROOT = path.resolve(__dirname, '..', '..');
/**
 * Every run takes the screenshots; they replace the README's (docs/screenshots) only with
 * UPDATE_SCREENSHOTS=1, so an ordinary test run leaves the working tree clean.
 */
export const SHOTS = process.env.UPDATE_SCREENSHOTS === '1'
  ? path.join(ROOT, 'docs', 'screenshots')
  : path.join(os.tmpdir(), 'busking-screenshots');
export { outDir };

const WEB = path.join(ROOT, 'web');
const STAMP = path.join(outDir, '.built');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * Builds dist/web unless it is already newer than every source of it. Several test files (and
 * other people's runs in the same tree) need it; rebuilding wipes dist/web under pages that are
 * being served, so it is done only when something changed.
 */
export async function ensureBuilt(): Promise<void> {
  let builtAt = 0;
  try { builtAt = fs.statSync(STAMP).mtimeMs; } catch { /* never built by us */ }
  const sources = Math.max(newestMtime(path.join(WEB, 'src')), newestMtime(path.join(WEB, 'public')), fs.statSync(path.join(WEB, 'build.js')).mtimeMs);
  if (builtAt > sources && fs.existsSync(path.join(outDir, 'map.js'))) return;
  await build({ quiet: true });
  fs.writeFileSync(STAMP, new Date().toISOString());
}

/** The service as the web tests run it: in-process, embedded media engine, dev tokens, free ports. */
export async function startWebService(env: Env = {}, opts: Omit<ServiceOptions, 'webDir'> = {}): Promise<Service> {
  const config = loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'warn',
    PRESENTER_GRACE_MS: '20000', STOMP_HEARTBEAT_MS: '4000', ...env,
  });
  return startService(config, { ...opts, webDir: outDir });
}

/** A development token from the service (POST /api/dev/token), optionally short-lived. */
export async function devToken(svc: Service, name: string, roles: string[] = [], ttlSeconds?: number): Promise<string> {
  const res = await fetch(`${svc.url}/api/dev/token`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify(ttlSeconds === undefined ? { name, roles } : { name, roles, ttlSeconds }),
  });
  if (res.status !== 200) throw new Error(`dev token: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { token: string }).token;
}

export interface ContextOptions { phone?: boolean; geolocation?: { latitude: number; longitude: number } }

/** One browser and the contexts and pages a test file opens in it. */
export class WebTest {
  private readonly contexts: BrowserContext[] = [];
  private readonly errors = new WeakMap<Page, string[]>();

  private constructor(readonly browser: Browser, readonly svc: Service) {}

  /** `chromiumArgs`: extra flags, e.g. two fake cameras (`--use-fake-device-for-media-stream=device-count=2`). */
  static async start(svc: Service, chromiumArgs: string[] = []): Promise<WebTest> {
    return new WebTest(await launchChromium(chromiumArgs), svc);
  }

  async context(opts: ContextOptions = {}, svc: Service = this.svc): Promise<BrowserContext> {
    const ctx = await this.browser.newContext({
      viewport: opts.phone ? { width: 360, height: 740 } : { width: 1280, height: 800 },
      deviceScaleFactor: 1,
      isMobile: !!opts.phone,
      hasTouch: !!opts.phone,
      baseURL: svc.url,
      ...(opts.geolocation ? { geolocation: opts.geolocation, permissions: ['geolocation', 'camera', 'microphone'] } : { permissions: ['camera', 'microphone'] }),
    });
    this.contexts.push(ctx);
    return ctx;
  }

  /** A new page at `url`, recording uncaught script errors for pageErrors(); `before` runs before it loads. */
  async open(ctx: BrowserContext, url: string, before?: (page: Page) => unknown): Promise<Page> {
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    this.errors.set(page, errors);
    await before?.(page);
    await page.goto(url);
    return page;
  }

  pageErrors(page: Page): string[] {
    return this.errors.get(page) ?? [];
  }

  async shot(page: Page, name: string, fullPage = false): Promise<void> {
    fs.mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  }

  async close(): Promise<void> {
    for (const c of this.contexts) await c.close().catch(() => undefined);
    await this.browser.close().catch(() => undefined);
  }
}

// ---- the studio ------------------------------------------------------------------------------

/** The studio page signed in through the development sign-in as `name`. */
export async function signInStudio(studio: Page, name: string): Promise<void> {
  await studio.getByLabel('Your name').fill(name);
  await studio.getByRole('button', { name: 'Sign in' }).click();
  await studio.getByText('Signed in as').waitFor();
}

/** Fills the go-live form, goes live and waits for "You are live"; the busk's id. */
export async function goLive(studio: Page, show: { title: string; hashtags: string; record?: boolean }): Promise<string> {
  await studio.getByLabel('Title').fill(show.title);
  await studio.getByLabel('Hashtags').fill(show.hashtags);
  if (show.record) await studio.getByLabel('Record this show').check();
  await studio.getByRole('button', { name: 'Go live' }).click();
  await waitFor(async () => (await studio.textContent('#busk-state')) === 'You are live', 30000, 'live');
  return new URL(await studio.getAttribute('#watch-link', 'href') ?? '', studio.url()).searchParams.get('busk') ?? '';
}

// ---- a watch page's video ----------------------------------------------------------------------

/** Frames decoded by the page's own peer connection (getStats), read by the app into the DOM. */
export async function framesDecoded(page: Page): Promise<number> {
  return page.$eval('#video', (v) => Number((v as HTMLVideoElement).dataset.framesDecoded ?? 0));
}

/** Independent of the app: the <video> has real dimensions and presents new frames. */
export async function presentsFrames(page: Page): Promise<boolean> {
  return page.$eval('#video', (v) => new Promise<boolean>((resolve) => {
    const video = v as HTMLVideoElement;
    if (!video.videoWidth || !('requestVideoFrameCallback' in video)) { resolve(false); return; }
    let n = 0;
    const t = setTimeout(() => resolve(false), 2000);
    const tick = () => { if (++n >= 3) { clearTimeout(t); resolve(true); } else video.requestVideoFrameCallback(tick); };
    video.requestVideoFrameCallback(tick);
  }));
}

/** What a viewer page shows about its media, for failure messages. */
export async function mediaReport(page: Page): Promise<string> {
  return page.evaluate(() => {
    const v = document.getElementById('video') as HTMLVideoElement;
    return JSON.stringify({ url: location.search, frames: v.dataset.framesDecoded, sampledMsAgo: Date.now() - Number(v.dataset.sampledAt), flow: v.dataset.flow, serviceState: document.body.dataset.state, videoTime: v.currentTime, paused: v.paused, ready: v.readyState, peer: v.dataset.peer, state: document.getElementById('watch-state')?.textContent,
      detail: document.getElementById('watch-detail')?.textContent, link: document.getElementById('link-state')?.textContent });
  });
}

export async function expectVideoFlowing(page: Page, within = 10000): Promise<void> {
  const before = await framesDecoded(page);
  try {
    await waitFor(async () => (await framesDecoded(page)) > before + 5, within, 'frames decoded to grow');
  } catch (e) {
    throw new Error(`${(e as Error).message}; the page shows ${await mediaReport(page)}`);
  }
  await waitFor(() => presentsFrames(page), within, 'the <video> to present frames');
}


/**
 * The durable-data scene of one test file: the service on a fresh DATA_DIR (its store open) and a
 * browser, started before all tests and stopped (and the directory removed) after them.
 */
export function serviceOnDataDir(prefix: string, env: Env = {}): { svc: Service; web: WebTest } {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const scene = {} as { svc: Service; web: WebTest };
  beforeAll(async () => {
    await ensureBuilt();
    scene.svc = await startWebService({ DATA_DIR: dataDir, ...env });
    await scene.svc.store.db();
    scene.web = await WebTest.start(scene.svc);
  }, 120000);
  afterAll(async () => {
    await scene.web?.close();
    await scene.svc?.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  return scene;
}
