// The embedded media engine: a Kurento Protocol server (JSON-RPC over WebSocket) whose objects
// are backed by real WebRTC peers. Unmodified kurento-client drives it as it drives KMS.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMediaPeer, MediaWorkers } from './media';
import { readKmsConfig } from './kms-config';
import { MediaSet } from './objects/media-set';
import type { EndpointDefaults, PeerFactory } from './objects/webrtc-endpoint';
import { DEFAULT_OBJECT_LIMITS, RpcProcessor, type ObjectLimits } from './protocol/processor';
import { SessionTable } from './protocol/sessions';
import { Subscriptions } from './protocol/subscriptions';
import { WebSocketTransport } from './protocol/transport';
import { nativeState, setNativeSend } from './media/native';

export interface MediaServerOptions {
  host?: string;
  /** 0 picks a free port. Default 8888, KMS's. */
  port?: number;
  /** Default '/kurento'. */
  path?: string;
  stunServerAddress?: string;
  stunServerPort?: number;
  /** KMS form: user:password@address:port[?transport=udp|tcp]. */
  turnUrl?: string;
  portRange?: { min: number; max: number };
  /** Address media sockets bind to and candidates advertise (tests: 127.0.0.1). */
  bindAddress?: string;
  /**
   * Directory of KMS .conf.ini files to take endpoint defaults from (kurento/config holds the
   * ones docker-compose uses; see defaultKmsConfigDir()). Explicit options above win.
   */
  kmsConfigDir?: string;
  /** Events held for a session whose control socket is gone (delivered after `connect`). Default 256. */
  maxHeldEvents?: number;
  /** How long a session without a socket is remembered for `connect`. Default 480 s (KMS: 2 × 240 s). */
  sessionTtlMs?: number;
  /** How long answers are kept for repeated requests (KMS's request cache: 20 s). */
  requestCacheMs?: number;
  /** Another MediaPeer implementation (default: the werift one in ./media). */
  createPeer?: PeerFactory;
  /**
   * Media worker threads (media/workers): 0 (the default) keeps every peer on the engine's own
   * thread; N puts the peers on N threads, a busk's viewers spread over them, so its fan-out uses
   * N cores. Ignored with createPeer.
   */
  workers?: number;
  /**
   * Forwarded RTP through the native addon (media/native.ts: SRTP and sendto() in one call) where it
   * is built; false keeps the JavaScript path (the same bytes, more CPU per packet). Default true.
   * Process-wide: it applies to every engine and worker of this process.
   */
  nativeSend?: boolean;
  /**
   * Shared secret clients must send as `?access_token=` (kurento-client: the `access_token`
   * option). KMS has none, so neither has the engine by default; the signaling service sets one
   * when it runs the engine in-process.
   */
  accessToken?: string;
  /** Live media objects allowed per control connection and in all (NOT_ENOUGH_RESOURCES beyond). */
  objectLimits?: Partial<ObjectLimits>;
}

export interface MediaServer {
  /** ws://host:port/path, without the access token. */
  url: string;
  /** The URL with `?access_token=` when a token is set: what a client connects to. */
  clientUrl: string;
  port: number;
  /** Releases every object, closes every socket and the listener. */
  close(): Promise<void>;
  /** Inspection for tests and metrics. */
  readonly stats: { objects: number; pipelines: number; sessions: number; sockets: number; subscriptions: number };
  /** The media workers when the engine runs them (options.workers), for inspection; null otherwise. */
  readonly workers: MediaWorkers | null;
  /** Which path forwarded RTP takes: the native addon, or JavaScript and why (options.nativeSend, media/native.ts). */
  readonly sendPath: string;
  /** Drops every control socket from the server side, as a network failure would (objects stay). */
  dropConnections(): void;
}

