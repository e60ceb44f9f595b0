// Chaos scenario 5 of issue 15, the flapping presenter: a busker on a mobile link that loses every
// packet for `dropS` seconds every `periodS` seconds (a train through tunnels), for `minutes`. The
// presenter (a reoffering Leg) reaches the engine only through UDP relays the scenario drops and heals
// (test-support/udp-proxy.ts); its STOMP connection is not cut, so this is media loss alone, not the
// dropped connection PRESENTER_GRACE_MS is about. Viewers watch directly. Reported: the viewers'
// frozen time (in all, and per drop), how soon they decode again after each heal, reoffers, what the
// busk went through (media `stalled`/`flowing`, `ended`), and what is left once everyone has left.
import { PeerHost } from '../../test-support/wrtc-peers';
import { spawnEngine } from '../../test-support/service-process';
import { UdpLink } from '../../test-support/udp-proxy';
import { FreezeMeter, decodedFrames } from '../../test-support/frozen-frames';
import { RpcClient } from '../../test-support/fuzz';
import { waitFor } from '../../test-support/ports';
import { StompTestClient, type Inbox } from '../../signaling/test/support/stomp-client';
import { Leg, startReofferingBusk } from '../../signaling/test/support/legs';
import { devToken, listBusks, pct, sleep, startNode } from './chaos-kit';

export interface FlappingOptions {
  minutes: number;
  /** A drop starts every `periodS` seconds and lasts `dropS`. */
  periodS: number;
  dropS: number;
  viewers: number;
  log: (s: string) => void;
}

/** The engine's own view (its process, over the Kurento Protocol): pipelines and sessions. */
async function engineObjects(rpc: RpcClient): Promise<{ pipelines: string[]; sessions: string[] }> {
  const value = async (operation: string) => {
    const r = await rpc.call('invoke', { object: 'manager_ServerManager', operation, operationParams: {} });
    return ((r?.result as { value?: unknown } | undefined)?.value as string[] | undefined) ?? [];
  };
  return { pipelines: await value('getPipelines'), sessions: await value('getSessions') };
}

const round = (x: number) => Math.round(x);

