// Redis state: several signaling nodes share busks, pins (GEO index), viewers and chat.
// Layout (prefix "busking:" by default):
//   busk:{id}       JSON of the BuskRecord        busks        SET of ids
//   geo             GEO index of pinned busks     tag:{tag}    SET of ids
//   viewers:{id}    HASH session → ViewerEntry    chat:{id}    LIST, capped (LTRIM)
//   node:{node}     presence, PX ttl              claim:{key}  SET NX PX lock
//   ended:{id}      a busk another node ended for its (presumed dead) owner, PX ttl
// A busk record has one writer (the node that owns its presenter), so read-modify-write is safe
// enough for it; viewers and chat are per-field/list operations that never race.
import { ClientClosedError, ClientOfflineError, ConnectionTimeoutError, DisconnectsClientError, SocketClosedUnexpectedlyError, createClient } from 'redis';
import { AppError } from '../stomp/errors';
import { BuskQuery, BuskRecord, ChatMessage, State, ViewerEntry, distanceM, matches } from './types';

// Commands fail at once while the connection is down (no offline queue): a request gets a clear
// error during an outage, and nothing queued during a partition is written after it heals, when
// other nodes may have ended this node's busks in the meantime (busk/cluster.ts).
function makeClient(url: string) {
  return createClient({ url, disableOfflineQueue: true, socket: { reconnectStrategy: (n) => Math.min(50 * 2 ** n, 1000) } });
}
export type RedisClient = ReturnType<typeof makeClient>;

export async function connectRedis(url: string): Promise<RedisClient> {
  const client = makeClient(url);
  // Without an 'error' listener node-redis throws on connection trouble; readiness reports it instead.
  client.on('error', () => {});
  await client.connect();
  return client;
}

export class RedisState implements State {
  readonly kind = 'redis' as const;

  constructor(readonly client: RedisClient, private readonly prefix = 'busking:', readonly timeoutMs = 2000) {}

  static async connect(url: string, prefix?: string, timeoutMs?: number): Promise<RedisState> {
    return new RedisState(await connectRedis(url), prefix, timeoutMs);
  }

  private k(s: string) { return this.prefix + s; }

  async putBusk(rec: BuskRecord) {
    const old = await this.getBusk(rec.id);
    const m = this.client.multi();
    m.set(this.k(`busk:${rec.id}`), JSON.stringify(rec));
    m.sAdd(this.k('busks'), rec.id);
    this.indexDiff(m, old, rec);
    await m.exec();
  }

  /** Keeps the GEO index and tag sets in step with a record change. */
  private indexDiff(m: ReturnType<RedisClient['multi']>, old: BuskRecord | null, rec: BuskRecord) {
    if (rec.location) m.geoAdd(this.k('geo'), { longitude: rec.location.lng, latitude: rec.location.lat, member: rec.id });
    else if (old?.location) m.zRem(this.k('geo'), rec.id);
    for (const t of old?.hashtags ?? []) if (!rec.hashtags.includes(t)) m.sRem(this.k(`tag:${t}`), rec.id);
    for (const t of rec.hashtags) m.sAdd(this.k(`tag:${t}`), rec.id);
  }

  async getBusk(id: string) {
    const s = await this.client.get(this.k(`busk:${id}`));
    return s ? (JSON.parse(s) as BuskRecord) : null;
  }

  async updateBusk(id: string, patch: Partial<BuskRecord>) {
    const old = await this.getBusk(id);
    if (!old) return null;
    const rec = { ...old, ...patch, id };
    const m = this.client.multi();
    m.set(this.k(`busk:${id}`), JSON.stringify(rec), { XX: true });
    this.indexDiff(m, old, rec);
    await m.exec();
    return rec;
  }

  async deleteBusk(id: string) {
    const old = await this.getBusk(id);
    const m = this.client.multi();
    m.del(this.k(`busk:${id}`));
    m.sRem(this.k('busks'), id);
    m.zRem(this.k('geo'), id);
    for (const t of old?.hashtags ?? []) m.sRem(this.k(`tag:${t}`), id);
    m.del(this.k(`viewers:${id}`));
    m.del(this.k(`chat:${id}`));
    const res = await m.exec();
    return Number(res[0]) === 1;
  }

  private async load(ids: string[]): Promise<BuskRecord[]> {
    if (ids.length === 0) return [];
    const raw = await this.client.mGet(ids.map((id) => this.k(`busk:${id}`)));
    return raw.filter((s): s is string => typeof s === 'string').map((s) => JSON.parse(s) as BuskRecord);
  }

  async listBusks(q: BuskQuery = {}) {
    let ids: string[];
    if (q.near) {
      ids = await this.client.geoSearch(this.k('geo'), { longitude: q.near.lng, latitude: q.near.lat }, { radius: q.near.radiusM, unit: 'm' }, { SORT: 'ASC' });
    } else if (q.bbox && q.bbox[0] <= q.bbox[2] && q.bbox[2] - q.bbox[0] < 180) {
      // GEOSEARCH BYBOX around the box's centre. Its box is measured on the sphere, so we ask for
      // the box's widest extent (at the latitude nearest the equator) and filter exactly afterwards.
      const [minLng, minLat, maxLng, maxLat] = q.bbox;
      const lat0 = minLat <= 0 && maxLat >= 0 ? 0 : Math.min(Math.abs(minLat), Math.abs(maxLat)) * Math.sign(minLat);
      const width = distanceM({ lat: lat0, lng: minLng }, { lat: lat0, lng: maxLng }) * 1.01 + 1;
      const height = distanceM({ lat: minLat, lng: 0 }, { lat: maxLat, lng: 0 }) * 1.01 + 1;
      ids = await this.client.geoSearch(this.k('geo'), { longitude: (minLng + maxLng) / 2, latitude: (minLat + maxLat) / 2 }, { width, height, unit: 'm' });
    } else if (q.bbox) {
      ids = await this.client.zRange(this.k('geo'), 0, -1); // world-sized or antimeridian boxes: filter all pins
    } else if (q.tag) {
      ids = await this.client.sMembers(this.k(`tag:${q.tag.toLowerCase()}`));
    } else {
      ids = await this.client.sMembers(this.k('busks'));
    }
    const recs = (await this.load(ids)).filter((r) => matches(r, q));
    if (!q.near) recs.sort((a, b) => a.startedAt.localeCompare(b.startedAt));
    return recs;
  }

