// Scenario 8 of issue 15, "slow and abusive clients", at any size: the service in its own process, a
// busk whose chat is the hot topic (20 messages a second of 480 characters), and one abuse at a time,
// each phase measured by a well-behaved client (STOMP round trip, REST, a fresh CONNECT) and by a fan
// reading the hot topic (publish → delivery). bench/chaos.ts runs it full size, the suite small
// (signaling/test/chaos/abuse.test.ts).
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { spawnService } from './service-process';
import { iceFlood, metric, metricByLabel, slowConsumers, slowlorisHttp, slowlorisStomp, subscriptionFlood, wellBehaved, type ProbeFigures } from './abuse';
import { pct } from './stats';
import { peakRssMb } from './fuzz';
import { rssBytes } from '../bench/lib/procstat';
import { StompTestClient } from '../signaling/test/support/stomp-client';
import { requestBusk } from '../signaling/test/support/peers';

export interface AbuseSizes {
  slowConsumers: number;
  /** Seconds the slow consumers stay on the hot topic. */
  slowConsumerSeconds: number;
  /** Sockets of each slowloris kind (HTTP headers, STOMP CONNECT). */
  slowloris: number;
  subscriptions: number;
  iceSessions: number;
  icePerSession: number;
  /** Seconds of the quiet baseline. */
  baselineSeconds: number;
}

export interface PhaseFigures {
  phase: string;
  seconds: number;
  stomp: ProbeFigures; rest: ProbeFigures; connect: ProbeFigures;
  /** Hot-topic chat: publish → delivery to a well-behaved fan, ms. */
  chat: { delivered: number; sent: number; p50: number; p99: number };
  serviceRssMb: number | null;
  detail: Record<string, unknown>;
}

const SECRET = 'abuse-secret-'.padEnd(40, 'x');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rssMb = (pid: number | undefined) => (pid === undefined ? null : rssBytes(pid) / 1048576);

