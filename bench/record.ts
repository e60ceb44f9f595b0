// Recording benchmark (issue 11), three phases (BENCH_RECORD_PHASES=cpu,cut,feed, all by default):
// - cpu: the CPU and memory a recording adds to a busk. The service runs in this process (embedded
//   engine, in-memory state, PGlite in a temp DATA_DIR); the presenter is @roamhq/wrtc in a child
//   (test-support/wrtc-host.js: 640x480 VP8 + Opus, 15 fps, a noisy band that makes the encoder spend
//   its bitrate). A busk without recording, then the same with `record: true` (recorder leg + WebM
//   writer in this process), each measured over BENCH_RECORD_SECONDS after a warm-up in which the
//   presenter's bitrate ramps up; the difference is what recording costs.
// - cut: a 60 s short from a 1-hour recording (lib/record-cut.ts).
// - feed: feed and comment pages with 100,000 shorts and 1,000,000 comments in PostgreSQL
//   (lib/record-feed.ts).
// Writes bench/reports/record.json and record.md. Run: npm run bench:record (builds first).
/* eslint-disable no-console */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../signaling/src/config';
import { startService } from '../signaling/src/service';
import { PeerHost } from '../test-support/wrtc-peers';
import { StompTestClient } from '../signaling/test/support/stomp-client';
import { startBusk } from '../signaling/test/support/peers';
import { waitFor } from '../test-support/ports';
import { startPostgres } from '../test-support/postgres';
import { cutPhase } from './lib/record-cut';
import { feedPhase } from './lib/record-feed';

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);
const WARMUP_S = Number(process.env.BENCH_RECORD_WARMUP_SECONDS ?? 20);
const PHASES = new Set((process.env.BENCH_RECORD_PHASES ?? 'cpu,cut,feed').split(','));
const log = (s: string) => console.log(`[bench:record] ${s}`);
const SECRET = 'bench-secret-'.padEnd(40, 'x');
const ROOT = path.resolve(__dirname.includes(`${path.sep}dist${path.sep}`) ? path.join(__dirname, '../..') : path.join(__dirname, '..'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Sample { cpuPctOfCore: number; rssMb: number; heapMb: number }

async function measure(seconds: number): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let rss = 0;
  let heap = 0;
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  }
  const c = process.cpuUsage(c0);
  const wallUs = Number(process.hrtime.bigint() - t0) / 1000;
  return { cpuPctOfCore: ((c.user + c.system) / wallUs) * 100, rssMb: rss / 2 ** 20, heapMb: heap / 2 ** 20 };
}

const startDevService = (env: Record<string, string>) => startService(loadConfig({
  HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, DEV_TOKENS: 'true', ...env,
}));