  async viewerCount(id: string) { return this.client.hLen(this.k(`viewers:${id}`)); }

  async viewerCounts(ids: string[]) {
    if (ids.length === 0) return [];
    const m = this.client.multi();
    for (const id of ids) m.hLen(this.k(`viewers:${id}`));
    return (await m.exec()).map((n) => Number(n));
  }

  async setViewer(buskId: string, sessionId: string, v: ViewerEntry) {
    const res = await this.client.multi().hSet(this.k(`viewers:${buskId}`), sessionId, JSON.stringify(v)).hLen(this.k(`viewers:${buskId}`)).exec();
    return Number(res[1]);
  }

  async removeViewer(buskId: string, sessionId: string) {
    const res = await this.client.multi().hDel(this.k(`viewers:${buskId}`), sessionId).hLen(this.k(`viewers:${buskId}`)).exec();
    return Number(res[0]) === 1 ? Number(res[1]) : null;
  }

  async viewers(buskId: string) {
    const h = await this.client.hGetAll(this.k(`viewers:${buskId}`));
    return Object.fromEntries(Object.entries(h).map(([k, v]) => [k, JSON.parse(String(v)) as ViewerEntry]));
  }

  async appendChat(buskId: string, msg: ChatMessage, cap: number) {
    await this.client.multi().rPush(this.k(`chat:${buskId}`), JSON.stringify(msg)).lTrim(this.k(`chat:${buskId}`), -cap, -1).exec();
  }

  async chatHistory(buskId: string, n: number) {
    if (n <= 0) return [];
    const l = await this.client.lRange(this.k(`chat:${buskId}`), -n, -1);
    return l.map((s) => JSON.parse(s) as ChatMessage);
  }

  async nodeAlive(nodeId: string, ttlMs: number) {
    return (await this.client.set(this.k(`node:${nodeId}`), String(Date.now()), { PX: ttlMs, GET: true })) !== null;
  }
  onReconnect(listener: () => void): void {
    this.client.on('ready', listener); // connected before this object existed: every 'ready' is a reconnection
  }
  async markEnded(buskId: string, ttlMs: number) { await this.client.set(this.k(`ended:${buskId}`), '1', { PX: ttlMs }); }
  async wasEnded(buskId: string) { return (await this.client.exists(this.k(`ended:${buskId}`))) === 1; }
  async nodeGone(nodeId: string) { await this.client.del(this.k(`node:${nodeId}`)); }
  async isNodeAlive(nodeId: string) { return (await this.client.exists(this.k(`node:${nodeId}`))) === 1; }

  async claim(key: string, ttlMs: number) {
    return (await this.client.set(this.k(`claim:${key}`), '1', { NX: true, PX: ttlMs })) === 'OK';
  }

  async ping() {
    try {
      return (await this.client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close() {
    if (this.client.isOpen) await this.client.quit().catch(() => this.client.disconnect());
  }
}

const OUTAGE = [ClientOfflineError, ClientClosedError, SocketClosedUnexpectedlyError, ConnectionTimeoutError, DisconnectsClientError];
const UNREACHABLE = 'the shared state (Redis) is unreachable from this node; retry shortly';

/** node-redis's connection errors (and a reset socket) as the protocol's `unavailable`: a request during an outage gets a clear answer. */
function asUnavailable(e: unknown): unknown {
  const reset = e instanceof Error && /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT)$/.test(String((e as { code?: unknown }).code));
  return reset || OUTAGE.some((E) => e instanceof E) ? new AppError('unavailable', UNREACHABLE) : e;
}

/**
 * `op`, failed with `unavailable` when it has not settled within `ms`. node-redis has no command
 * timeout, and a command written to a connection that is open but never answers (a TCP proxy that
 * accepted it and lost its backend) waits forever, even through `disableOfflineQueue`: measured, a
 * MULTI issued after such a reconnect never settled. What it does later is ignored.
 */
function withDeadline<T>(op: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new AppError('unavailable', UNREACHABLE)), ms); });
  op.catch(() => {}); // a late failure after the deadline is not unhandled
  return Promise.race([op, deadline]).finally(() => clearTimeout(timer));
}

// Every async method of RedisState (each is a State operation) gets the deadline and the error
// translation, in one place rather than in each; the sync helpers (k, indexDiff) are left alone.
for (const name of Object.getOwnPropertyNames(RedisState.prototype)) {
  const f = (RedisState.prototype as unknown as Record<string, unknown>)[name];
  if (typeof f !== 'function' || f.constructor.name !== 'AsyncFunction') continue;
  Object.defineProperty(RedisState.prototype, name, {
    value: async function (this: RedisState, ...args: unknown[]) {
      try {
        return await withDeadline((f as (...a: unknown[]) => Promise<unknown>).apply(this, args), this.timeoutMs);
      } catch (e) {
        throw asUnavailable(e);
      }
    },
  });
}
