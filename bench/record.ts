// Recording benchmark (issue 11): the CPU and memory a recording adds to a busk. The service runs in
// this process (embedded engine, in-memory state, PGlite in a temp DATA_DIR); the presenter is
// @roamhq/wrtc in a child (test-support/wrtc-host.js: 640x480 VP8 + Opus, 15 fps, a noisy band that
// makes the encoder spend its bitrate). Phase A: a busk without recording; phase B: the same with
// `record: true` (recorder leg + WebM writer in this process). Each phase is measured over
// BENCH_RECORD_SECONDS after a warm-up; the difference is what recording costs.
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

const SECONDS = Number(process.env.BENCH_RECORD_SECONDS ?? 20);
const WARMUP_S = 5;
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

async function main(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-record-'));
  const svc = await startService(loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, DEV_TOKENS: 'true', DATA_DIR: dataDir,
  }));
  await svc.store.db();
  const host = new PeerHost({ presenter: { width: 640, height: 480, audio: true, noise: true } });
  await host.ready;
  const res = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', roles: ['busker'] }) });
  const token = ((await res.json()) as { token: string }).token;
  const phase = async (record: boolean) => {
    const client = await StompTestClient.connect(svc.stompUrl, { token });
    const { buskId, presenter } = await startBusk(host, client, { title: record ? 'recorded' : 'live only', record });
    if (record) await waitFor(() => (svc.busks.recording(buskId)?.seconds ?? 0) >= 1, 60000, 'recording started', 100);
    await sleep(WARMUP_S * 1000);
    const sample = await measure(SECONDS);
    const rec = svc.busks.recording(buskId);
    const bytes = rec ? fs.statSync(rec.file).size : 0;
    if (rec && process.env.BENCH_RECORD_KEEP) fs.copyFileSync(rec.file, process.env.BENCH_RECORD_KEEP);
    const kbps = rec && rec.seconds > 0 ? (bytes * 8) / rec.seconds / 1000 : null;
    await client.request(`/app/busk.${buskId}.leave`, {});
    await presenter.close();
    await client.close();
    return { ...sample, recordedKbps: kbps };
  };
  const live = process.env.BENCH_RECORD_ONLY ? { cpuPctOfCore: 0, rssMb: 0, heapMb: 0, recordedKbps: null } : await phase(false);
  const recorded = await phase(true);
  await host.stop();
  await svc.close();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const addedCpu = recorded.cpuPctOfCore - live.cpuPctOfCore;
  const perMbps = recorded.recordedKbps ? addedCpu / (recorded.recordedKbps / 1000) : null;
  const report = {
    date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, seconds: SECONDS,
    presenter: '640x480 VP8 + Opus, 15 fps (@roamhq/wrtc, child process)',
    live, recorded,
    added: { cpuPctOfCore: addedCpu, rssMb: recorded.rssMb - live.rssMb, cpuPctOfCorePerMbps: perMbps },
    goal: 'under 10 % of one core per recorded 1 Mbps stream',
  };
  const r1 = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));
  const md = `# bench:record\n\n${report.date}, Node ${report.node}, ${report.cpus} cores (shared), ${SECONDS} s per phase after ${WARMUP_S} s warm-up.\n` +
    `Presenter: ${report.presenter}. The service process (embedded engine + recorder leg) is measured.\n\n` +
    `| phase | CPU (% of one core) | max RSS (MB) | max heap (MB) | recorded kbps |\n|---|---|---|---|---|\n` +
    `| busk, no recording | ${r1(live.cpuPctOfCore)} | ${r1(live.rssMb)} | ${r1(live.heapMb)} | - |\n` +
    `| busk, recording | ${r1(recorded.cpuPctOfCore)} | ${r1(recorded.rssMb)} | ${r1(recorded.heapMb)} | ${r1(recorded.recordedKbps)} |\n\n` +
    `Recording adds **${r1(addedCpu)} %** of one core and ${r1(report.added.rssMb)} MB RSS; per recorded Mbps: **${r1(perMbps)} %** ` +
    `(goal: ${report.goal}). Shared machine: other work on it shows up as noise of a few %.\n`;
  fs.mkdirSync(path.join(ROOT, 'bench', 'reports'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'record.json'), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'record.md'), md);
  console.log(md);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