export async function startMediaServer(opts: MediaServerOptions = {}): Promise<MediaServer> {
  const host = opts.host ?? '127.0.0.1';
  const path = (opts.path ?? '/kurento').replace(/\/+$/, '') || '/kurento';
  setNativeSend(opts.nativeSend !== false);
  const workers = !opts.createPeer && (opts.workers ?? 0) > 0 ? await MediaWorkers.start(opts.workers!, opts.nativeSend !== false) : null;
  const fromFiles: EndpointDefaults = opts.kmsConfigDir ? readKmsConfig(opts.kmsConfigDir) : {};
  const endpointDefaults: EndpointDefaults = {
    stunServerAddress: opts.stunServerAddress ?? fromFiles.stunServerAddress,
    stunServerPort: opts.stunServerPort ?? fromFiles.stunServerPort,
    turnUrl: opts.turnUrl ?? fromFiles.turnUrl,
    portRange: opts.portRange ?? fromFiles.portRange,
    bindAddress: opts.bindAddress,
  };

  let subscriptions: Subscriptions | undefined;
  const sessions = new SessionTable(
    { maxHeldEvents: opts.maxHeldEvents ?? 256, detachedTtlMs: opts.sessionTtlMs ?? 480000 },
    (sessionId) => subscriptions?.sessionForgotten(sessionId),
  );
  subscriptions = new Subscriptions((sessionId, event) => {
    sessions.get(sessionId)?.deliver(JSON.stringify({ jsonrpc: '2.0', method: 'onEvent', params: { value: event } }));
  });
  const subs = subscriptions;
  let processor: RpcProcessor | undefined;
  const media = new MediaSet({
    createPeer: opts.createPeer ?? workers?.createPeer ?? createMediaPeer,
    endpointDefaults,
    sessions: () => sessions.ids(),
    onRelease: (id) => { subs.objectReleased(id); processor?.objectReleased(id); },
  });
  processor = new RpcProcessor(media, sessions, subs, opts.requestCacheMs, { ...DEFAULT_OBJECT_LIMITS, ...opts.objectLimits });
  const transport = new WebSocketTransport(processor, sessions, { path, accessToken: opts.accessToken });
  const rpc = processor;

  const server = http.createServer((_req, res) => {
    // KMS serves nothing over plain HTTP on its control port.
    res.writeHead(404).end();
  });
  transport.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 8888, host, () => {
      server.off('error', reject);
      resolve();
    });
  }).catch(async (e) => {
    await workers?.close(); // the port is taken: no threads left behind
    throw e;
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;

  let closing: Promise<void> | null = null;
  const url = `ws://${urlHost}:${port}${path}`;
  return {
    url,
    clientUrl: opts.accessToken ? `${url}?access_token=${encodeURIComponent(opts.accessToken)}` : url,
    port,
    get stats() {
      return { objects: media.size - 1, pipelines: media.pipelines().length, sessions: sessions.ids().length, sockets: transport.socketCount, subscriptions: subs.size };
    },
    workers,
    sendPath: describeSendPath(),
    dropConnections: () => transport.dropSockets(),
    close: () => {
      closing ??= (async () => {
        await transport.close();
        await media.close();
        await workers?.close();
        rpc.close();
        sessions.close();
        server.closeAllConnections?.();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/** For the start-up log: "native" or "JavaScript (<why>)". */
function describeSendPath(): string {
  const s = nativeState();
  return s.loaded ? 'native' : `JavaScript (${s.reason})`;
}

export { readKmsConfig, defaultKmsConfigDir } from './kms-config';
export type { EndpointDefaults, PeerFactory } from './objects/webrtc-endpoint';
export type { ObjectLimits } from './protocol/processor';
// The record module (RTP → frames → WebM / fragmented MP4, no re-encoding) and the werift settings
// the engine's peers use: the signaling service's own recorder leg is built from these.
export * as record from './media/record';
export { iceConfig } from './media/ice-config';
export { installDtlsRetransmitFix } from './media/dtls-retransmit';
export { installNativeEcdh } from './media/dtls-ecdh';
export { installIceAddressFilter } from './media/ice-addresses';
export { serverCodecs } from './media/codecs';
