// What every chaos scenario (bench/chaos.ts) stands on besides the product's processes
// (test-support/service-process.ts) and the reoffering legs (signaling/test/support/legs.ts):
// service nodes in this process, the map as REST lists it, what Redis holds.
import { createClient } from 'redis';
import { loadConfig } from '../../signaling/src/config';
import { startService, type Service } from '../../signaling/src/service';

export const SECRET = 'chaos-secret-'.padEnd(40, 'x');
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A service node in this process. */
export function startNode(env: Record<string, string>, redisPrefix?: string): Promise<Service> {
  return startService(loadConfig({
    HOST: '127.0.0.1', PORT: '0', STOMP_TCP_PORT: '-1', LOG_LEVEL: 'error', JWT_SECRET: SECRET, DEV_TOKENS: 'true', PRESENTER_GRACE_MS: '1500', ...env,
  }), redisPrefix ? { redisPrefix } : {});
}

export async function devToken(url: string, name: string, roles: string[] = []): Promise<string> {
  const res = await fetch(`${url}/api/dev/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name, roles }) });
  if (res.status !== 200) throw new Error(`dev token: ${res.status}`);
  return ((await res.json()) as { token: string }).token;
}

export interface ListedBusk { id: string; viewers: number; location: { lat: number; lng: number } | null }

export async function listBusks(url: string): Promise<ListedBusk[] | null> {
  try {
    const r = await fetch(`${url}/api/busks`);
    return r.ok ? ((await r.json()) as ListedBusk[]) : null;
  } catch {
    return null;
  }
}

/** Keys under `prefix` in Redis, presence, claims and ended-marks aside: what a busk leaves behind. */
export async function redisKeys(url: string, prefix: string): Promise<string[]> {
  const c = createClient({ url });
  await c.connect();
  try {
    return (await c.keys(`${prefix}*`)).filter((k) => !/:(node|claim|ended):/.test(k)).sort();
  } finally {
    await c.quit();
  }
}

export { pct } from '../../test-support/stats';
