// Crowd benchmark (issue 12), two phases (BENCH_CROWD_PHASES=whip,hls, both by default):
// - whip: WHIP offer → first decoded frame at a viewer. The service runs in this process (embedded
//   engine); the WHIP publisher and the WHEP player are @roamhq/wrtc peers in a child process
//   (test-support/wrtc-host.js: 640x480 VP8 + Opus at 15 fps, as an encoder would send). Each round:
//   POST /whip with the publisher's offer (t0), the answer applied, then a WHEP player joins the new
//   busk at once and the round's figure is its first decoded frame − t0 (one clock).
// - hls: the crowd tier. One node alone in a child process (lib/service-node.ts, HLS on, room for one
//   WebRTC viewer), an H.264 WHIP publisher here (x264 over werift, as OBS sends, each frame stamped
//   with its capture time), and, twice over:
//     1. glass-to-glass: two watch pages in headless Chromium, the first on WebRTC, the second told
//        `full` and so on HLS (hls.js, the product's player settings); every presented frame's stamp
//        read back from the video (capture → on screen, one clock);
//     2. the crowd: BENCH_CROWD_CLIENTS (2,000) HTTP clients in two processes (lib/hls-fetchers.ts)
//        follow the playlist as hls.js does; request times to the last byte, and the node's CPU with
//        them against without them.
//   The report gives the worse run and the other.
// Writes bench/reports/crowd.json and crowd.md.
/* eslint-disable no-console */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { loadConfig } from '../signaling/src/config';
import { startService } from '../signaling/src/service';
import { PeerHost } from '../test-support/wrtc-peers';
import { waitFor } from '../test-support/ports';
import { launchChromium } from '../test-support/browser';
import { H264Publisher, readStamp, sinceStamp, STAMP } from '../test-support/h264-whip';
import { Histogram } from './lib/histogram';
import { cpuSeconds, rssBytes } from './lib/procstat';
import type { FetchersReport } from './lib/hls-fetchers';

const PHASES = new Set((process.env.BENCH_CROWD_PHASES ?? 'whip,hls').split(','));
const ROUNDS = Number(process.env.BENCH_CROWD_ROUNDS ?? 20);
const CLIENTS = Number(process.env.BENCH_CROWD_CLIENTS ?? 2000);
const FETCHER_PROCESSES = 2;
const RAMP_MS = 10000;
const MEASURE_S = Number(process.env.BENCH_CROWD_SECONDS ?? 30);
const LATENCY_S = 30;
const RUNS = 2;
/** BENCH_CROWD_PROFILE=<dir>: the node writes a V8 CPU profile there when it stops. */
const PROFILE_DIR = process.env.BENCH_CROWD_PROFILE;
const WARMUP = 2;
const SECRET = 'bench-secret-'.padEnd(40, 'x');
const ROOT = path.resolve(__dirname.includes(`${path.sep}dist${path.sep}`) ? path.join(__dirname, '../..') : path.join(__dirname, '..'));
const pct = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (s: string) => console.log(`[bench:crowd] ${s}`);
const ms1 = (us: number) => Math.round(us / 100) / 10;

interface Spread { p50: number; p99: number; max: number }
const spread = (xs: number[]): Spread => ({ p50: pct(xs, 0.5), p99: pct(xs, 0.99), max: Math.max(...xs) });

