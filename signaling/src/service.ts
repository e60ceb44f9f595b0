// The whole product in one process: media engine (embedded or KMS pool), state, broker, busk service,
// HTTP. startService() is what main.ts runs and what tests start on free ports (PORT=0, STOMP_TCP_PORT=0).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from './config';
import { AppError, Broker, openPermissions, parsePermissionRules, permissionRules } from './stomp';
import type { PermissionCheck } from './stomp';
import { TokenVerifier, DevTokenIssuer, makeAuthenticator, permissions, hasRole, withTurnSidecarRole } from './auth';
import { MediaPool } from './media';
import { Bus, LocalBus, MemoryState, RedisBus, RedisState, State } from './state';
import { BuskService } from './busk';
import { createHttpApp, defaultWebDir } from './http/app';
import { Store } from './store';
import { AfterShow, afterShowRouter } from './shorts';
import { WhipService } from './whip';
import { whipRouter } from './whip/http';
import { StreamKeys } from './whip/stream-keys';
import { HlsService } from './hls';
import { hlsHandler } from './hls/http';
import { Gauge, Metrics } from './http/metrics';
import { log } from './log';
import { startMediaServer } from '../../kurento/src';
import type { MediaServer as EmbeddedEngine } from '../../kurento/src';
import { LogFollower } from '../../turn/src/follower';
import { TurnMonitor } from '../../turn/src/monitor';
import { registerTurnEventRelay, TURN_EVENTS_TOPIC } from '../../turn/src/relay';
import { OpsMonitor, OpsOptions } from './ops';

/** Longest a client may take to send a request's headers (slowloris). */
const HEADERS_TIMEOUT_MS = 10000;

/** How often the in-service TURN monitor re-evaluates its diagnoses (as the sidecar does). */
const TURN_TICK_MS = 5000;

/**
 * STOMP_RULES → the broker's PermissionCheck.
 *   default  the product's rules (auth/stomp-auth.ts): SEND only to /app/**, SUBSCRIBE to /topic/**
 *            and /user/**, /topic/ops.** only with role ops.
 *   open     SEND and SUBSCRIBE to any /app, /topic, /queue and /user destination (outside STOMP
 *            suites, trusted backends); /topic/ops and /topic/ops.** still need role ops.
 *   a path   a JSON rules file: [{pattern, allow, roles?, authenticated?}, ...] (first match
 *            decides, no match denies); it replaces the whole policy, the ops rule included.
 * Under every policy a session with role turn-sidecar may only SEND TURN events (auth/stomp-auth.ts).
 */