export async function runAbuse(sizes: AbuseSizes, log: (s: string) => void = () => {}) {
  // The product's defaults except: chat fast enough to make a hot topic, and the dev tokens.
  const svc = await spawnService({ JWT_SECRET: SECRET, DEV_TOKENS: 'true', LOG_LEVEL: 'warn', CHAT_RATE: '1000/1s' });
  const httpPort = Number(new URL(svc.url).port);
  const clients: StompTestClient[] = [];
  try {
    const tokenFor = async (name: string, roles: string[]) => {
      const r = await fetch(`${svc.url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, roles }) });
      return ((await r.json()) as { token: string }).token;
    };
    const busker = await StompTestClient.connect(svc.stompUrl, { token: await tokenFor('Hot', ['busker']) });
    clients.push(busker);
    const buskId = await requestBusk(busker, { title: 'The hot topic' });
    const topic = `/topic/busk.${buskId}.chat`;
    const fan = await StompTestClient.connect(svc.stompUrl);
    clients.push(fan);
    const heard = new Map<number, number>();
    fan.client.subscribe(topic, (m) => {
      const n = /^#(\d+)@/.exec((JSON.parse(m.body) as { text: string }).text)?.[1];
      if (n !== undefined) heard.set(Number(n), performance.now());
    });
    await fan.subscribeSync('/topic/busks'); // a receipt: the chat subscription is in before it
    // The hot topic: 20 chat messages a second, numbered, each sent at a known time.
    const sentAt = new Map<number, number>();
    let chatN = 0;
    const chatter = setInterval(() => {
      const n = ++chatN;
      sentAt.set(n, performance.now());
      busker.send(`/app/busk.${buskId}.chat`, { text: `#${n}@`.padEnd(480, 'la ') });
    }, 50);
    const probe = await wellBehaved({ stompUrl: svc.stompUrl, url: svc.url });
    const scrape = async () => (await fetch(`${svc.url}/metrics`)).text();
    const phases: PhaseFigures[] = [];
    let phaseStart = performance.now();
    let firstChat = chatN + 1;
    const begin = () => { probe.lap(); phaseStart = performance.now(); firstChat = chatN + 1; };
    const end = async (phase: string, detail: Record<string, unknown>) => {
      // Every phase gets at least a second of probes, also one whose abuse was over at once.
      await sleep(Math.max(0, 1000 - (performance.now() - phaseStart)));
      const lat: number[] = [];
      let sent = 0;
      // A message of the phase's last second may still be on its way: only older ones are counted.
      const cutoff = performance.now() - 1000;
      for (let n = firstChat; n <= chatN && sentAt.get(n)! <= cutoff; n++) {
        sent++;
        const h = heard.get(n);
        if (h !== undefined) lat.push(h - sentAt.get(n)!);
      }
      const f: PhaseFigures = {
        phase, seconds: Math.round((performance.now() - phaseStart) / 100) / 10, ...probe.lap(),
        chat: { delivered: lat.length, sent, p50: Math.round(pct(lat, 50)), p99: Math.round(pct(lat, 99)) },
        serviceRssMb: rssMb(svc.proc.pid), detail,
      };
      phases.push(f);
      log(`abuse: ${phase}: stomp p99 ${f.stomp.p99} ms, rest p99 ${f.rest.p99} ms, connect p99 ${f.connect.p99} ms, chat p99 ${f.chat.p99} ms (${f.chat.delivered}/${f.chat.sent}), rss ${f.serviceRssMb?.toFixed(0)} MB ${JSON.stringify(detail)}`);
      return f;
    };

    begin();
    await sleep(sizes.baselineSeconds * 1000);
    await end('baseline', {});

    begin();
    const crowd = await slowConsumers({ stompUrl: svc.stompUrl, n: sizes.slowConsumers, destination: topic });
    await sleep(sizes.slowConsumerSeconds * 1000);
    const m1 = await scrape();
    await end(`${sizes.slowConsumers} slow consumers`, {
      opened: crowd.opened, refused: crowd.refused,
      droppedAsSlowConsumers: metric(m1, 'stomp_sockets_closed_total', ['reason', 'slow-consumer']),
      sessions: metric(m1, 'busking_sessions'),
      outboundBufferedMb: Math.round(metric(m1, 'stomp_outbound_buffered_bytes') / 1e5) / 10,
    });
    crowd.close();

    begin();
    const lorisHttp = slowlorisHttp({ port: httpPort, n: sizes.slowloris });
    const lorisStomp = await slowlorisStomp({ stompUrl: svc.stompUrl, n: sizes.slowloris });
    const lorisStart = performance.now();
    // The broker's connect timeout (10 s) ends the STOMP ones; the HTTP server's header timeout the others.
    let stompGoneMs: number | null = null;
    let httpGoneMs: number | null = null;
    while (performance.now() - lorisStart < 75000 && (stompGoneMs === null || httpGoneMs === null)) {
      await sleep(250);
      if (stompGoneMs === null && lorisStomp.closedByServer() >= lorisStomp.opened) stompGoneMs = Math.round(performance.now() - lorisStart);
      if (httpGoneMs === null && lorisHttp.closedByServer() >= lorisHttp.opened) httpGoneMs = Math.round(performance.now() - lorisStart);
    }
    const m2 = await scrape();
    await end(`${sizes.slowloris} + ${sizes.slowloris} slowloris (HTTP headers, STOMP CONNECT)`, {
      httpOpened: lorisHttp.opened, httpClosedByServer: lorisHttp.closedByServer(), httpAllClosedAfterMs: httpGoneMs,
      stompOpened: lorisStomp.opened, stompClosedByServer: lorisStomp.closedByServer(), stompAllClosedAfterMs: stompGoneMs,
      connectTimeouts: metric(m2, 'stomp_sockets_closed_total', ['reason', 'connect-timeout']),
    });
    lorisHttp.close();
    lorisStomp.close();

    begin();
    const flood = await subscriptionFlood({ stompUrl: svc.stompUrl, count: sizes.subscriptions });
    await end(`${sizes.subscriptions} subscriptions from one session`, flood);

    begin();
    const ice = await iceFlood({ stompUrl: svc.stompUrl, buskId, sessions: sizes.iceSessions, perSession: sizes.icePerSession });
    await end(`ICE flood: ${sizes.iceSessions} sessions × ${sizes.icePerSession} candidates`, ice);

    clearInterval(chatter);
    await probe.stop();
    const m3 = await scrape();
    const errorsByCause = metricByLabel(m3, 'stomp_errors_by_cause_total', 'cause');
    const alive = svc.proc.exitCode === null && svc.proc.signalCode === null;
    return { phases, errorsByCause, serviceAlive: alive, servicePeakRssMb: svc.proc.pid === undefined ? null : peakRssMb(svc.proc.pid) };
  } finally {
    for (const c of clients) await c.close().catch(() => undefined);
    await svc.stop();
  }
}
