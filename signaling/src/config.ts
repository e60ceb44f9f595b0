// The one list of configuration variables. Everything the service, the embedded media engine, the
// TURN monitor and docker-compose read comes from here; README's configuration table and the
// compose test are checked against CONFIG_VARS, so a variable that is not listed does not exist.

export interface ConfigVar {
  name: string;
  default: string;
  description: string;
}

export const CONFIG_VARS: readonly ConfigVar[] = [
  { name: 'HOST', default: '127.0.0.1', description: 'Address the HTTP/WebSocket and STOMP TCP listeners bind to (0.0.0.0 in containers).' },
  { name: 'PORT', default: '8080', description: 'HTTP port: web app, REST under /api, STOMP over WebSocket at /stomp, /healthz, /readyz, /metrics. 0 picks a free port.' },
  { name: 'STOMP_TCP_PORT', default: '61613', description: 'STOMP over plain TCP (backend services, the TURN monitor sidecar). 0 picks a free port; -1 disables it.' },
  { name: 'NODE_ID', default: '', description: 'Name of this signaling node in logs and metrics; random when empty. Must differ between nodes sharing one Redis.' },
  { name: 'KMS_URLS', default: '', description: 'Comma-separated Kurento Media Server URLs (ws://kms:8888/kurento). Empty: start the embedded media engine in-process.' },
  { name: 'EMBEDDED_KMS_PORT', default: '0', description: 'Port of the embedded media engine when KMS_URLS is empty (0 picks a free port; `npm run kms` uses 8888).' },
  { name: 'KMS_HOST', default: '127.0.0.1', description: '`npm run kms` only: address the standalone media engine listens on.' },
  { name: 'KMS_PORT', default: '8888', description: '`npm run kms` only: port of the standalone media engine (ws://KMS_HOST:KMS_PORT/kurento).' },
  { name: 'KMS_ACCESS_TOKEN', default: '', description: 'Shared secret of the embedded media engine: clients must connect with ?access_token=<it> (kurento-client\'s access_token option). `npm run kms`: off when empty. In-process engine: a random one per process when empty. Secret: keep it in .env.' },
  { name: 'RTP_MIN_PORT', default: '0', description: 'Lowest UDP port the embedded engine uses for media (0 with RTP_MAX_PORT 0: any free port).' },
  { name: 'RTP_MAX_PORT', default: '0', description: 'Highest UDP port the embedded engine uses for media.' },
  { name: 'ENGINE_WORKERS', default: '0', description: 'Media worker threads of the embedded engine (in-process and `npm run kms`): 0 keeps every WebRTC peer on the engine\'s own event loop; N puts them on N threads, a busk\'s viewers spread over all and fed through pipes from the presenter\'s thread, so one busk uses N cores; more than the cores only costs memory (figures: bench/reports/media.md).' },
  { name: 'ENGINE_NATIVE_SEND', default: 'on', description: 'Embedded engine (in-process and `npm run kms`): on sends forwarded RTP through its native addon (kurento/native: SRTP and the UDP send in one C call, a quarter to a third less CPU per forwarded packet: bench/reports/media.md; built by the set-up with python3, make and a C compiler), off through JavaScript (the same bytes). Where the addon is not built the engine uses JavaScript and says so at start.' },
  { name: 'REDIS_URL', default: '', description: 'redis://host:6379. Empty: in-memory state (one node). Set: shared state, GEO index and cross-node messaging.' },
  { name: 'REDIS_TIMEOUT_MS', default: '2000', description: 'Longest wait for one Redis operation before the request that needs it gets `unavailable` (a connection that hangs, e.g. through a proxy that lost its backend, would otherwise hold requests and presence refreshes indefinitely).' },
  { name: 'JWT_SECRET', default: '', description: 'HS256 secret for verifying tokens. Mutually exclusive with JWT_PUBLIC_KEY.' },
  { name: 'JWT_PUBLIC_KEY', default: '', description: 'PEM public key (or a path to one) for RS256/ES256 tokens.' },
  { name: 'JWT_ALGORITHM', default: '', description: 'Pinned algorithm: HS256 with JWT_SECRET (default), RS256 or ES256 with JWT_PUBLIC_KEY.' },
  { name: 'JWT_ISSUER', default: '', description: 'Required `iss` claim, when set.' },
  { name: 'JWT_MAX_TTL_S', default: '86400', description: 'Longest token lifetime accepted, seconds: tokens without `exp`, or whose `exp` is further than this from `iat` (or from now), are refused.' },
  { name: 'JWT_AUDIENCE', default: '', description: 'Required `aud` claim, when set.' },
  { name: 'DEV_TOKENS', default: 'auto', description: 'POST /api/dev/token issues tokens for testing: auto = only in the embedded development setup (no KMS_URLS, no JWT key configured) on a loopback HOST and without NODE_ENV=production; true/false to force (true on a public HOST or in production also needs DEV_TOKENS_ALLOW_PUBLIC). Dev tokens are signed with their own key, never with JWT_SECRET.' },
  { name: 'DEV_TOKENS_ALLOW_PUBLIC', default: 'false', description: 'Lets DEV_TOKENS=true run bound to a non-loopback HOST or with NODE_ENV=production (anyone who reaches the port can mint any role). Logged as a warning at start. Never in production.' },
  { name: 'ANONYMOUS_VIEWING', default: 'true', description: 'Allow STOMP sessions without a token to watch and chat as guests.' },
  { name: 'NODE_PRESENCE_TTL_MS', default: '15000', description: 'With Redis: a node refreshes its presence key every third of this; when it expires, other nodes end that node\'s busks and forget its viewers.' },
  { name: 'VIDEO_MAX_KBPS', default: '2500', description: 'Video bitrate a busk may use, in kbps: set on every presenter endpoint (maxVideoRecvBandwidth) and viewer endpoint (maxVideoSendBandwidth). The media server then holds a presenter under it and under what its viewers can take, audio first. 0: the media server\'s own defaults (KMS sends each viewer at most 500 kbps).' },
  { name: 'MEDIA_TIMEOUT_MS', default: '10000', description: 'Longest wait for one media server call (create, processOffer, ...) before the client gets `unavailable`.' },
  { name: 'PRESENTER_GRACE_MS', default: '15000', description: 'How long a busk survives its presenter\'s dropped connection, waiting for a reconnect.' },
  { name: 'CHAT_MAX_LENGTH', default: '500', description: 'Longest chat message, in characters.' },
  { name: 'CHAT_RATE', default: '5/10s', description: 'Chat messages allowed per user (a guest: per session) per window.' },
  { name: 'CHAT_RATE_PER_ADDRESS', default: '30/10s', description: 'Chat messages allowed per window from all guest sessions of one client address together (guests are free to make; a crowd behind one carrier NAT shares this).' },
  { name: 'LOCATION_RATE', default: '10/10s', description: 'Pin moves (/app/busk.{id}.location) allowed per busker per window; each one goes to every map viewer.' },
  { name: 'BUSKS_PER_BUSKER', default: '3', description: 'Live busks one busker (token `sub`) may hold at once, over all sessions and nodes.' },
  { name: 'OFFER_CONCURRENCY', default: '256', description: 'SDP offers a node negotiates with the media server at once; up to 16 times more wait their turn, beyond that `unavailable`. A session has at most 2 offers in flight. High enough for a join storm (200 viewers at once): each offer\'s cost is already bounded by the SDP limits. 0: no cap.' },
  { name: 'ICE_CANDIDATES_PER_LEG', default: '200', description: 'ICE candidates a client may send for one leg per offer (before and after its endpoint exists); more are `rate-limited`.' },
  { name: 'CHAT_HISTORY', default: '50', description: 'Chat messages replayed to a new subscriber.' },
  { name: 'STUN_URLS', default: '', description: 'Comma-separated stun: URLs handed to browsers by /api/ice-servers and to the embedded engine.' },
  { name: 'TURN_URLS', default: '', description: 'Comma-separated turn:/turns: URLs of coturn, handed out with short-lived credentials.' },
  { name: 'TURN_SECRET', default: '', description: 'coturn static-auth-secret (use-auth-secret). Never sent to clients.' },
  { name: 'TURN_TTL_S', default: '3600', description: 'Lifetime of TURN credentials, seconds.' },
  { name: 'TURN_LOG', default: '', description: 'Path of coturn\'s log file for the in-service monitor (/api/ops/turn, metrics). Empty: monitor off.' },
  { name: 'TURN_SIDECAR_BROKER', default: '127.0.0.1:61613', description: 'turn:sidecar only: host:port of the signaling service\'s STOMP TCP listener it publishes coturn events to.' },
  { name: 'TURN_SIDECAR_TOKEN', default: '', description: 'turn:sidecar only: a short-lived JWT with role turn-sidecar (or ops); the broker refuses ops events without it. With HS256 the turn-monitor container mints and renews one itself. Secret: keep it in .env.' },
  { name: 'TURN_SIDECAR_METRICS', default: '', description: 'turn:sidecar only: host:port where the sidecar serves its coturn figures as Prometheus text at /metrics (for the monitoring profile). Empty: off.' },
  { name: 'STOMP_HEARTBEAT_MS', default: '10000', description: 'Heart-beat period (ms) the broker offers and wants, both directions, when a client asks for none or for a longer one; a client asking for a shorter period gets it, down to 500 ms. 0 disables heart-beats.' },
  { name: 'STOMP_MAX_FRAME_BYTES', default: '2097152', description: 'Largest STOMP frame accepted (headers and body).' },
  { name: 'STOMP_MAX_SUBSCRIPTIONS', default: '100', description: 'Subscriptions per STOMP session.' },
  { name: 'STOMP_RATE_LIMIT', default: '200/1s', description: 'Inbound frames per STOMP session per window; a faster client is slowed down (its socket paused), not disconnected.' },
  { name: 'STOMP_MAX_CONNECTIONS', default: '20000', description: 'Open STOMP sockets (WebSocket and TCP, authenticated or not) per node; more are refused before any STOMP (WebSocket: HTTP 503). 0: no cap.' },
  { name: 'STOMP_MAX_CONNECTIONS_PER_ADDRESS', default: '500', description: 'Open STOMP sockets per client address (crowds behind one carrier NAT share an address: keep it generous). 0: no cap.' },
  { name: 'STOMP_TRUSTED_PROXIES', default: '', description: 'Comma-separated addresses of reverse proxies whose X-Forwarded-For names the WebSocket client (for the per-address cap and logs). Empty: the header is ignored.' },
  { name: 'STOMP_IDLE_TIMEOUT_MS', default: '600000', description: 'A STOMP session without client heart-beats (heart-beat 0,0) is closed after this long without receiving anything. 0: never.' },
  { name: 'STOMP_RULES', default: 'default', description: 'Who may SEND/SUBSCRIBE where: default (SEND only to /app/**), open (SEND and SUBSCRIBE to any /topic, /queue, /user, /app destination; /topic/ops.** still needs role ops), or the path of a JSON rules file (docs/PROTOCOL.md).' },
  { name: 'TILE_URL', default: '', description: 'Map tile URL template ({z}/{x}/{y}); empty: the bundled offline world outline.' },
  { name: 'METRICS_TOKEN', default: '', description: 'Bearer token GET /metrics requires (Authorization: Bearer <it>; others get 401). Empty: /metrics is open. Secret: keep it in .env.' },
  { name: 'DATA_DIR', default: 'data', description: 'Durable data of the embedded defaults: the PGlite database (DATA_DIR/pglite, when DATABASE_URL is empty), media files (DATA_DIR/media, when S3_BUCKET is empty) and recordings (DATA_DIR/recordings). Relative to the working directory.' },
  { name: 'DATABASE_URL', default: '', description: 'PostgreSQL for recordings, shorts, comments and profiles (postgres://user:password@host:5432/db). Empty: embedded PGlite in DATA_DIR. Migrations run at start.' },
  { name: 'S3_BUCKET', default: '', description: 'S3-compatible bucket for shorts, posters and avatars (created when missing). Empty: files in DATA_DIR/media, served by this service.' },
  { name: 'S3_ENDPOINT', default: '', description: 'S3 endpoint URL (http://minio:9000); empty: AWS. Path-style addressing is used.' },
  { name: 'S3_REGION', default: 'us-east-1', description: 'S3 region.' },
  { name: 'S3_ACCESS_KEY_ID', default: '', description: 'S3 access key id (MinIO: its root user).' },
  { name: 'S3_SECRET_ACCESS_KEY', default: '', description: 'S3 secret access key (MinIO: its root password). Secret: keep it in .env.' },
  { name: 'S3_PUBLIC_URL', default: '', description: 'Base URL browsers fetch media objects from (a CDN or the public bucket, e.g. https://media.example.org/busking). Empty: this service proxies /media/* from the bucket, with range requests.' },
  { name: 'FFMPEG_PATH', default: 'ffmpeg', description: 'ffmpeg used to cut shorts (stream copy, no re-encoding) and make posters; ffprobe is looked up next to it.' },
  { name: 'HLS_ENABLED', default: 'false', description: 'The crowd tier: new busks are also served as HLS (/hls/{buskId}/index.m3u8, fragmented MP4 from the presenter\'s H.264 + Opus, not re-encoded), and the studio prefers H.264. The watch page moves a viewer to it when WebRTC is full (WEBRTC_VIEWERS_PER_BUSK) or cannot connect. Needs ANONYMOUS_VIEWING (HLS URLs are public, made to be cached by a CDN).' },
  { name: 'HLS_SEGMENT_MS', default: '1000', description: 'Shortest HLS segment, in ms: a keyframe is asked of the presenter this often. Latency is about four of them.' },
  { name: 'HLS_WINDOW_SEGMENTS', default: '6', description: 'Segments listed in a live HLS playlist.' },
  { name: 'WEBRTC_VIEWERS_PER_BUSK', default: '0', description: 'WebRTC viewers one busk takes (its media server\'s share); the next get `full`, and the watch page moves them to the crowd tier when HLS_ENABLED. 0: no limit.' },
  { name: 'COMMENT_MAX_LENGTH', default: '1000', description: 'Longest comment on a short, in characters.' },
  { name: 'COMMENT_RATE', default: '5/60s', description: 'Comments allowed per user per window.' },
  { name: 'LOG_LEVEL', default: 'info', description: 'debug, info, warn or error.' },
];