export function stompPermissions(setting: string): PermissionCheck {
  const v = setting.trim();
  if (v === '' || v === 'default') return permissions;
  if (v === 'open') {
    return withTurnSidecarRole((principal, action, destination) => {
      if (/[\s\0]/.test(destination) || !openPermissions(principal, action, destination)) return false;
      if (destination === '/topic/ops' || destination.startsWith('/topic/ops.')) return hasRole(principal, 'ops');
      return /^\/(app|topic|queue|user)\//.test(destination);
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(v, 'utf8'));
  } catch (e) {
    throw new Error(`STOMP_RULES: expected default, open or a readable JSON rules file; ${v}: ${(e as Error).message}`);
  }
  try {
    return withTurnSidecarRole(permissionRules(parsePermissionRules(data)));
  } catch (e) {
    throw new Error(`STOMP_RULES ${v}: ${(e as Error).message}`);
  }
}

export interface ServiceOptions {
  /** Redis key/channel prefix (tests run several services on one Redis). */
  redisPrefix?: string;
  /** Static files directory instead of dist/web. */
  webDir?: string;
  /** Skip waiting for a media server at start (it may come later; /readyz tells). */
  mediaWaitMs?: number;
  /** The ops history's point interval and polling (tests shorten the minute). */
  ops?: OpsOptions;
}

export interface Service {
  config: Config;
  nodeId: string;
  /** http://HOST:PORT */
  url: string;
  /** ws://HOST:PORT/stomp */
  stompUrl: string;
  httpPort: number;
  stompTcpPort: number | null;
  /** The media servers in use (the embedded engine's URL when KMS_URLS is empty). */
  kmsUrls: string[];
  engine: EmbeddedEngine | null;
  broker: Broker;
  state: State;
  media: MediaPool;
  busks: BuskService;
  /** WHIP ingest and WHEP playback sessions. */
  whip: WhipService;
  /** The crowd tier (HLS_ENABLED). */
  hls?: HlsService;
  metrics: Metrics;
  ops: OpsMonitor;
  /** Durable data: database and media files (opens in the background; `await store.db()`). */
  store: Store;
  /** Recordings, shorts, comments, profiles. */
  afterShow: AfterShow;
  close(): Promise<void>;
}

export async function startService(config: Config, opts: ServiceOptions = {}): Promise<Service> {
  log.setLevel(config.logLevel);
  // Configuration errors first, before anything is started.
  const stompRules = stompPermissions(config.stomp.rules);
  const cleanups: (() => Promise<void> | void)[] = [];
  const closeAll = async () => {
    for (const c of cleanups.splice(0).reverse()) {
      try { await c(); } catch (e) { log.warn('service', 'close step failed', e); }
    }
  };
  try {
    // 1. Media: the embedded engine when no KMS is configured.
    let engine: EmbeddedEngine | null = null;
    let kmsUrls = config.kmsUrls;
    if (kmsUrls.length === 0) {
      const stun = config.stunUrls[0] ? /^stuns?:([^:?]+)(?::(\d+))?/.exec(config.stunUrls[0]) : null;
      // No fixed port unless EMBEDDED_KMS_PORT asks for one, 127.0.0.1 only, and a shared secret
      // (KMS_ACCESS_TOKEN, or a random one per process) so that other local processes cannot drive
      // it; the engine refuses browser Origins itself. kurento-client needs a ws:// URL, so the
      // engine keeps a loopback port rather than an in-process transport.
      engine = await startMediaServer({
        host: '127.0.0.1', port: config.embeddedKmsPort,
        accessToken: config.kmsAccessToken || crypto.randomBytes(24).toString('base64url'),
        bindAddress: config.host === '127.0.0.1' || config.host === 'localhost' ? '127.0.0.1' : undefined,
        portRange: config.rtpPortRange ?? undefined,
        workers: config.engineWorkers,
        nativeSend: config.engineNativeSend,
        stunServerAddress: stun?.[1], stunServerPort: stun?.[2] ? Number(stun[2]) : undefined,
      });
      const e = engine;
      cleanups.push(() => e.close());
      kmsUrls = [engine.url];
      log.info('media', `embedded media engine at ${engine.url}${engine.workers ? ` on ${engine.workers.size} media workers` : ''}; forwarded RTP send path: ${engine.sendPath}`);
    }
    const media = new MediaPool(engine ? [engine.clientUrl] : kmsUrls, config.mediaTimeoutMs);
    cleanups.push(() => media.close());
    media.start();
    await media.ready(opts.mediaWaitMs ?? 10000).catch((e) => log.warn('media', `${(e as Error).message}; starting anyway (/readyz reports it)`));

    // 2. State.
    let state: State;
    if (config.redisUrl) {
      state = await RedisState.connect(config.redisUrl, opts.redisPrefix, config.redisTimeoutMs);
    } else {
      state = new MemoryState();
    }
    const st = state;
    cleanups.push(() => st.close());

    // 3. Broker, auth and the bus.
    const verifier = new TokenVerifier(config.jwt);
    const devTokens = config.devTokens ? new DevTokenIssuer(config.jwt) : null;
    if (config.devTokensPublic) {
      log.warn('auth', `DEV_TOKENS_ALLOW_PUBLIC: development tokens are ON although HOST=${config.host} is public or NODE_ENV=production; anyone who reaches POST /api/dev/token can mint any role (ops, busker). Never run this in production.`);
    }
    const broker = new Broker({
      authenticator: makeAuthenticator(verifier, { anonymousViewing: config.anonymousViewing }),
      permissions: stompRules,
      onDenied: 'errors-queue',
      heartbeat: config.stomp.heartbeatMs,
      limits: {
        maxFrameBytes: config.stomp.maxFrameBytes, maxSubscriptions: config.stomp.maxSubscriptions, rateLimit: config.stomp.rateLimit,
        maxConnections: config.stomp.maxConnections, maxConnectionsPerAddress: config.stomp.maxConnectionsPerAddress, idleTimeoutMs: config.stomp.idleTimeoutMs,
      },
      trustedProxies: config.stomp.trustedProxies,
      sessionIdPrefix: config.nodeId,
      serverName: 'busking',
      logger: {
        debug: (m, meta) => log.debug('stomp', m, meta),
        info: (m, meta) => log.info('stomp', m, meta),
        warn: (m, meta) => log.warn('stomp', m, meta),
        error: (m, meta) => log.error('stomp', m, meta),
      },
    });
    let bus: Bus;
    if (state instanceof RedisState) bus = await RedisBus.create(broker, state.client, config.nodeId, opts.redisPrefix);
    else bus = new LocalBus(broker);
    const theBus = bus;
    // The TURN sidecar SENDs batches to /app/ops.turn.events (role ops); they go out on
    // /topic/ops.turn through the bus, so ops subscribers on every node get them.
    registerTurnEventRelay(broker, { publish: (d, b) => theBus.publish(d, b), reject: (code, message) => new AppError(code, message) });

    // 4. TURN monitor (optional).
    const metrics = new Metrics();
    let monitor: TurnMonitor | null = null;
    if (config.turn.logFile) {
      const mon = new TurnMonitor({ ttlSeconds: config.turn.ttlSeconds });
      monitor = mon;
      const follower = new LogFollower(config.turn.logFile, { fromStart: true });
      follower.on('line', (line: string) => mon.feed(line));
      follower.on('error', (e: unknown) => log.warn('turn', 'log follower', e));
      follower.on('warning', (e: unknown) => log.warn('turn', 'log follower', e));
      // Local subscribers only: every node follows the log itself (a bus publish would duplicate).
      mon.on('event', (ev: unknown) => broker.publish(TURN_EVENTS_TOPIC, JSON.stringify(ev), { 'content-type': 'application/json' }));
      follower.start();
      // Diagnoses (e.g. allocations that outlived their lifetime) are re-evaluated periodically.
      const tick = setInterval(() => {
        try { mon.tick(); } catch (e) { log.warn('turn', 'monitor tick failed', e); }
      }, TURN_TICK_MS);
      tick.unref();
      cleanups.push(async () => { clearInterval(tick); await follower.stop(); });
      metrics.addText(() => mon.metrics());
    }

    // 5. Durable store (recordings, shorts, comments, profiles): opens in the background, so a
    // fresh PGlite's initialisation does not hold up the live product.
    const store = new Store({ dataDir: config.store.dataDir, databaseUrl: config.store.databaseUrl, s3: config.store.s3 });
    // Closed last, after the HTTP server (requests may still use it); unshift keeps the server's
    // place among the last three cleanups below.
    cleanups.unshift(() => store.close());
    store.db().catch((e: Error) => log.error('store', `durable store unavailable: ${e.message}`));
    const afterShow = new AfterShow({
      store, state, publish: (d, b) => theBus.publish(d, b), ffmpegPath: config.store.ffmpegPath, comments: config.store.comments,
    });
    // Recordings a killed process left 'recording' are finished from their files before this
    // process records anything (an embedded database belongs to this process alone: all of them).
    const recovered = store.db()
      .then(async (db) => {
        const r = await afterShow.recordings.recover(config.nodeId, db.kind === 'pglite');
        if (r.finished.length + r.failed.length) log.info('record', `recovered recordings: ${r.finished.length} finished, ${r.failed.length} failed`);
      })
      .catch((e: Error) => log.warn('record', `recording recovery: ${e.message}`));

    // 6. Busk service (it records busks started with `record: true` through afterShow.recordings).
    const loopback = config.host === '127.0.0.1' || config.host === 'localhost';
    // The crowd tier: HLS streams of this node's busks, fed by their recorder legs.
    let hlsCountChanged = (_buskId: string): void => undefined;
    const hls = config.hls.enabled ? new HlsService({
      state, nodeId: config.nodeId, segmentSeconds: config.hls.segmentMs / 1000, windowSegments: config.hls.windowSegments,
      lingerMs: 30000, viewerIdleMs: Math.max(8000, 6 * config.hls.segmentMs),
      countChanged: (id) => hlsCountChanged(id),
    }) : undefined;
    const busks = new BuskService({
      config, nodeId: config.nodeId, broker, bus, state, media, verifier, metrics, presenceTtlMs: config.nodePresenceTtlMs, hls,
      recorder: {
        recordings: afterShow.recordings, dir: store.recordingsDir, ready: recovered,
        bindAddress: loopback ? '127.0.0.1' : undefined, portRange: config.rtpPortRange,
        iceServers: config.stunUrls.map((urls) => ({ urls })),
      },
    });
    hlsCountChanged = (id) => busks.countChanged(id);
    busks.start();
    // The HTTP server's cleanup goes here (it runs after the bus, broker and busks have closed).
    const serverCleanupAt = cleanups.length;
    cleanups.push(() => theBus.close());
    cleanups.push(() => broker.close());
    cleanups.push(() => busks.close());
    if (hls) cleanups.push(() => hls.close());
    // WHIP/WHEP sessions: HTTP presenters and viewers of this node's busk service (ended before it).
    // Its limits follow PRESENTER_GRACE_MS: how long a dropped connection may take to come back.
    const whip = new WhipService({
      busks, state, anonymousViewing: config.anonymousViewing,
      silenceMs: Math.max(config.presenterGraceMs, 15000), viewerTimeoutMs: Math.max(config.presenterGraceMs, 3000),
      sweepMs: Math.min(5000, Math.max(250, config.presenterGraceMs / 2)),
    });
    cleanups.push(() => whip.close());

    // Gauges read at scrape time.
    const label = { node: config.nodeId };
    metrics.add(new Gauge('busking_sessions', 'Open STOMP sessions on this node.', () => [{ labels: label, v: broker.stats().sessions }]));
    metrics.add(new Gauge('busking_busks', 'Busks whose presenter is on this node.', () => [{ labels: label, v: busks.stats().busks }]));
    metrics.add(new Gauge('busking_viewers', 'Viewer legs on this node.', () => [{ labels: label, v: busks.stats().viewers }]));
    metrics.add(new Gauge('busking_media_objects', 'Media server objects held by this node, by type.', () => {
      const s = busks.stats();
      return [{ labels: { ...label, type: 'MediaPipeline' }, v: s.pipelines }, { labels: { ...label, type: 'WebRtcEndpoint' }, v: s.endpoints }];
    }));
    metrics.add(new Gauge('busking_media_servers_up', 'Media servers reachable from this node.', () => media.servers.map((s) => ({ labels: { url: s.url }, v: s.isUp ? 1 : 0 }))));
    const brokerGauge = (name: string, help: string, key: 'messagesIn' | 'messagesOut' | 'dropped' | 'errors' | 'connectionsTotal' | 'subscriptions' | 'bytesIn' | 'bytesOut') =>
      metrics.add(new Gauge(name, help, () => [{ labels: label, v: broker.stats()[key] }]));
    brokerGauge('stomp_messages_in_total', 'Frames SENT by clients plus server publications (counter).', 'messagesIn');
    brokerGauge('stomp_messages_out_total', 'MESSAGE frames written (counter).', 'messagesOut');
    brokerGauge('stomp_messages_dropped_total', 'Messages not delivered (counter).', 'dropped');
    brokerGauge('stomp_errors_total', 'ERROR frames sent (counter).', 'errors');
    brokerGauge('stomp_connections_total', 'Sessions ever opened (counter).', 'connectionsTotal');
    brokerGauge('stomp_subscriptions', 'Active subscriptions.', 'subscriptions');
    brokerGauge('stomp_bytes_in_total', 'Bytes received (counter).', 'bytesIn');
    brokerGauge('stomp_bytes_out_total', 'Bytes sent (counter).', 'bytesOut');
    metrics.add(new Gauge('stomp_outbound_buffered_bytes', 'Bytes written to STOMP sessions and not yet on the wire (slow consumers hold them; each is dropped past 8 MiB).', () => [{ labels: label, v: broker.stats().outboundBytes }]));
    metrics.add(new Gauge('stomp_errors_by_cause_total', 'ERROR frames sent, by their message header (counter).',
      () => Object.entries(broker.stats().errorsByCause).map(([cause, v]) => ({ labels: { ...label, cause }, v }))));
    metrics.add(new Gauge('stomp_sockets_closed_total', 'STOMP sockets closed, by reason: slow-consumer, connect-timeout, rate-limited, … (counter).',
      () => Object.entries(broker.stats().closedByReason).map(([reason, v]) => ({ labels: { ...label, reason }, v: v ?? 0 }))));

    // The ops history (charts, diagnoses over time, busk health) and the metrics the alerts need.
    const ops = new OpsMonitor({ nodeId: config.nodeId, state, broker, bus, media, busks, metrics, turn: monitor }, opts.ops);

    // 7. HTTP + WebSocket + TCP.
    const app = createHttpApp({
      config, state, verifier, devTokens, metrics, turn: monitor, ops, webDir: opts.webDir, routers: [afterShowRouter(afterShow, verifier, opts.webDir ?? defaultWebDir()), whipRouter(whip, new StreamKeys(store), verifier, config)],
      ready: async () => {
        const mediaUp = media.anyUp;
        const stateOk = await state.ping();
        // Still opening counts as ready (requests wait for it); a store that failed does not.
        const storeStatus = store.status();
        const storeOk = storeStatus === true || storeStatus === 'opening';
        return {
          ok: mediaUp && stateOk && storeOk,
          checks: { media: mediaUp ? true : 'no media server reachable', state: stateOk ? true : 'state store unreachable', store: storeStatus },
        };
      },
    });
    // The crowd tier's requests go straight to their handler, ahead of Express (hls/http.ts says why).
    const serveHls = hls ? hlsHandler(hls) : null;
    // A request's headers must arrive within 10 s (Node's default: 60 s, checked every 30 s, so a
    // slowloris socket dripping one header byte a second held a connection and its fd for up to 90 s;
    // bench/chaos.ts, scenario 8). Bodies keep Node's 5-minute limit: uploads can be long.
    const server = http.createServer({ headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: 1000 }, (req, res) => { if (!serveHls?.(req, res)) app(req, res); });
    broker.attachTo(server, '/stomp');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => { server.off('error', reject); resolve(); });
    });
    cleanups.splice(serverCleanupAt, 0, () => new Promise<void>((resolve) => { server.closeAllConnections?.(); server.close(() => resolve()); }));
    // Started once listening, so that its cleanup comes after the listener's (and runs first).
    ops.start();
    cleanups.push(() => ops.close());
    const httpPort = (server.address() as AddressInfo).port;
    const stompTcpPort = config.stompTcpPort >= 0 ? await broker.listenTcp(config.stompTcpPort, config.host) : null;
    const urlHost = config.host === '0.0.0.0' ? '127.0.0.1' : config.host.includes(':') ? `[${config.host}]` : config.host;

    let closing: Promise<void> | null = null;
    return {
      config, nodeId: config.nodeId, url: `http://${urlHost}:${httpPort}`, stompUrl: `ws://${urlHost}:${httpPort}/stomp`,
      httpPort, stompTcpPort, kmsUrls, engine, broker, state, media, busks, whip, hls, metrics, ops, store, afterShow,
      close: () => (closing ??= closeAll()),
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
