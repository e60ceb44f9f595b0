// The HTTP side: REST of PROTOCOL.md, health, readiness, metrics and the web app's static files.
import { log } from '../log';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import express, { NextFunction, Request, Response } from 'express';
import type { Config } from '../config';
import { AuthError, DevTokenIssuer, TokenVerifier, hasRole, ROLES } from '../auth';
import { AppError } from '../stomp/errors';
import type { Principal } from '../auth';
import { BuskQuery, State, toPublic } from '../state';
import type { Metrics } from './metrics';
import { iceServers } from '../../../turn/src/credentials';

export interface TurnSnapshotSource {
  snapshot(): unknown;
}

export interface HttpDeps {
  config: Config;
  state: State;
  verifier: TokenVerifier;
  devTokens: DevTokenIssuer | null;
  metrics: Metrics;
  turn: TurnSnapshotSource | null;
  /** The ops history (charts, diagnoses over time, busk health): GET /api/ops/history. */
  ops?: { snapshot(): unknown } | null;
  /** Readiness of the parts the service cannot work without. */
  ready(): Promise<{ ok: boolean; checks: Record<string, boolean | string> }>;
  webDir?: string;
  /** More routes (recordings, shorts, comments, profiles, /media), mounted before the /api 404. */
  routers?: express.RequestHandler[];
}

/** REST status of each error code (docs/PROTOCOL.md). */
const STATUS: Record<string, number> = {
  'bad-request': 400, unauthorized: 401, forbidden: 403, 'not-found': 404, conflict: 409, 'too-large': 413,
  'rate-limited': 429, 'media-error': 502, unavailable: 503, full: 503,
};

export class HttpError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) { super(message); }
}

/** Constant-time comparison (through digests, so lengths do not leak either). */
function sameSecret(given: string, expected: string): boolean {
  const h = (v: string) => crypto.createHash('sha256').update(v).digest();
  return crypto.timingSafeEqual(h(given), h(expected));
}