export type Env = Record<string, string | undefined>;

function raw(env: Env, name: string): string {
  const v = CONFIG_VARS.find((c) => c.name === name);
  if (!v) throw new Error(`unknown configuration variable ${name}`);
  const given = env[name];
  return given === undefined || given === '' ? v.default : given;
}

function int(env: Env, name: string): number {
  const s = raw(env, name);
  const n = Number(s);
  if (!Number.isInteger(n)) throw new Error(`${name} must be an integer, got "${s}"`);
  return n;
}

/** ENGINE_WORKERS: 0 to 64 (each worker is a thread with its own heap: more than the cores only costs memory). */
function engineWorkers(env: Env): number {
  const n = int(env, 'ENGINE_WORKERS');
  if (n < 0 || n > 64) throw new Error(`ENGINE_WORKERS must be 0 to 64, got ${n}`);
  return n;
}

function bool(env: Env, name: string): boolean {
  const s = raw(env, name).toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(s)) return true;
  if (['0', 'false', 'no', 'off'].includes(s)) return false;
  throw new Error(`${name} must be true or false, got "${s}"`);
}

function list(env: Env, name: string): string[] {
  return raw(env, name).split(',').map((s) => s.trim()).filter(Boolean);
}

/** "5/10s" → 5 per 10000 ms; "200/1s" → 200 per 1000 ms. */
export function parseRate(s: string, name = 'rate'): { count: number; windowMs: number } {
  const m = /^(\d+)\/(\d+)(ms|s|m)$/.exec(s.trim());
  if (!m) throw new Error(`${name} must look like 5/10s, got "${s}"`);
  const unit = m[3] === 'ms' ? 1 : m[3] === 's' ? 1000 : 60000;
  return { count: Number(m[1]), windowMs: Number(m[2]) * unit };
}