async function devToken(url: string): Promise<string> {
  const res = await fetch(`${url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', roles: ['busker'] }) });
  return ((await res.json()) as { token: string }).token;
}

// ───────────────────────── whip ─────────────────────────
interface WhipReport { whipAnswerMs: Spread; whepAnswerMs: Spread; firstFrameMs: Spread }

async function whipPhase(): Promise<WhipReport> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-crowd-'));
  const svc = await startService(loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, DEV_TOKENS: 'true', DATA_DIR: dataDir,
  }));
  const host = new PeerHost({ presenter: { width: 640, height: 480, audio: true }, viewer: { audio: true } });
  await host.ready;
  const token = await devToken(svc.url);
  const sdp = (t?: string) => ({ 'content-type': 'application/sdp', ...(t ? { authorization: `Bearer ${t}` } : {}) });
  const rounds: { whipAnswerMs: number; whepAnswerMs: number; firstFrameMs: number }[] = [];
  for (let i = 0; i < WARMUP + ROUNDS; i++) {
    const presenter = await host.presenter();
    const offer = await presenter.offer();
    const t0 = Date.now();
    const res = await fetch(`${svc.url}/whip?title=bench`, { method: 'POST', headers: sdp(token), body: offer });
    if (res.status !== 201) throw new Error(`POST /whip: ${res.status} ${await res.text()}`);
    const whipAnswerMs = Date.now() - t0;
    await presenter.answer(await res.text());
    const [busk] = (await (await fetch(`${svc.url}/api/busks`)).json()) as { id: string }[];
    const player = await host.viewer();
    const w = await fetch(`${svc.url}/whep/${busk!.id}`, { method: 'POST', headers: sdp(), body: await player.offer() });
    if (w.status !== 201) throw new Error(`POST /whep: ${w.status} ${await w.text()}`);
    const whepAnswerMs = Date.now() - t0;
    await player.answer(await w.text());
    await waitFor(() => player.firstFrameAt !== null, 20000, 'the first frame at the player', 10);
    if (i >= WARMUP) rounds.push({ whipAnswerMs, whepAnswerMs, firstFrameMs: player.firstFrameAt! - t0 });
    log(`round ${i + 1}: WHIP answer ${whipAnswerMs} ms, WHEP answer ${whepAnswerMs} ms, first frame ${player.firstFrameAt! - t0} ms${i < WARMUP ? ' (warm-up)' : ''}`);
    await fetch(svc.url + w.headers.get('location'), { method: 'DELETE' });
    await fetch(svc.url + res.headers.get('location'), { method: 'DELETE' });
    player.close();
    presenter.close();
  }
  host.stop();
  await svc.close();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const f = (k: keyof (typeof rounds)[0]) => spread(rounds.map((r) => r[k]));
  return { whipAnswerMs: f('whipAnswerMs'), whepAnswerMs: f('whepAnswerMs'), firstFrameMs: f('firstFrameMs') };
}

// ───────────────────────── hls ─────────────────────────
interface Child { proc: ChildProcess; next(event: string): Promise<Record<string, unknown>> }

function child(script: string, env?: NodeJS.ProcessEnv, execArgv: string[] = []): Child {
  const proc = fork(path.join(__dirname, 'lib', script), [], { env, execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const waiting = new Map<string, ((m: Record<string, unknown>) => void)[]>();
  proc.on('message', (m: Record<string, unknown>) => { const w = waiting.get(String(m.event)); w?.shift()?.(m); });
  const next = (event: string) => new Promise<Record<string, unknown>>((resolve, reject) => {
    const gone = (code: number | null) => reject(new Error(`${script} exited (${code}) before '${event}'`));
    proc.once('exit', gone);
    waiting.set(event, [...(waiting.get(event) ?? []), (m) => { proc.off('exit', gone); resolve(m); }]);
  });
  return { proc, next };
}

// The page's side of page.evaluate, typed by hand: this is Node code, compiled without the DOM library.
interface PageVideo { currentTime: number; paused: boolean; buffered: { length: number; end(i: number): number }; playbackRate: number; requestVideoFrameCallback(cb: () => void): void }
interface Page2d { drawImage(...a: unknown[]): void; getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } }
interface PageCanvas { width: number; height: number; getContext(kind: '2d', o: object): Page2d | null }
declare const document: { getElementById(id: string): unknown; createElement(tag: 'canvas'): PageCanvas };

/** Capture → on screen, for every frame a page presents over `seconds` (stamps read in Node). */
async function glassToGlass(page: Page, seconds: number): Promise<{ ms: number[]; misread: number; aheadMs: number[] }> {
  const frames = await page.evaluate(({ seconds, bits, blockWidth, rows }) => new Promise<{ now: number; luma: number[]; ahead: number }[]>((resolve) => {
    const video = document.getElementById('video') as PageVideo;
    const canvas = document.createElement('canvas');
    canvas.width = bits * blockWidth;
    canvas.height = rows;
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    const out: { now: number; luma: number[]; ahead: number }[] = [];
    const end = performance.now() + seconds * 1000;
    const onFrame = () => {
      const now = Date.now();
      if (performance.now() > end) { resolve(out); return; }
      ctx.drawImage(video, 0, 0, canvas.width, rows, 0, 0, canvas.width, rows);
      const d = ctx.getImageData(0, rows / 2, canvas.width, 1).data;
      // How much the player holds ahead of what it shows: the part of the latency that is the player's.
      const ahead = video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : 0;
      out.push({ now, luma: Array.from({ length: bits }, (_, b) => d[(b * blockWidth + blockWidth / 2) * 4]!), ahead: Math.round(ahead * 1000) });
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  }), { seconds, bits: STAMP.bits, blockWidth: STAMP.blockWidth, rows: STAMP.rows });
  const ms: number[] = [];
  let misread = 0;
  for (const f of frames) {
    const d = sinceStamp(readStamp((x) => f.luma[Math.floor(x / STAMP.blockWidth)]!), f.now);
    // A stamp blurred by the encoder reads as nonsense: anything beyond a minute is one.
    if (d < 60000) ms.push(d); else misread++;
  }
  return { ms, misread, aheadMs: frames.map((f) => f.ahead) };
}

interface TierLatency extends Spread { frames: number; misread: number; bufferedAheadP50: number }
interface LatencyRun { webrtc: TierLatency; hls: TierLatency; targetDuration?: number; holdBack?: number }

async function latencyRun(browser: Browser, url: string, buskId: string): Promise<LatencyRun> {
  const contexts: BrowserContext[] = [];
  try {
    const open = async (tier: string) => {
      // A context (a window) each: both pages are on screen, neither is a background tab.
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      contexts.push(ctx);
      const page = await ctx.newPage();
      await page.goto(`${url}/watch.html?busk=${buskId}`);
      await waitFor(async () => (await page.getAttribute('#tier', 'data-tier')) === tier, 30000, `a watch page on ${tier}`);
      await waitFor(async () => page.evaluate(() => { const v = document.getElementById('video') as PageVideo; return v.currentTime > 0 && !v.paused; }), 30000, `video playing on ${tier}`);
      return page;
    };
    // WEBRTC_VIEWERS_PER_BUSK=1: the first page takes the WebRTC place, the second is told `full`.
    const webrtcPage = await open('webrtc');
    const hlsPage = await open('hls');
    await sleep(10000); // hls.js settles on its live position
    const [w, h] = await Promise.all([glassToGlass(webrtcPage, LATENCY_S), glassToGlass(hlsPage, LATENCY_S)]);
    const tier = (x: typeof w): TierLatency => ({ ...spread(x.ms), frames: x.ms.length, misread: x.misread, bufferedAheadP50: pct(x.aheadMs, 0.5) });
    return { webrtc: tier(w), hls: tier(h) };
  } finally {
    for (const ctx of contexts) await ctx.close();
  }
}

interface CrowdRun {
  clients: number; seconds: number; viewersCounted: number;
  playlist: Spread & { requests: number; perSecond: number }; segment: Spread & { requests: number; perSecond: number };
  mbPerSecond: number; errors: Record<string, number>; fellBehind: number;
  nodeCpuPct: number; nodeCpuIdlePct: number; nodeRssMb: number; fetchersCpuPct: number; loadAverage: number;
}

async function crowdRun(url: string, buskId: string, playlist: string, nodePid: number, run: number): Promise<CrowdRun> {
  // The node with its busk and no crowd: what HLS packaging and the busk cost without viewers.
  let c0 = cpuSeconds(nodePid);
  let t0 = Date.now();
  await sleep(10000);
  const nodeCpuIdlePct = ((cpuSeconds(nodePid) - c0) / ((Date.now() - t0) / 1000)) * 100;

  const fetchers = Array.from({ length: FETCHER_PROCESSES }, () => child('hls-fetchers.js'));
  await Promise.all(fetchers.map((f) => f.next('ready')));
  const per = Math.ceil(CLIENTS / FETCHER_PROCESSES);
  const started = fetchers.map((f) => f.next('started'));
  fetchers.forEach((f, i) => f.proc.send({ cmd: 'start', playlist, clients: per, rampMs: RAMP_MS, idPrefix: `r${run}p${i}c` }));
  await Promise.all(started);
  log(`run ${run}: ${per * FETCHER_PROCESSES} clients following the playlist; settling`);
  await sleep(5000);
  await Promise.all(fetchers.map((f) => { const m = f.next('measuring'); f.proc.send({ cmd: 'measure' }); return m; }));
  c0 = cpuSeconds(nodePid);
  t0 = Date.now();
  const f0 = fetchers.reduce((a, f) => a + cpuSeconds(f.proc.pid!), 0);
  let rss = 0;
  for (let i = 0; i < MEASURE_S; i++) { await sleep(1000); rss = Math.max(rss, rssBytes(nodePid)); }
  const wall = (Date.now() - t0) / 1000;
  const nodeCpuPct = ((cpuSeconds(nodePid) - c0) / wall) * 100;
  const fetchersCpuPct = ((fetchers.reduce((a, f) => a + cpuSeconds(f.proc.pid!), 0) - f0) / wall) * 100;
  const loadAverage = os.loadavg()[0]!;
  const viewersCounted = ((await (await fetch(`${url}/api/busks/${buskId}`)).json()) as { viewers: number }).viewers;
  const reports = await Promise.all(fetchers.map(async (f) => { const m = f.next('report'); f.proc.send({ cmd: 'report' }); return (await m).report as FetchersReport; }));
  for (const f of fetchers) f.proc.send({ cmd: 'stop' });
  await Promise.all(fetchers.map((f) => new Promise((r) => f.proc.once('exit', r))));

  const hp = new Histogram();
  const hs = new Histogram();
  const errors: Record<string, number> = {};
  for (const r of reports) {
    hp.merge(r.playlist);
    hs.merge(r.segment);
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  }
  const seconds = Math.max(...reports.map((r) => r.seconds));
  const of = (h: Histogram) => ({ p50: ms1(h.percentile(50)), p99: ms1(h.percentile(99)), max: ms1(h.max), requests: h.n, perSecond: Math.round(h.n / seconds) });
  const out: CrowdRun = {
    clients: per * FETCHER_PROCESSES, seconds: Math.round(seconds), viewersCounted, playlist: of(hp), segment: of(hs),
    mbPerSecond: Math.round(reports.reduce((a, r) => a + r.bytes, 0) / seconds / 1e5) / 10, errors, fellBehind: reports.reduce((a, r) => a + r.fellBehind, 0),
    nodeCpuPct: Math.round(nodeCpuPct), nodeCpuIdlePct: Math.round(nodeCpuIdlePct), nodeRssMb: Math.round(rss / 2 ** 20), fetchersCpuPct: Math.round(fetchersCpuPct), loadAverage,
  };
  log(`run ${run}: playlist p50 ${out.playlist.p50} p99 ${out.playlist.p99} ms; segment p50 ${out.segment.p50} p99 ${out.segment.p99} ms; node CPU ${out.nodeCpuPct} % (idle ${out.nodeCpuIdlePct} %); ${out.mbPerSecond} MB/s; viewers ${viewersCounted}; errors ${JSON.stringify(errors)}`);
  // The crowd's HLS viewers leave after 8 s without a playlist request.
  await waitFor(async () => ((await (await fetch(`${url}/api/busks/${buskId}`)).json()) as { viewers: number }).viewers < 5, 30000, 'the crowd gone from the count');
  return out;
}

interface HlsReport { segmentBytes: number; runs: { latency: LatencyRun; crowd: CrowdRun }[] }

async function hlsPhase(): Promise<HlsReport> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-crowd-'));
  const node = child('service-node.js', {
    ...process.env, HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, DEV_TOKENS: 'true', DATA_DIR: dataDir,
    HLS_ENABLED: 'true', WEBRTC_VIEWERS_PER_BUSK: '1',
  }, PROFILE_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`] : []);
  const { url, pid } = (await node.next('ready')) as { url: string; pid: number };
  let pub: H264Publisher | null = null;
  let browser: Browser | null = null;
  try {
    pub = await H264Publisher.publish(url, await devToken(url), { query: { title: 'Crowd bench' }, noise: true });
    const [busk] = (await (await fetch(`${url}/api/busks`)).json()) as { id: string; hls: string }[];
    const playlist = new URL(busk!.hls, url).toString();
    await waitFor(async () => (await fetch(playlist)).status === 200, 20000, 'the first HLS segment');
    await sleep(8000); // a few segments in the window, as a crowd would find it
    const text = await (await fetch(playlist)).text();
    const lastSeg = text.trim().split('\n').pop()!;
    const segmentBytes = (await (await fetch(new URL(lastSeg, playlist))).arrayBuffer()).byteLength;
    browser = await launchChromium();
    const runs: HlsReport['runs'] = [];
    for (let run = 1; run <= RUNS; run++) {
      const latency = await latencyRun(browser, url, busk!.id);
      // What the player was told to keep: HOLD-BACK is three target durations, and a target duration
      // never comes down once a late keyframe raised it (RFC 8216).
      const now = await (await fetch(playlist)).text();
      latency.targetDuration = Number(/#EXT-X-TARGETDURATION:(\d+)/.exec(now)?.[1]);
      latency.holdBack = Number(/HOLD-BACK=([\d.]+)/.exec(now)?.[1]);
      log(`run ${run}: glass-to-glass WebRTC p50 ${latency.webrtc.p50} ms, HLS p50 ${latency.hls.p50} p99 ${latency.hls.p99} ms (${latency.hls.bufferedAheadP50} ms buffered ahead, HOLD-BACK ${latency.holdBack} s)`);
      if (CLIENTS === 0) continue;
      runs.push({ latency, crowd: await crowdRun(url, busk!.id, playlist, pid, run) });
    }
    return { segmentBytes, runs };
  } finally {
    await browser?.close();
    await pub?.delete().catch(() => undefined);
    await pub?.close();
    const gone = new Promise((r) => node.proc.once('exit', r));
    node.proc.send({ cmd: 'stop' });
    await gone;
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

// ───────────────────────── report ─────────────────────────
function whipMarkdown(w: WhipReport): string {
  const row = (name: string, x: Spread) => `| ${name} | ${x.p50} | ${x.p99} | ${x.max} |`;
  const met = w.firstFrameMs.p99 < 1000;
  return `## WHIP offer → first decoded frame at a viewer\n\n${ROUNDS} rounds after ${WARMUP} warm-up rounds; the embedded engine in the service's process; publisher and player are @roamhq/wrtc (640x480 VP8 + Opus, 15 fps) in one child process. ` +
    `t0 = the WHIP POST sent; the player is a WHEP client that joins as soon as the busk exists.\n\n` +
    `| from t0 (ms) | p50 | p99 | max |\n|---|---|---|---|\n` +
    `${row('WHIP 201 with the answer (candidates included)', w.whipAnswerMs)}\n${row('WHEP 201 for the player', w.whepAnswerMs)}\n${row('**first decoded frame at the player**', w.firstFrameMs)}\n\n` +
    `Goal: WHIP offer to the first decoded frame at a viewer under 1 s: **${met ? 'met' : 'missed'}** (p99 ${w.firstFrameMs.p99} ms).\n\n`;
}

/** The run whose worst request p99 is higher. */
const worseFirst = (runs: HlsReport['runs']) => [...runs].sort((a, b) => Math.max(b.crowd.playlist.p99, b.crowd.segment.p99) - Math.max(a.crowd.playlist.p99, a.crowd.segment.p99));

function hlsMarkdown(h: HlsReport): string {
  const runs = worseFirst(h.runs);
  const name = (i: number) => (i === 0 ? 'worse run' : 'other run');
  const worst = runs[0]!;
  const latencyMet = Math.max(...h.runs.map((r) => r.latency.hls.p50)) <= 6000;
  const crowdMet = Math.max(worst.crowd.playlist.p99, worst.crowd.segment.p99) < 100;
  return `## HLS crowd tier\n\nOne node alone in its own process (embedded engine, HLS_ENABLED, HLS_SEGMENT_MS 1000, WEBRTC_VIEWERS_PER_BUSK 1); ` +
    `the publisher is x264 (ultrafast, zerolatency, baseline, 600 kb/s, keyframe every 1 s) + Opus over werift, 320x240 at 25 fps, every frame stamped with its capture time and noise in its lower half (so the encoder spends its bitrate, as on a street scene); a segment is about ${Math.round(h.segmentBytes / 1000)} kB. ` +
    `${RUNS} runs, each: glass-to-glass on two watch pages in headless Chromium, then the crowd.\n\n` +
    `### Glass-to-glass (capture → presented frame, read from the picture)\n\n` +
    `${LATENCY_S} s of frames on each page after 10 s of settling; the WebRTC page is the reference (the first viewer takes the one WebRTC place, the second is told \`full\` and plays HLS with the product's hls.js settings).\n\n` +
    `| | tier | p50 (ms) | p99 (ms) | max (ms) | buffered ahead, p50 (ms) | frames | misread | playlist |\n|---|---|---|---|---|---|---|---|---|\n` +
    h.runs.map((r, i) => [`| run ${i + 1} | **HLS** | **${r.latency.hls.p50}** | ${r.latency.hls.p99} | ${r.latency.hls.max} | ${r.latency.hls.bufferedAheadP50} | ${r.latency.hls.frames} | ${r.latency.hls.misread} | TARGETDURATION ${r.latency.targetDuration}, HOLD-BACK ${r.latency.holdBack} s |`,
      `| run ${i + 1} | WebRTC | ${r.latency.webrtc.p50} | ${r.latency.webrtc.p99} | ${r.latency.webrtc.max} | ${r.latency.webrtc.bufferedAheadP50} | ${r.latency.webrtc.frames} | ${r.latency.webrtc.misread} | |`].join('\n')).join('\n') +
    `\n\nGoal: ≤ 6 s plain HLS: **${latencyMet ? 'met' : 'missed'}** (HLS p50 ${h.runs.map((r) => r.latency.hls.p50).join(' and ')} ms). ` +
    `The goal of ≤ 3 s with LL-HLS parts is not claimed: the tier serves no parts (segments are cut only at keyframes).\n\n` +
    `### ${worst.crowd.clients} HLS clients on one node\n\n` +
    `HTTP clients in ${FETCHER_PROCESSES} processes follow the playlist as hls.js does (own keep-alive connection, the playlist again after one target duration, or half of one when nothing was new, every segment in order); arriving over ${RAMP_MS / 1000} s, then ${MEASURE_S} s measured. ` +
    `Times are from the request sent to its last byte. Everything shares this machine's ${os.cpus().length} cores: the node, the clients, the publisher (werift, two ffmpeg).\n\n` +
    `| | playlist p50 / p99 / max (ms) | segment p50 / p99 / max (ms) | requests/s (playlist + segment) | MB/s | node CPU (% of a core) | node CPU without the crowd | node RSS (MB) | clients' CPU | load avg | viewers counted | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n` +
    runs.map((r, i) => { const x = r.crowd; return `| ${name(i)} | ${x.playlist.p50} / **${x.playlist.p99}** / ${x.playlist.max} | ${x.segment.p50} / **${x.segment.p99}** / ${x.segment.max} | ${x.playlist.perSecond} + ${x.segment.perSecond} | ${x.mbPerSecond} | **${x.nodeCpuPct}** | ${x.nodeCpuIdlePct} | ${x.nodeRssMb} | ${x.fetchersCpuPct} % | ${x.loadAverage.toFixed(2)} | ${x.viewersCounted} | ${Object.keys(x.errors).length ? JSON.stringify(x.errors) : 'none'}${x.fellBehind ? `, ${x.fellBehind} fell behind` : ''} |`; }).join('\n') +
    `\n\nGoal: playlist and segment p99 under 100 ms with ${worst.crowd.clients} clients: **${crowdMet ? 'met' : 'missed'}** (worse run: playlist ${worst.crowd.playlist.p99} ms, segment ${worst.crowd.segment.p99} ms). ` +
    `The crowd costs the node ${worst.crowd.nodeCpuPct - worst.crowd.nodeCpuIdlePct} % of a core in the worse run.\n`;
}

async function main(): Promise<void> {
  const load = os.loadavg()[0]!;
  const whip = PHASES.has('whip') ? await whipPhase() : null;
  const hls = PHASES.has('hls') ? await hlsPhase() : null;
  const report = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverageAtStart: load, rounds: ROUNDS, whip, hls };
  const md = `# bench:crowd\n\n${report.date}, Node ${report.node}, ${report.cpus} cores (shared), load average ${load.toFixed(2)} at the start.\n\n` +
    (whip ? whipMarkdown(whip) : '') + (hls ? hlsMarkdown(hls) : '');
  fs.mkdirSync(path.join(ROOT, 'bench', 'reports'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'crowd.json'), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'crowd.md'), md);
  console.log(md);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
