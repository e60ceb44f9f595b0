// REST calls of PROTOCOL.md. Same origin: the signaling service serves these pages.
import type { Busk, BuskQuery, WebConfig } from './types';

export class ApiError extends Error {
  constructor(readonly status: number, message: string) { super(message); }
}

export async function json<T>(path: string, init: RequestInit = {}, token?: string | null): Promise<T> {
  const headers = new Headers(init.headers);
  if (token) headers.set('Authorization', `Bearer ${token}`);
  if (init.body) headers.set('Content-Type', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) throw new ApiError(res.status, `${init.method ?? 'GET'} ${path}: ${res.status} ${res.statusText}`);
  return (await res.json()) as T;
}

// Used when the service predates /api/config: the embedded development setup's behaviour.
const DEFAULT_CONFIG: WebConfig = { tileUrl: '', anonymousViewing: true, devTokens: true };
let configPromise: Promise<WebConfig> | null = null;

export function getConfig(): Promise<WebConfig> {
  configPromise ??= json<Partial<WebConfig>>('/api/config')
    .then((c) => ({ ...DEFAULT_CONFIG, ...c }))
    .catch(() => DEFAULT_CONFIG);
  return configPromise;
}

export type { BuskQuery };

export function listBusks(q: BuskQuery = {}): Promise<Busk[]> {
  const p = new URLSearchParams();
  if (q.tag) p.set('tag', q.tag);
  if (q.bbox) p.set('bbox', q.bbox.join(','));
  if (q.near) { p.set('near', `${q.near.lat},${q.near.lng}`); p.set('radius', String(q.near.radiusM)); }
  const qs = p.toString();
  return json<Busk[]>(`/api/busks${qs ? `?${qs}` : ''}`);
}

/** The busk, or null once it has ended (404). */
export async function getBusk(id: string): Promise<Busk | null> {
  try {
    return await json<Busk>(`/api/busks/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) return null;
    throw e;
  }
}

export async function getIceServers(): Promise<RTCIceServer[]> {
  try {
    return await json<RTCIceServer[]>('/api/ice-servers');
  } catch {
    return []; // host candidates still work on the same network; better than not starting at all
  }
}

/** `ttlSeconds` (10 s to 24 h): a token of that lifetime instead of the service's default. */
export function devToken(name: string, roles: string[], ttlSeconds?: number): Promise<{ token: string }> {
  return json('/api/dev/token', { method: 'POST', body: JSON.stringify(ttlSeconds === undefined ? { name, roles } : { name, roles, ttlSeconds }) });
}

export function opsTurnSnapshot(token: string): Promise<unknown> {
  return json('/api/ops/turn', {}, token);
}

/** The ops history: chart points, diagnoses with start and end, busk health (signaling/src/ops). */
export function opsHistory(token: string): Promise<unknown> {
  return json('/api/ops/history', {}, token);
}

/** The service's own figures, Prometheus text format. */
export async function metricsText(token: string | null): Promise<string> {
  const headers: Record<string, string> = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await fetch('/metrics', { headers });
  if (!res.ok) throw new ApiError(res.status, `GET /metrics: ${res.status}`);
  return res.text();
}