/** 127.0.0.0/8, ::1 and localhost: only this machine can reach the listener. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * The development tokens' key: derived from JWT_SECRET when there is one (so several nodes sharing
 * the secret accept each other's dev tokens, as tests with two nodes need), random per process
 * otherwise. A one-way derivation: a dev token reveals nothing about the production secret, and is
 * not signed with it.
 */
function devTokenKey(secret: string): string {
  const crypto = require('node:crypto') as typeof import('node:crypto');
  if (!secret) return crypto.randomBytes(32).toString('hex');
  return crypto.createHmac('sha256', secret).update('busking development tokens').digest('hex');
}

export interface Config {
  host: string;
  port: number;
  stompTcpPort: number;
  nodeId: string;
  kmsUrls: string[];
  embeddedKmsPort: number;
  /** The embedded engine's media worker threads (ENGINE_WORKERS; 0: none). */
  engineWorkers: number;
  /** Forwarded RTP through the engine's native addon where built (ENGINE_NATIVE_SEND=on). */
  engineNativeSend: boolean;
  /** The embedded engine's shared secret (KMS_ACCESS_TOKEN); empty: one per process. */
  kmsAccessToken: string;
  rtpPortRange: { min: number; max: number } | null;
  redisUrl: string;
  /** REDIS_TIMEOUT_MS: the longest wait for one State operation. */
  redisTimeoutMs: number;
  /** devSecret: the development tokens' own HS256 key ('' when they are off; see auth/jwt.ts). */
  jwt: { secret: string; publicKey: string; algorithm: 'HS256' | 'RS256' | 'ES256'; issuer: string; audience: string; devSecret?: string; /** JWT_MAX_TTL_S */ maxTtlSeconds?: number };
  devTokens: boolean;
  /** Dev tokens on although bound to a public address or NODE_ENV=production (DEV_TOKENS_ALLOW_PUBLIC). */
  devTokensPublic: boolean;
  anonymousViewing: boolean;
  presenterGraceMs: number;
  nodePresenceTtlMs: number;
  mediaTimeoutMs: number;
  /** VIDEO_MAX_KBPS: presenter endpoints' maxVideoRecvBandwidth and viewer endpoints' maxVideoSendBandwidth (0: the media server's defaults). */
  videoMaxKbps: number;
  chat: { maxLength: number; rate: { count: number; windowMs: number }; ratePerAddress: { count: number; windowMs: number }; history: number };
  /** Abuse limits of the busk service (issue 17): what one client may make the node and the media server do. */
  limits: { locationRate: { count: number; windowMs: number }; busksPerBusker: number; offerConcurrency: number; iceCandidatesPerLeg: number };
  stunUrls: string[];
  turn: { urls: string[]; secret: string; ttlSeconds: number; logFile: string };
  stomp: {
    heartbeatMs: number; maxFrameBytes: number; maxSubscriptions: number; rateLimit: { count: number; windowMs: number }; rules: string;
    maxConnections: number; maxConnectionsPerAddress: number; trustedProxies: string[]; idleTimeoutMs: number;
  };
  tileUrl: string;
  /** Bearer token /metrics requires; empty: open. */
  metricsToken: string;
  /** Durable data: database, media store, shorts' limits (signaling/src/store, signaling/src/shorts). */
  store: {
    dataDir: string; databaseUrl: string; ffmpegPath: string;
    s3: { bucket: string; endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; publicUrl: string };
    comments: { maxLength: number; rate: { count: number; windowMs: number } };
  };
  /** The crowd tier (signaling/src/hls); enabled only with anonymous viewing. */
  hls: { enabled: boolean; segmentMs: number; windowSegments: number };
  /** WEBRTC_VIEWERS_PER_BUSK (0: no limit). */
  webrtcViewersPerBusk: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

export function loadConfig(env: Env = process.env): Config {
  const fs = require('node:fs') as typeof import('node:fs');
  const crypto = require('node:crypto') as typeof import('node:crypto');
  const kmsUrls = list(env, 'KMS_URLS');
  let publicKey = raw(env, 'JWT_PUBLIC_KEY');
  if (publicKey && !publicKey.includes('-----BEGIN')) publicKey = fs.readFileSync(publicKey, 'utf8');
  const secret = raw(env, 'JWT_SECRET');
  if (secret && publicKey) throw new Error('set JWT_SECRET or JWT_PUBLIC_KEY, not both');
  const algorithm = (raw(env, 'JWT_ALGORITHM') || (publicKey ? 'RS256' : 'HS256')) as Config['jwt']['algorithm'];
  if (!['HS256', 'RS256', 'ES256'].includes(algorithm)) throw new Error(`JWT_ALGORITHM must be HS256, RS256 or ES256, got "${algorithm}"`);
  if (algorithm === 'HS256' && publicKey) throw new Error('JWT_ALGORITHM HS256 needs JWT_SECRET, not a public key');
  if (algorithm !== 'HS256' && !publicKey) throw new Error(`JWT_ALGORITHM ${algorithm} needs JWT_PUBLIC_KEY`);
  // Development tokens let anyone who reaches the port mint any role: `auto` turns them on only in
  // the embedded setup on a loopback address outside production, and `true` on a public bind (or in
  // production) needs the explicit DEV_TOKENS_ALLOW_PUBLIC, which the service logs loudly.
  const host = raw(env, 'HOST');
  const publicSetup = !isLoopback(host) || env.NODE_ENV === 'production';
  const devSetting = raw(env, 'DEV_TOKENS').toLowerCase();
  const embeddedDev = kmsUrls.length === 0 && !secret && !publicKey && !publicSetup;
  const devTokens = devSetting === 'auto' ? embeddedDev : bool(env, 'DEV_TOKENS');
  const allowPublic = bool(env, 'DEV_TOKENS_ALLOW_PUBLIC');
  if (devTokens && publicSetup && !allowPublic) {
    throw new Error(`DEV_TOKENS=true with ${isLoopback(host) ? 'NODE_ENV=production' : `HOST=${host} (not loopback)`} would let anyone mint tokens with any role; bind HOST to 127.0.0.1, or set DEV_TOKENS_ALLOW_PUBLIC=true if you really mean it`);
  }
  const rtpMin = int(env, 'RTP_MIN_PORT');
  const rtpMax = int(env, 'RTP_MAX_PORT');
  const level = raw(env, 'LOG_LEVEL') as Config['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new Error(`LOG_LEVEL must be debug, info, warn or error`);
  return {
    host,
    port: int(env, 'PORT'),
    stompTcpPort: int(env, 'STOMP_TCP_PORT'),
    nodeId: raw(env, 'NODE_ID') || `node-${crypto.randomBytes(3).toString('hex')}`,
    kmsUrls,
    embeddedKmsPort: int(env, 'EMBEDDED_KMS_PORT'),
    engineWorkers: engineWorkers(env),
    engineNativeSend: bool(env, 'ENGINE_NATIVE_SEND'),
    kmsAccessToken: raw(env, 'KMS_ACCESS_TOKEN'),
    rtpPortRange: rtpMin > 0 && rtpMax >= rtpMin ? { min: rtpMin, max: rtpMax } : null,
    redisUrl: raw(env, 'REDIS_URL'),
    redisTimeoutMs: int(env, 'REDIS_TIMEOUT_MS'),
    jwt: {
      secret,
      publicKey,
      algorithm,
      issuer: raw(env, 'JWT_ISSUER'),
      maxTtlSeconds: int(env, 'JWT_MAX_TTL_S'),
      audience: raw(env, 'JWT_AUDIENCE'),
      devSecret: devTokens ? devTokenKey(secret) : '',
    },
    devTokens,
    devTokensPublic: devTokens && publicSetup,
    anonymousViewing: bool(env, 'ANONYMOUS_VIEWING'),
    presenterGraceMs: int(env, 'PRESENTER_GRACE_MS'),
    nodePresenceTtlMs: int(env, 'NODE_PRESENCE_TTL_MS'),
    mediaTimeoutMs: int(env, 'MEDIA_TIMEOUT_MS'),
    videoMaxKbps: int(env, 'VIDEO_MAX_KBPS'),
    chat: {
      maxLength: int(env, 'CHAT_MAX_LENGTH'), rate: parseRate(raw(env, 'CHAT_RATE'), 'CHAT_RATE'),
      ratePerAddress: parseRate(raw(env, 'CHAT_RATE_PER_ADDRESS'), 'CHAT_RATE_PER_ADDRESS'), history: int(env, 'CHAT_HISTORY'),
    },
    limits: {
      locationRate: parseRate(raw(env, 'LOCATION_RATE'), 'LOCATION_RATE'), busksPerBusker: int(env, 'BUSKS_PER_BUSKER'),
      offerConcurrency: int(env, 'OFFER_CONCURRENCY'), iceCandidatesPerLeg: int(env, 'ICE_CANDIDATES_PER_LEG'),
    },
    stunUrls: list(env, 'STUN_URLS'),
    turn: { urls: list(env, 'TURN_URLS'), secret: raw(env, 'TURN_SECRET'), ttlSeconds: int(env, 'TURN_TTL_S'), logFile: raw(env, 'TURN_LOG') },
    stomp: {
      heartbeatMs: int(env, 'STOMP_HEARTBEAT_MS'),
      maxFrameBytes: int(env, 'STOMP_MAX_FRAME_BYTES'),
      maxSubscriptions: int(env, 'STOMP_MAX_SUBSCRIPTIONS'),
      rateLimit: parseRate(raw(env, 'STOMP_RATE_LIMIT'), 'STOMP_RATE_LIMIT'),
      rules: raw(env, 'STOMP_RULES'),
      maxConnections: int(env, 'STOMP_MAX_CONNECTIONS'),
      maxConnectionsPerAddress: int(env, 'STOMP_MAX_CONNECTIONS_PER_ADDRESS'),
      trustedProxies: list(env, 'STOMP_TRUSTED_PROXIES'),
      idleTimeoutMs: int(env, 'STOMP_IDLE_TIMEOUT_MS'),
    },
    tileUrl: raw(env, 'TILE_URL'),
    metricsToken: raw(env, 'METRICS_TOKEN'),
    store: {
      dataDir: raw(env, 'DATA_DIR'), databaseUrl: raw(env, 'DATABASE_URL'), ffmpegPath: raw(env, 'FFMPEG_PATH'),
      s3: {
        bucket: raw(env, 'S3_BUCKET'), endpoint: raw(env, 'S3_ENDPOINT'), region: raw(env, 'S3_REGION'),
        accessKeyId: raw(env, 'S3_ACCESS_KEY_ID'), secretAccessKey: raw(env, 'S3_SECRET_ACCESS_KEY'), publicUrl: raw(env, 'S3_PUBLIC_URL'),
      },
      comments: { maxLength: int(env, 'COMMENT_MAX_LENGTH'), rate: parseRate(raw(env, 'COMMENT_RATE'), 'COMMENT_RATE') },
    },
    hls: { enabled: bool(env, 'HLS_ENABLED') && bool(env, 'ANONYMOUS_VIEWING'), segmentMs: positive(env, 'HLS_SEGMENT_MS'), windowSegments: positive(env, 'HLS_WINDOW_SEGMENTS') },
    webrtcViewersPerBusk: int(env, 'WEBRTC_VIEWERS_PER_BUSK'),
    logLevel: level,
  };
}

function positive(env: Env, name: string): number {
  const n = int(env, name);
  if (n < 1) throw new Error(`${name} must be at least 1, got ${n}`);
  return n;
}