/** `https://{s}.tile.example.org/{z}/{x}/{y}.png` → `https://*.tile.example.org`; '' when not a URL. */
function originOf(urlOrTemplate: string): string {
  const m = /^(https?):\/\/([^/?#]+)/i.exec(urlOrTemplate.trim());
  if (!m) return '';
  return `${m[1].toLowerCase()}://${m[2].replace(/\{[^}]*\}/g, '*').replace(/^\*[^.]*\./, '*.')}`;
}

/**
 * Headers for every response, the pages above all: a CSP that allows only this origin's scripts,
 * plus the tile server (TILE_URL) for map images and the media origin (S3_PUBLIC_URL) for shorts,
 * posters and avatars; blob: and data: for media and images the pages make themselves; no framing
 * (clickjacking a studio page would start a camera); referrers reduced to the origin (tile servers
 * such as OpenStreetMap's ask for one).
 */
export function pageSecurityHeaders(config: Pick<Config, 'tileUrl' | 'store'>): Record<string, string> {
  const tiles = originOf(config.tileUrl);
  const media = originOf(config.store.s3.publicUrl);
  const src = (...extra: string[]) => ["'self'", ...extra.filter(Boolean)].join(' ');
  const csp = [
    `default-src 'self'`,
    `script-src 'self'`,
    // Leaflet and uPlot position elements with inline styles.
    `style-src 'self' 'unsafe-inline'`,
    `img-src ${src('data:', 'blob:', tiles, media)}`,
    `media-src ${src('blob:', media)}`,
    // 'self' covers the STOMP WebSocket (ws:/wss: of this origin) in current browsers.
    `connect-src ${src(media)}`,
    `worker-src 'self' blob:`,
    `object-src 'none'`,
    `base-uri 'self'`,
    `form-action 'self'`,
    `frame-ancestors 'none'`,
  ].join('; ');
  return {
    'Content-Security-Policy': csp,
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'strict-origin-when-cross-origin',
    'X-Content-Type-Options': 'nosniff',
  };
}

function num(s: string, what: string): number {
  const n = Number(s);
  if (s.trim() === '' || !Number.isFinite(n)) throw new HttpError(400, 'bad-request', `${what} must be a number`);
  return n;
}

export function parseBuskQuery(q: Record<string, unknown>): BuskQuery {
  const out: BuskQuery = {};
  const str = (k: string) => {
    const v = q[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new HttpError(400, 'bad-request', `${k} must be given once`);
    return v;
  };
  const bbox = str('bbox');
  if (bbox !== undefined) {
    const p = bbox.split(',');
    if (p.length !== 4) throw new HttpError(400, 'bad-request', 'bbox must be minLng,minLat,maxLng,maxLat');
    const [minLng, minLat, maxLng, maxLat] = p.map((x, i) => num(x, `bbox[${i}]`));
    if (minLat > maxLat || minLat < -90 || maxLat > 90 || Math.abs(minLng) > 180 || Math.abs(maxLng) > 180) throw new HttpError(400, 'bad-request', 'bbox out of range');
    out.bbox = [minLng, minLat, maxLng, maxLat];
  }
  const near = str('near');
  if (near !== undefined) {
    const p = near.split(',');
    if (p.length !== 2) throw new HttpError(400, 'bad-request', 'near must be lat,lng');
    const [lat, lng] = p.map((x, i) => num(x, `near[${i}]`));
    if (Math.abs(lat) > 90 || Math.abs(lng) > 180) throw new HttpError(400, 'bad-request', 'near out of range');
    const r = str('radius');
    const radiusM = r === undefined ? 5000 : num(r, 'radius');
    if (radiusM <= 0 || radiusM > 20_000_000) throw new HttpError(400, 'bad-request', 'radius must be in (0, 20000000] metres');
    out.near = { lat, lng, radiusM };
  }
  const tag = str('tag');
  if (tag !== undefined) {
    const t = tag.trim().replace(/^#/, '').toLowerCase();
    if (!/^[\p{L}\p{N}_-]{1,32}$/u.test(t)) throw new HttpError(400, 'bad-request', 'tag must be 1-32 letters, digits, _ or -');
    out.tag = t;
  }
  return out;
}

/** dist/web, found from the repository root whether we run compiled (dist/) or from sources (tests). */
export function defaultWebDir(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'web');
    dir = path.dirname(dir);
  }
  return path.resolve(__dirname, '../../../web');
}

/** Who a request acts as: null without Authorization; 401 for a bad or expired token. */
export function bearerPrincipal(verifier: TokenVerifier, req: Request): Principal | null {
  const h = req.headers.authorization;
  if (!h) return null;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  if (!m) throw new HttpError(401, 'unauthorized', 'Authorization must be "Bearer <jwt>"');
  try {
    return verifier.verify(m[1].trim());
  } catch (e) {
    throw new HttpError(401, 'unauthorized', (e as Error).message);
  }
}

/**
 * The STUN/TURN servers handed to a client (TURN with short-lived credentials): `who` goes into the
 * TURN username, which coturn logs; anonymous callers share a label.
 */
export function iceServersFor(config: Config, who: string | null) {
  const label = (who ?? 'guest').replace(/[^A-Za-z0-9_.@-]/g, '_').slice(0, 64) || 'guest';
  return iceServers({ stunUrls: config.stunUrls, turnUrls: config.turn.urls, secret: config.turn.secret, ttlSeconds: config.turn.ttlSeconds }, label);
}

/** An async route whose rejection goes to the error handler. */
export const wrap = (fn: (req: Request, res: Response) => Promise<void> | void) => (req: Request, res: Response, next: NextFunction) => {
  Promise.resolve().then(() => fn(req, res)).catch(next);
};

export function createHttpApp(d: HttpDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);
  const securityHeaders = pageSecurityHeaders(d.config);
  app.use((_req, res, next) => { res.set(securityHeaders); next(); });

  const bearer = (req: Request): Principal | null => bearerPrincipal(d.verifier, req);

  app.get('/healthz', (_req, res) => { res.json({ ok: true }); });
  app.get('/readyz', wrap(async (_req, res) => {
    const r = await d.ready();
    res.status(r.ok ? 200 : 503).json(r);
  }));
  app.get('/metrics', (req, res) => {
    // METRICS_TOKEN: the figures name nodes, media servers and error causes; with a token set only
    // Prometheus (which sends it as a bearer) reads them.
    if (d.config.metricsToken && !sameSecret(req.get('authorization') ?? '', `Bearer ${d.config.metricsToken}`)) {
      res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').json({ code: 'unauthorized', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' });
      return;
    }
    res.type('text/plain; version=0.0.4; charset=utf-8').send(d.metrics.render());
  });

  app.get('/api/config', (_req, res) => {
    res.json({
      tileUrl: d.config.tileUrl, anonymousViewing: d.config.anonymousViewing, devTokens: !!d.devTokens,
      stompPath: '/stomp', chat: { maxLength: d.config.chat.maxLength }, nodeId: d.config.nodeId, hls: d.config.hls.enabled,
    });
  });

  app.get('/api/busks', wrap(async (req, res) => {
    const q = parseBuskQuery(req.query as Record<string, unknown>);
    const recs = await d.state.listBusks(q);
    const counts = await d.state.viewerCounts(recs.map((r) => r.id));
    res.json(recs.map((r, i) => toPublic(r, counts[i])));
  }));

  app.get('/api/busks/:id', wrap(async (req, res) => {
    const rec = await d.state.getBusk(String(req.params.id));
    if (!rec) throw new HttpError(404, 'not-found', `no busk ${req.params.id}`);
    res.json(toPublic(rec, await d.state.viewerCount(rec.id)));
  }));

  app.get('/api/ice-servers', wrap((req, res) => {
    let who: string | null = null;
    try { who = bearer(req)?.id ?? null; } catch { /* an invalid token still gets STUN/TURN as a guest */ }
    res.set('Cache-Control', 'no-store');
    res.json(iceServersFor(d.config, who));
  }));

  app.post('/api/dev/token', express.json({ limit: '8kb' }), wrap((req, res) => {
    if (!d.devTokens) throw new HttpError(404, 'not-found', 'development tokens are off');
    const b = req.body as { name?: unknown; roles?: unknown; ttlSeconds?: unknown };
    if (!b || typeof b !== 'object' || typeof b.name !== 'string' || !b.name.trim() || b.name.length > 64) throw new HttpError(400, 'bad-request', 'name must be a non-empty string (at most 64 characters)');
    const roles = b.roles === undefined ? [] : b.roles;
    if (!Array.isArray(roles) || roles.some((r) => !(ROLES as readonly unknown[]).includes(r))) throw new HttpError(400, 'bad-request', `roles must be a subset of ${JSON.stringify(ROLES)}`);
    const ttl = b.ttlSeconds;
    if (ttl !== undefined && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 10 || ttl > 86400)) throw new HttpError(400, 'bad-request', 'ttlSeconds must be a whole number of seconds from 10 to 86400');
    res.set('Cache-Control', 'no-store');
    res.json({ token: d.devTokens.issue(b.name, roles as string[], ttl as number | undefined) });
  }));

  const requireOps = (req: Request) => {
    const p = bearer(req);
    if (!p) throw new HttpError(401, 'unauthorized', 'a Bearer token with role ops is required');
    if (!hasRole(p, 'ops')) throw new HttpError(403, 'forbidden', 'role ops required');
  };

  app.get('/api/ops/turn', wrap((req, res) => {
    requireOps(req);
    if (!d.turn) throw new HttpError(404, 'not-found', 'the TURN monitor is off (TURN_LOG is empty)');
    res.set('Cache-Control', 'no-store');
    res.json(d.turn.snapshot());
  }));

  app.get('/api/ops/history', wrap((req, res) => {
    requireOps(req);
    if (!d.ops) throw new HttpError(404, 'not-found', 'the ops history is off');
    res.set('Cache-Control', 'no-store');
    res.json(d.ops.snapshot());
  }));

  for (const r of d.routers ?? []) app.use(r);
  app.use('/api', (_req, _res, next) => next(new HttpError(404, 'not-found', 'no such API')));

  const webDir = d.webDir ?? defaultWebDir();
  app.use(express.static(webDir, { index: 'index.html', fallthrough: true }));
  app.get('/', (_req, res) => {
    res.status(503).type('text/plain').send('The web app is not built yet: run `npm run build` (npm start does it).\n');
  });

  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (err instanceof HttpError) {
      res.status(err.status).json({ code: err.code, message: err.message });
      return;
    }
    if (err instanceof AppError) {
      res.status(STATUS[err.code] ?? 400).json({ code: err.code, message: err.message });
      return;
    }
    if (err instanceof AuthError) {
      res.status(401).json({ code: 'unauthorized', message: err.message });
      return;
    }
    const e = err as { type?: string; status?: number; message?: string };
    if (e?.type === 'entity.parse.failed' || e?.type === 'entity.too.large' || e?.status === 400 || e?.status === 413) {
      const tooLarge = e.type === 'entity.too.large' || e.status === 413;
      res.status(e.status ?? 400).json({ code: tooLarge ? 'too-large' : 'bad-request', message: tooLarge ? 'body too large' : 'malformed JSON' });
      return;
    }
    // A bug: logged with the request (the client only learns that it failed).
    log.error('http', `${req.method} ${req.path.slice(0, 200)} failed`, err);
    res.status(500).json({ code: 'unavailable', message: 'internal error' });
  });
  return app;
}