export async function flappingPresenter(opts: FlappingOptions): Promise<Record<string, unknown>> {
  const { periodS, dropS, log } = opts;
  if (!(dropS > 0 && dropS < periodS)) throw new Error(`dropS (${dropS}) must be within the period (${periodS})`);
  const drops = Math.max(1, Math.floor((opts.minutes * 60) / periodS));
  const engine = await spawnEngine();
  const svc = await startNode({ KMS_URLS: engine.url });
  const host = new PeerHost({ presenter: { width: 160, height: 120, audio: false }, viewer: { audio: false } });
  const link = new UdpLink();
  const rpc = await RpcClient.open(engine.url);
  const legs: Leg[] = [];
  const clients: StompTestClient[] = [];
  let meter: FreezeMeter | null = null;
  let iceWatch: Promise<void> | null = null;
  let running = true;
  try {
    await host.ready;
    // Sessions the engine holds before the busk (the node's, this one's): any other left at the end leaked.
    const sessionsBefore = new Set((await engineObjects(rpc)).sessions);
    const busker = await StompTestClient.connect(svc.stompUrl, { token: await devToken(svc.url, 'Flapper', ['busker']) });
    clients.push(busker);
    const { buskId, presenter } = await startReofferingBusk(host, busker, { title: 'Flapping presenter' }, link);
    legs.push(presenter);
    // What a viewer's page hears about the busk: media state changes, `ended`.
    const watcher = await StompTestClient.connect(svc.stompUrl);
    clients.push(watcher);
    const topic: Inbox = await watcher.subscribeSync(`/topic/busk.${buskId}`);
    // When each message came, to time the media state against the drops.
    const arrived = new WeakMap<object, number>();
    const push = topic.push.bind(topic);
    topic.push = (m) => { arrived.set(m, Date.now()); push(m); };
    const viewers: Leg[] = [];
    for (let i = 0; i < opts.viewers; i++) {
      const fan = await StompTestClient.connect(svc.stompUrl);
      clients.push(fan);
      viewers.push(await Leg.join(host, fan, buskId, 'viewer'));
    }
    legs.push(...viewers);
    await waitFor(async () => (await Promise.all(viewers.map((v) => v.frames()))).every((n) => n >= 5), 60000, 'every viewer decoding', 200);
    if (link.size === 0 || (await link.counts()).forwarded === 0) throw new Error('the presenter is not going through the relay');
    log(`flapping: ${opts.viewers} viewers decoding; presenter through ${link.size} relay(s); ${drops} drops of ${dropS} s every ${periodS} s`);

    meter = new FreezeMeter(viewers.map((v) => decodedFrames(v)));
    meter.start();
    // The presenter's own ICE state (libwebrtc) as the drops go by.
    const iceSeen: { t: number; ice: string }[] = [];
    iceWatch = (async () => {
      while (running) {
        const ice = await presenter.peer.stats().then((s) => s.ice, () => 'gone');
        if (iceSeen.at(-1)?.ice !== ice) iceSeen.push({ t: Date.now(), ice });
        await sleep(250);
      }
    })();
    // Before the first drop: the meter's reading of a healthy stream (its noise floor).
    const baselineFrom = Date.now();
    const baselineMs = Math.min(5, periodS - dropS) * 1000;
    await sleep(baselineMs);

    const start = Date.now();
    const windows: { dropAt: number; healAt: number; until: number; listed: boolean }[] = [];
    let endedDuringRun: string | null = null;
    for (let d = 0; d < drops; d++) {
      const dropAt = start + d * periodS * 1000;
      await sleep(dropAt - Date.now());
      await link.drop();
      await sleep(dropAt + dropS * 1000 - Date.now());
      await link.heal();
      const healAt = Date.now();
      // Still on the map once the link is back (the busk must not end over a 2 s loss).
      const listed = ((await listBusks(svc.url)) ?? []).some((b) => b.id === buskId);
      windows.push({ dropAt, healAt, until: start + (d + 1) * periodS * 1000, listed });
      const ended = topic.messages.find((m) => m.body?.type === 'ended');
      if (ended && !endedDuringRun) endedDuringRun = String(ended.body.reason);
      if ((d + 1) % Math.max(1, Math.round(60 / periodS)) === 0) log(`flapping: ${d + 1}/${drops} drops; reoffers presenter ${presenter.reoffers}, viewers ${viewers.reduce((n, v) => n + v.reoffers, 0)}`);
    }
    await sleep(start + drops * periodS * 1000 - Date.now());
    running = false;
    await meter.stop();
    await iceWatch;
    const runEnd = Date.now();
    endedDuringRun ??= topic.messages.find((m) => m.body?.type === 'ended')?.body.reason ?? null;

    // Per viewer and drop: frozen within the drop's period; after the heal, the first frame and the
    // picture moving again for good (frames can come back, play a second and stop again).
    const frozenPerDrop: number[] = [];
    const worstPerDrop = windows.map(() => 0);
    const firstFrameAfterHeal: number[] = [];
    const playingAfterHeal: number[] = [];
    let notBack = 0;
    let slowDrops = 0;
    windows.forEach((w, d) => {
      let slow = false;
      for (let i = 0; i < viewers.length; i++) {
        const frozen = meter!.frozenMs(i, w.dropAt, w.until);
        frozenPerDrop.push(frozen);
        worstPerDrop[d] = Math.max(worstPerDrop[d]!, round(frozen));
        const first = meter!.advancedAfter(i, w.healAt);
        if (first !== null) firstFrameAfterHeal.push(first);
        const playing = meter!.playingAgainAfter(i, w.healAt, w.until);
        if (playing === null) notBack++;
        else playingAfterHeal.push(playing);
        if (playing === null || playing > 1000) slow = true;
      }
      if (slow) slowDrops++;
    });
    const frozenPerViewer = viewers.map((_, i) => round(meter!.frozenMs(i, start, runEnd)));
    const baselineFrozen = viewers.map((_, i) => round(meter!.frozenMs(i, baselineFrom, start)));

    // The busk's media state as published: stalled/flowing, timed against the drops and heals.
    const media = topic.messages.filter((m) => m.body?.type === 'media').map((m) => ({ t: arrived.get(m) ?? 0, state: String(m.body.state) }));
    const stalledAfterDrop: number[] = [];
    const flowingAfterHeal: number[] = [];
    for (const w of windows) {
      const stalledAt = media.find((m) => m.state === 'stalled' && m.t >= w.dropAt && m.t < w.until)?.t;
      const flowingAt = media.find((m) => m.state === 'flowing' && m.t >= (stalledAt ?? w.healAt) && m.t < w.until)?.t;
      if (stalledAt !== undefined) stalledAfterDrop.push(stalledAt - w.dropAt);
      if (stalledAt !== undefined && flowingAt !== undefined) flowingAfterHeal.push(flowingAt - w.healAt);
    }

    // Everyone leaves; then what is left on the node, in its State and on the engine.
    const presenterReoffers = presenter.reoffers;
    const viewerReoffers = viewers.map((v) => v.reoffers);
    await busker.request(`/app/busk.${buskId}.leave`, {}).catch(() => undefined);
    for (const l of legs) await l.close();
    for (const c of clients) await c.close();
    await waitFor(async () => (await svc.media.servers[0]!.serverPipelineIds()).length === 0, 10000, 'no pipeline left', 200).catch(() => undefined);
    const pipelinesLeft = (await svc.media.servers[0]!.serverPipelineIds()).length;
    const onEngine = await engineObjects(rpc);
    const node = svc.busks.stats();
    const state = { busks: (await svc.state.listBusks()).length, viewers: Object.keys(await svc.state.viewers(buskId)).length };
    const iceStates = [...new Set(iceSeen.map((s) => s.ice))];
    const counts = await link.counts();

    const result = {
      minutes: opts.minutes, periodS, dropS, drops, viewers: opts.viewers,
      presenterGraceMs: svc.config.presenterGraceMs,
      frozen: {
        totalMs: frozenPerViewer.reduce((a, b) => a + b, 0),
        perViewerMs: frozenPerViewer,
        perDropP50Ms: round(pct(frozenPerDrop, 50)), perDropMaxMs: round(Math.max(...frozenPerDrop)),
        // Each drop's worst viewer, in order.
        perDropWorstMs: worstPerDrop,
        baselineMs, baselineFrozenPerViewerMs: baselineFrozen,
      },
      afterHeal: {
        firstFrameP50Ms: round(pct(firstFrameAfterHeal, 50)), firstFrameMaxMs: firstFrameAfterHeal.length ? Math.max(...firstFrameAfterHeal) : null,
        playingAgainP50Ms: round(pct(playingAfterHeal, 50)), playingAgainMaxMs: playingAfterHeal.length ? Math.max(...playingAfterHeal) : null,
        // Drops after which some viewer's picture took over 1 s to move again (waiting for a keyframe).
        dropsSlowerThan1s: slowDrops, viewersNotPlayingBeforeNextDrop: notBack,
      },
      reoffers: { presenter: presenterReoffers, viewers: viewerReoffers.reduce((a, b) => a + b, 0), perViewer: viewerReoffers },
      busk: {
        endedDuringRun, listedAfterEveryHeal: windows.every((w) => w.listed),
        // The engine reports no flow in after 1 to 1.5 s without packets (kurento/src/media/flow.ts): the busk goes `stalled`.
        dropsStalled: stalledAfterDrop.length,
        stalledAfterDropP50Ms: round(pct(stalledAfterDrop, 50)), flowingAfterHealP50Ms: round(pct(flowingAfterHeal, 50)),
        flowingAfterHealMaxMs: flowingAfterHeal.length ? Math.max(...flowingAfterHeal) : null,
        mediaEvents: media.length,
      },
      presenterIceStates: iceStates,
      relay: { relays: link.size, forwarded: counts.forwarded, dropped: counts.dropped },
      leaks: {
        enginePipelines: pipelinesLeft,
        engineSessions: onEngine.sessions.filter((s) => !sessionsBefore.has(s)).length,
        nodeBusks: node.busks, nodeViewers: node.viewers, nodePipelines: node.pipelines, nodeEndpoints: node.endpoints, heldCandidates: node.heldCandidates,
        stateBusks: state.busks, stateViewers: state.viewers,
      },
    };
    log(`flapping: ${JSON.stringify(result)}`);
    return result;
  } finally {
    running = false;
    await meter?.stop();
    await iceWatch;
    for (const l of legs) await l.close();
    for (const c of clients) await c.close().catch(() => undefined);
    host.stop();
    rpc.close();
    await link.close();
    await svc.close();
    await engine.stop();
  }
}