async function devToken(url: string, name: string): Promise<string> {
  const res = await fetch(`${url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, roles: ['busker'] }) });
  return ((await res.json()) as { token: string }).token;
}

type Svc = Awaited<ReturnType<typeof startService>>;

async function cpuPhase(svc: Svc) {
  const host = new PeerHost({ presenter: { width: 640, height: 480, audio: true, noise: true } });
  await host.ready;
  const token = await devToken(svc.url, 'Bench');
  const phase = async (record: boolean) => {
    const client = await StompTestClient.connect(svc.stompUrl, { token });
    const { buskId, presenter } = await startBusk(host, client, { title: record ? 'recorded' : 'live only', record });
    if (record) await waitFor(() => (svc.busks.recording(buskId)?.seconds ?? 0) >= 1, 60000, 'recording started', 100);
    await sleep(WARMUP_S * 1000);
    const rec0 = svc.busks.recording(buskId);
    const at0 = rec0 ? { bytes: fs.statSync(rec0.file).size, seconds: rec0.seconds } : null;
    const sample = await measure(SECONDS);
    const rec = svc.busks.recording(buskId);
    if (rec && process.env.BENCH_RECORD_KEEP) fs.copyFileSync(rec.file, process.env.BENCH_RECORD_KEEP);
    // The bitrate written while measured (the warm-up's ramp left out).
    const kbps = rec && at0 && rec.seconds > at0.seconds ? ((fs.statSync(rec.file).size - at0.bytes) * 8) / (rec.seconds - at0.seconds) / 1000 : null;
    await client.request(`/app/busk.${buskId}.leave`, {});
    await presenter.close();
    await client.close();
    log(`cpu: ${record ? 'recording' : 'live only'}: ${sample.cpuPctOfCore.toFixed(1)} % of a core${kbps ? `, ${kbps.toFixed(0)} kbps written` : ''}`);
    return { ...sample, recordedKbps: kbps };
  };
  const live = await phase(false);
  const recorded = await phase(true);
  await host.stop();
  const addedCpu = recorded.cpuPctOfCore - live.cpuPctOfCore;
  const perMbps = recorded.recordedKbps ? addedCpu / (recorded.recordedKbps / 1000) : null;
  return {
    presenter: '640x480 VP8 + Opus, 15 fps (@roamhq/wrtc, child process)',
    live, recorded, added: { cpuPctOfCore: addedCpu, rssMb: recorded.rssMb - live.rssMb, cpuPctOfCorePerMbps: perMbps },
    goal: 'under 10 % of one core per recorded 1 Mbps stream',
  };
}

async function main(): Promise<void> {
  const load = os.loadavg()[0]!;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-record-'));
  const report: Record<string, unknown> = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverageAtStart: load, seconds: SECONDS, warmupSeconds: WARMUP_S };
  let svc = await startDevService({ DATA_DIR: dataDir });
  await svc.store.db();
  if (PHASES.has('cpu')) report.cpu = await cpuPhase(svc);
  if (PHASES.has('cut')) {
    const owner = { id: 'bench-busker', name: 'Bench', roles: ['busker'], anonymous: false };
    report.cut = await cutPhase(svc, owner, log);
  }
  await svc.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (PHASES.has('feed')) {
    const pg = await startPostgres();
    const feedDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-feed-'));
    try {
      svc = await startDevService({ DATA_DIR: feedDir, DATABASE_URL: pg.url });
      await svc.store.db();
      const [{ server_version: v }] = await (await svc.store.db()).query<{ server_version: string }>('SHOW server_version');
      report.feed = { postgres: v, ...(await feedPhase(svc, log)) };
      await svc.close();
    } finally {
      await pg.stop();
      fs.rmSync(feedDir, { recursive: true, force: true });
    }
  }
  const md = renderReport(report);
  fs.mkdirSync(path.join(ROOT, 'bench', 'reports'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'record.json'), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'record.md'), md);
  console.log(md);
  process.exit(0);
}

const r1 = (x: number | null | undefined) => (x === null || x === undefined ? 'n/a' : x.toFixed(1));
const r2 = (x: number) => x.toFixed(2);

function renderReport(r: any): string {
  let md = `# bench:record\n\n${r.date}, Node ${r.node}, ${r.cpus} cores (shared), load average ${r.loadAverageAtStart.toFixed(2)} at the start.\n`;
  if (r.cpu) {
    const c = r.cpu;
    md += `\n## What a recording costs\n\nPresenter: ${c.presenter}. The service process (embedded engine + recorder leg) is measured over ${r.seconds} s per phase after a ${r.warmupSeconds} s warm-up (the presenter's bitrate ramps up in it).\n\n` +
      `| phase | CPU (% of one core) | max RSS (MB) | max heap (MB) | recorded kbps |\n|---|---|---|---|---|\n` +
      `| busk, no recording | ${r1(c.live.cpuPctOfCore)} | ${r1(c.live.rssMb)} | ${r1(c.live.heapMb)} | - |\n` +
      `| busk, recording | ${r1(c.recorded.cpuPctOfCore)} | ${r1(c.recorded.rssMb)} | ${r1(c.recorded.heapMb)} | ${r1(c.recorded.recordedKbps)} |\n\n` +
      `Recording adds **${r1(c.added.cpuPctOfCore)} %** of one core and ${r1(c.added.rssMb)} MB RSS; per recorded Mbps: **${r1(c.added.cpuPctOfCorePerMbps)} %** (goal: ${c.goal}).\n`;
  }
  if (r.cut) {
    md += `\n## A 60 s short from a 1-hour recording\n\nThrough \`Shorts.create\` (checks, ffmpeg stream copy, poster JPEG, media store, row), each case ${r.cut.cases[0]?.runs ?? 0} times. ` +
      `The hours (640x480 30 fps ≈ 1 Mbps + Opus 128 kbps, keyframe every 2 s) are made by ffmpeg in the recording leg's shapes: ` +
      Object.entries(r.cut.files).map(([f, v]: [string, any]) => `${f} ${v.mb.toFixed(0)} MB, ${v.durationS.toFixed(0)} s`).join('; ') + '.\n\n' +
      `| recording | state | clip | p50 (ms) | max (ms) | short (s) |\n|---|---|---|---|---|---|\n` +
      r.cut.cases.map((c: any) => `| ${c.recording} | ${c.kind} | ${c.at} | ${c.p50Ms.toFixed(0)} | ${c.maxMs.toFixed(0)} | ${c.shortS.toFixed(1)} |`).join('\n') +
      `\n\nGoal (a 60 s short from a finished 1-hour recording under 1 s): ${r.cut.cases.filter((c: any) => c.kind === 'finished').every((c: any) => c.maxMs < 1000) ? '**met**' : '**missed**'}. ` +
      `Live clips: ${r.cut.cases.filter((c: any) => c.kind === 'live').every((c: any) => c.maxMs < 1000) ? 'under 1 s' : '**over 1 s**'} when the recording's writer is in this process (its length is known); ` +
      `a running recording written elsewhere has its length read from the file, every packet of it (the unsealed WebM has no index).\n`;
  }
  if (r.feed) {
    const f = r.feed;
    md += `\n## Shorts feed and comment pages\n\nPostgreSQL ${f.postgres} (private cluster, fsync off), ${f.seeded.shorts.toLocaleString('en')} shorts and ${f.seeded.comments.toLocaleString('en')} comments (${f.seeded.dbMb.toFixed(0)} MB, seeded in ${f.seeded.seedS.toFixed(0)} s). ` +
      `Each page over HTTP (keep-alive, pages of 20), one at a time, ${f.sequential[0]?.n ?? 0} times after 100 warm-up requests; this process is client and service.\n\n` +
      `| page | p50 (ms) | p99 (ms) | max (ms) | rows |\n|---|---|---|---|---|\n` +
      f.sequential.map((p: any) => `| ${p.page} | ${r2(p.p50Ms)} | ${r2(p.p99Ms)} | ${r2(p.maxMs)} | ${p.rows.toFixed(1)} |`).join('\n') +
      `\n\n${f.concurrent.inFlight} in flight over every page kind for 10 s: ${f.concurrent.perSecond.toFixed(0)} pages/s, p50 ${r2(f.concurrent.p50Ms)} ms, p99 ${r2(f.concurrent.p99Ms)} ms.\n\n` +
      `Goal: p99 under 20 ms (${f.sequential.every((p: any) => p.p99Ms < 20) ? '**met** for every page' : '**missed** for ' + f.sequential.filter((p: any) => p.p99Ms >= 20).map((p: any) => p.page).join(', ')}).\n`;
  }
  return md;
}

main().catch((e) => { console.error(e); process.exit(1); });
