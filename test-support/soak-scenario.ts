// Scenario 6 of issue 15, the soak: a busy evening compressed. Busks start and end all the time, viewers
// join (real WebRTC, decoding) and leave, chat runs at a steady rate, over two service nodes on Redis
// and the engine, each in its own process. Every process's RSS, open fds and sockets are sampled; at
// the end: media objects left, the RSS slope after warm-up, every ERROR by cause. bench/chaos.ts runs
// it for 10 minutes, the suite for a few seconds (signaling/test/chaos/soak.test.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnEngine, spawnService } from './service-process';
import { startRedis } from './processes';
import { metric, metricByLabel } from './abuse';
import { rssBytes } from '../bench/lib/procstat';
import { PeerHost } from './wrtc-peers';
import { waitFor } from './ports';
import { StompTestClient } from '../signaling/test/support/stomp-client';
import { Leg, startReofferingBusk } from '../signaling/test/support/legs';
import { connectKms, closeKms } from '../kurento/test/kms-client-support';

export interface SoakSizes {
  minutes: number;
  /** Busks started (and ended) over the run; about `concurrentBusks` live at a time. */
  busks: number;
  concurrentBusks: number;
  /** Viewer joins a minute (each decodes, stays a few seconds, leaves). */
  viewerJoinsPerMinute: number;
  chatPerSecond: number;
  /** Samples before this are warm-up, left out of the slopes. */
  warmupMinutes: number;
  /**
   * Heap snapshots of the engine after warm-up and at the end of the load (each a full collection
   * first): whether what RSS gains is live JavaScript objects (a leak) or not. Pauses the engine for
   * a second or two each; the bench takes them, the suite does not.
   */
  engineHeapSnapshots?: boolean;
}

/** The engine's live heap after a full collection: a heap snapshot taken on SIGUSR2 (Node's --heapsnapshot-signal), summed. */
async function engineLiveHeapMb(pid: number, dir: string): Promise<number | null> {
  const before = new Set(fs.readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  try {
    const file = await waitFor(() => {
      const f = fs.readdirSync(dir).find((x) => !before.has(x) && x.endsWith('.heapsnapshot'));
      if (!f) return null;
      const size = fs.statSync(path.join(dir, f)).size;
      // Written in one go at the end: complete once its size stops changing and it parses.
      return size > 0 && size === lastSize.get(f) ? f : (lastSize.set(f, size), null);
    }, 120000, 'the engine heap snapshot', 500);
    const snap = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { snapshot: { meta: { node_fields: string[] } }; nodes: number[] };
    fs.rmSync(path.join(dir, file));
    const fields = snap.snapshot.meta.node_fields;
    const selfSize = fields.indexOf('self_size');
    let total = 0;
    for (let i = selfSize; i < snap.nodes.length; i += fields.length) total += snap.nodes[i]!;
    return Math.round(total / 1e5) / 10;
  } catch {
    return null;
  }
}
const lastSize = new Map<string, number>();

export interface ProcessSample { t: number; rssMb: number; fds: number; sockets: number }

const SECRET = 'soak-secret-'.padEnd(40, 'x');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sample(pid: number, t: number): ProcessSample | null {
  try {
    const rss = rssBytes(pid) / 1048576;
    const fds = fs.readdirSync(`/proc/${pid}/fd`);
    let sockets = 0;
    for (const fd of fds) {
      try { if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++; } catch { /* closed meanwhile */ }
    }
    return { t, rssMb: Math.round(rss * 10) / 10, fds: fds.length, sockets };
  } catch {
    return null;
  }
}

/** Least-squares slope of y over x (per unit of x); NaN for fewer than two points. */
export function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return NaN;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return den === 0 ? NaN : num / den;
}

