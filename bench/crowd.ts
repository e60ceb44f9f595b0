// Crowd benchmark (issue 12). Today: WHIP offer → first decoded frame at a viewer. The service runs
// in this process (embedded engine); the WHIP publisher and the WHEP player are @roamhq/wrtc peers
// in a child process (test-support/wrtc-host.js: 640x480 VP8 + Opus at 15 fps, as an encoder
// would send). Each round: POST /whip with the publisher's offer (t0), the answer applied, then a
// WHEP player joins the new busk at once and the round's figure is its first decoded frame − t0
// (both clocks are this machine's). The HLS tier's figures (glass-to-glass latency, 2,000 playlist
// followers) wait for the tier itself. Writes bench/reports/crowd.json and crowd.md.
/* eslint-disable no-console */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../signaling/src/config';
import { startService } from '../signaling/src/service';
import { PeerHost } from '../test-support/wrtc-peers';
import { waitFor } from '../test-support/ports';

const ROUNDS = Number(process.env.BENCH_CROWD_ROUNDS ?? 20);
const WARMUP = 2;
const SECRET = 'bench-secret-'.padEnd(40, 'x');
const ROOT = path.resolve(__dirname.includes(`${path.sep}dist${path.sep}`) ? path.join(__dirname, '../..') : path.join(__dirname, '..'));
const pct = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!; };

async function main(): Promise<void> {
  const load = os.loadavg()[0]!;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-crowd-'));
  const svc = await startService(loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'warn', JWT_SECRET: SECRET, DEV_TOKENS: 'true', DATA_DIR: dataDir,
  }));
  const host = new PeerHost({ presenter: { width: 640, height: 480, audio: true }, viewer: { audio: true } });
  await host.ready;
  const token = ((await (await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Bench', roles: ['busker'] }) })).json()) as { token: string }).token;
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
    console.log(`[bench:crowd] round ${i + 1}: WHIP answer ${whipAnswerMs} ms, WHEP answer ${whepAnswerMs} ms, first frame ${player.firstFrameAt! - t0} ms${i < WARMUP ? ' (warm-up)' : ''}`);
    await fetch(svc.url + w.headers.get('location'), { method: 'DELETE' });
    await fetch(svc.url + res.headers.get('location'), { method: 'DELETE' });
    player.close();
    presenter.close();
  }
  host.stop();
  await svc.close();
  fs.rmSync(dataDir, { recursive: true, force: true });

  const f = (k: keyof (typeof rounds)[0]) => ({ p50: pct(rounds.map((r) => r[k]), 0.5), p99: pct(rounds.map((r) => r[k]), 0.99), max: Math.max(...rounds.map((r) => r[k])) });
  const report = {
    date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadAverageAtStart: load, rounds: ROUNDS,
    whip: { whipAnswerMs: f('whipAnswerMs'), whepAnswerMs: f('whepAnswerMs'), firstFrameMs: f('firstFrameMs') },
    goal: 'WHIP offer to the first decoded frame at a viewer under 1 s',
  };
  const met = report.whip.firstFrameMs.p99 < 1000;
  const row = (name: string, x: { p50: number; p99: number; max: number }) => `| ${name} | ${x.p50} | ${x.p99} | ${x.max} |`;
  const md = `# bench:crowd\n\n${report.date}, Node ${report.node}, ${report.cpus} cores (shared), load average ${load.toFixed(2)} at the start.\n\n` +
    `## WHIP offer → first decoded frame at a viewer\n\n${ROUNDS} rounds after ${WARMUP} warm-up rounds; the embedded engine in the service's process; publisher and player are @roamhq/wrtc (640x480 VP8 + Opus, 15 fps) in one child process. ` +
    `t0 = the WHIP POST sent; the player is a WHEP client that joins as soon as the busk exists.\n\n` +
    `| from t0 (ms) | p50 | p99 | max |\n|---|---|---|---|\n` +
    `${row('WHIP 201 with the answer (candidates included)', report.whip.whipAnswerMs)}\n${row('WHEP 201 for the player', report.whip.whepAnswerMs)}\n${row('**first decoded frame at the player**', report.whip.firstFrameMs)}\n\n` +
    `Goal: ${report.goal}: **${met ? 'met' : 'missed'}** (p99 ${report.whip.firstFrameMs.p99} ms).\n\n` +
    `## HLS tier\n\nNot measured: the HLS crowd tier is not built yet (issue 12), so its glass-to-glass latency and the 2,000-client playlist figures are still to come.\n`;
  fs.mkdirSync(path.join(ROOT, 'bench', 'reports'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'crowd.json'), JSON.stringify(report, null, 2) + '\n');
  fs.writeFileSync(path.join(ROOT, 'bench', 'reports', 'crowd.md'), md);
  console.log(md);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