export async function runSoak(sizes: SoakSizes, log: (s: string) => void = () => {}) {
  const redis = await startRedis();
  const snapshotDir = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-heap-'));
  const engine = await spawnEngine(undefined, sizes.engineHeapSnapshots ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshotDir}` } : {});
  const env = { JWT_SECRET: SECRET, DEV_TOKENS: 'true', LOG_LEVEL: 'warn', REDIS_URL: redis.url, KMS_URLS: engine.url, PRESENTER_GRACE_MS: '1500' };
  const nodes = [await spawnService({ ...env, NODE_ID: 'soak-a' }), await spawnService({ ...env, NODE_ID: 'soak-b' })];
  const host = new PeerHost({ presenter: { width: 160, height: 120 }, viewer: {} });
  await host.ready;
  const processes: Record<string, number> = { engine: engine.proc.pid!, 'node a': nodes[0]!.proc.pid!, 'node b': nodes[1]!.proc.pid!, redis: redis.proc.pid!, 'wrtc peers (test side)': host.pid! };
  const samples: Record<string, ProcessSample[]> = Object.fromEntries(Object.keys(processes).map((k) => [k, []]));
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const t = (Date.now() - t0) / 60000;
    for (const [name, pid] of Object.entries(processes)) { const s = sample(pid, t); if (s) samples[name]!.push(s); }
  }, 5000);
  const appErrors: Record<string, number> = {};
  const clients = new Set<StompTestClient>();
  const watchErrors = (c: StompTestClient) => {
    clients.add(c);
    c.errors.push = ((push) => function (this: typeof c.errors, m) {
      const code = String((m.body as { code?: string })?.code ?? 'unknown');
      appErrors[code] = (appErrors[code] ?? 0) + 1;
      return push.call(this, m);
    })(c.errors.push);
  };
  const tokenFor = async (node: { url: string }, name: string, roles: string[]) => {
    const r = await fetch(`${node.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, roles }) });
    return ((await r.json()) as { token: string }).token;
  };
  const joinFailures: Record<string, number> = {};
  const chatRefusals: Record<string, number> = {};
  const counts = { busksStarted: 0, busksEnded: 0, joins: 0, joinsDecoded: 0, joinFailures: 0, chatSent: 0, chatRefused: 0 };
  const live: { buskId: string; busker: StompTestClient; presenter: Leg; node: number; chatters: StompTestClient[]; until: number }[] = [];
  // Fans per busk so that each stays under CHAT_RATE's default (5 per 10 s) with room to spare.
  const chattersPerBusk = Math.ceil(sizes.chatPerSecond / sizes.concurrentBusks / 0.3);
  const endMs = sizes.minutes * 60000;
  const busyUntil = t0 + endMs;
  const buskLifeMs = (endMs * sizes.concurrentBusks) / sizes.busks;
  let stopping = false;

  const startOne = async (i: number) => {
    const node = i % 2;
    const busker = await StompTestClient.connect(nodes[node]!.stompUrl, { token: await tokenFor(nodes[node]!, `Busker ${i}`, ['busker']) });
    watchErrors(busker);
    const { buskId, presenter } = await startReofferingBusk(host, busker, { title: `Soak ${i}`, location: { lat: 51 + (i % 10) / 100, lng: -0.1 } });
    const chatters: StompTestClient[] = [];
    for (let f = 0; f < chattersPerBusk; f++) {
      const fanNode = nodes[(node + f + 1) % 2]!;
      const chatter = await StompTestClient.connect(fanNode.stompUrl, { token: await tokenFor(fanNode, `Fan ${i}.${f}`, []) });
      watchErrors(chatter);
      chatters.push(chatter);
    }
    counts.busksStarted++;
    live.push({ buskId, busker, presenter, node, chatters, until: Date.now() + buskLifeMs * (0.7 + 0.6 * Math.random()) });
  };
  const endOne = async (b: (typeof live)[number]) => {
    live.splice(live.indexOf(b), 1);
    await b.busker.request(`/app/busk.${b.buskId}.leave`, {}).catch(() => undefined);
    await b.presenter.close();
    for (const c of [b.busker, ...b.chatters]) { await c.close(); clients.delete(c); }
    counts.busksEnded++;
  };

  // Busks: keep `concurrentBusks` live, each for about its share of the run, until `busks` have started.
  const busks = (async () => {
    let started = 0;
    while (!stopping) {
      for (const b of live.filter((x) => Date.now() > x.until)) await endOne(b);
      while (!stopping && live.length < sizes.concurrentBusks && started < sizes.busks && Date.now() < busyUntil) await startOne(started++);
      await sleep(250);
    }
  })();
  // Viewers: a join every 60/N s on a random live busk, on a random node; decode, stay 2-4 s, leave.
  const viewerJobs = new Set<Promise<void>>();
  const viewers = (async () => {
    const every = 60000 / sizes.viewerJoinsPerMinute;
    let next = Date.now();
    while (!stopping) {
      next += every;
      await sleep(Math.max(0, next - Date.now()));
      // A viewer stays at most 4 s: a busk with less than 6 s of its show left is not joined (a join
      // racing the end is refused or finds the media gone; that is not what this measures).
      const open = live.filter((x) => x.until - Date.now() > 6000);
      const b = open[Math.floor(Math.random() * open.length)];
      if (!b) continue;
      const job = (async () => {
        counts.joins++;
        let fan: StompTestClient | null = null;
        let leg: Leg | null = null;
        try {
          fan = await StompTestClient.connect(nodes[Math.floor(Math.random() * 2)]!.stompUrl);
          watchErrors(fan);
          leg = await Leg.join(host, fan, b.buskId, 'viewer');
          await waitFor(async () => (await leg!.frames()) >= 3, 15000, 'frames', 100);
          counts.joinsDecoded++;
          await sleep(2000 + Math.random() * 2000);
        } catch (e) {
          counts.joinFailures++;
          // A join racing its busk's end is refused (`not-found`) or never gets frames: say which.
          const why = `${live.includes(b) ? 'busk live' : 'busk ended meanwhile'}: ${String((e as Error).message ?? e).slice(0, 80)}`;
          joinFailures[why] = (joinFailures[why] ?? 0) + 1;
        } finally {
          await leg?.close().catch(() => undefined);
          if (fan) { await fan.close(); clients.delete(fan); }
        }
      })();
      viewerJobs.add(job);
      void job.finally(() => viewerJobs.delete(job));
    }
  })();
  // Chat: `chatPerSecond` over the live busks' fans (each fan under the default 5 per 10 s).
  // Each tick is one busk's slot: `chatPerSecond` in all while `concurrentBusks` are live, less while
  // fewer are (ramping up and down), so no fan goes over the chat rate because the evening is quiet.
  let tick = 0;
  const said = new Map<string, number>();
  const chat = setInterval(() => {
    const b = live[tick++ % sizes.concurrentBusks];
    if (!b) return;
    counts.chatSent++;
    const n = (said.get(b.buskId) ?? 0) + 1;
    said.set(b.buskId, n);
    const chatter = b.chatters[n % b.chatters.length]!;
    void chatter.request(`/app/busk.${b.buskId}.chat`, { text: `la la ${counts.chatSent}` }).then((r) => {
      if (r === 'ok') return;
      counts.chatRefused++;
      const why = `${live.includes(b) ? 'busk live' : 'busk ended meanwhile'}: ${r.code}`;
      chatRefusals[why] = (chatRefusals[why] ?? 0) + 1;
    }, () => { counts.chatRefused++; });
  }, 1000 / sizes.chatPerSecond);

  const progress = setInterval(() => log(`soak: ${((Date.now() - t0) / 60000).toFixed(1)} min, ${live.length} live busks, ${JSON.stringify(counts)}`), 60000);
  const engineHeapMb: { afterWarmup: number | null; end: number | null } = { afterWarmup: null, end: null };
  try {
    if (sizes.engineHeapSnapshots) {
      await sleep(sizes.warmupMinutes * 60000);
      engineHeapMb.afterWarmup = await engineLiveHeapMb(engine.proc.pid!, snapshotDir);
      await sleep(Math.max(0, t0 + endMs - Date.now()));
      engineHeapMb.end = await engineLiveHeapMb(engine.proc.pid!, snapshotDir);
      log(`soak: the engine's live heap after a full collection: ${engineHeapMb.afterWarmup} MB after warm-up, ${engineHeapMb.end} MB at the end of the load`);
    } else {
      await sleep(endMs);
    }
  } finally {
    stopping = true;
    clearInterval(chat);
    clearInterval(progress);
    await busks;
    await viewers;
    await Promise.all([...viewerJobs]);
    for (const b of [...live]) await endOne(b);
  }
  // Everyone left: what is left on the engine, in Redis, in the nodes.
  await sleep(3000);
  const kms = await connectKms(engine.url);
  const pipelines = ((await (await kms.getServerManager()).getPipelines()) as unknown[]).length;
  await closeKms(kms);
  const metricsText = await Promise.all(nodes.map(async (n) => (await fetch(`${n.url}/metrics`)).text()));
  const errorsByCause: Record<string, number> = {};
  for (const text of metricsText) {
    for (const [cause, n] of Object.entries(metricByLabel(text, 'stomp_errors_by_cause_total', 'cause'))) errorsByCause[cause] = (errorsByCause[cause] ?? 0) + n;
  }
  const nodeFigures = metricsText.map((t) => ({ busks: metric(t, 'busking_busks'), viewers: metric(t, 'busking_viewers'), sessions: metric(t, 'busking_sessions'), mediaObjects: metric(t, 'busking_media_objects') }));
  clearInterval(sampler);
  const last = (Date.now() - t0) / 60000;
  for (const [name, pid] of Object.entries(processes)) { const s = sample(pid, last); if (s) samples[name]!.push(s); }
  const perProcess = Object.fromEntries(Object.entries(samples).map(([name, xs]) => {
    const warm = xs.filter((s) => s.t >= sizes.warmupMinutes);
    const first = warm[0] ?? xs[0];
    const end = xs[xs.length - 1];
    return [name, {
      rssMbPerMinute: Math.round(slope(warm.map((s) => ({ x: s.t, y: s.rssMb }))) * 100) / 100,
      rssMb: { afterWarmup: first?.rssMb, end: end?.rssMb, max: Math.max(...xs.map((s) => s.rssMb)) },
      fds: { afterWarmup: first?.fds, end: end?.fds, max: Math.max(...xs.map((s) => s.fds)) },
      sockets: { afterWarmup: first?.sockets, end: end?.sockets, max: Math.max(...xs.map((s) => s.sockets)) },
    }];
  }));
  const redisKeys = await (async () => {
    const { createClient } = await import('redis');
    const c = createClient({ url: redis.url });
    await c.connect();
    const keys = (await c.keys('busking:*')).filter((k) => !/:(node|claim|ended):/.test(k));
    await c.quit();
    return keys;
  })();
  host.stop();
  for (const n of nodes) await n.stop();
  await engine.stop();
  await redis.stop();
  fs.rmSync(snapshotDir, { recursive: true, force: true });
  return { sizes, counts, engineHeapMb, joinFailures, chatRefusals, pipelinesLeft: pipelines, redisKeysLeft: redisKeys, nodes: nodeFigures, errorsByCause, appErrors, perProcess, samples };
}
