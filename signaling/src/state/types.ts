// Shared state behind one interface: in memory for one node, Redis for several. Everything another
// node may need to know about a busk lives here; media runtime (kurento-client handles, timers) stays
// in the node that owns it (see busk/).

import type { BuskQuery, ChatMessage, Location, MediaState, PublicBusk } from '../protocol';

// The wire shapes are the protocol's (signaling/src/protocol); State stores them as they are.
export type { BuskQuery, ChatMessage, Location, MediaState, PublicBusk };

/** What the service stores: the public part plus where the busk's media lives. */
export interface BuskRecord extends Omit<PublicBusk, 'viewers'> {
  /** Node whose process holds the presenter's session and the busk's runtime. */
  node: string;
  /** The presenter's STOMP session (null while it is away in its grace period). */
  presenterSession: string | null;
  /** Media server URL and object ids: any node can reach the pipeline by id. */
  kmsUrl: string | null;
  pipelineId: string | null;
  presenterEndpointId: string | null;
}

export interface ViewerEntry {
  node: string;
  /** Principal id (user or anonymous label id). */
  user: string;
  endpointId: string | null;
}

export interface State {
  readonly kind: 'memory' | 'redis';
  putBusk(rec: BuskRecord): Promise<void>;
  getBusk(id: string): Promise<BuskRecord | null>;
  /** Shallow-merges `patch` into an existing record; null when the busk is gone. */
  updateBusk(id: string, patch: Partial<BuskRecord>): Promise<BuskRecord | null>;
  /** Removes the busk, its pin, tags, viewers and chat. True when it existed (only one caller wins). */
  deleteBusk(id: string): Promise<boolean>;
  listBusks(q?: BuskQuery): Promise<BuskRecord[]>;
  viewerCount(id: string): Promise<number>;
  viewerCounts(ids: string[]): Promise<number[]>;
  /** Adds or updates a viewer; returns the new count. */
  setViewer(buskId: string, sessionId: string, v: ViewerEntry): Promise<number>;
  /** Removes a viewer; returns the new count, or null when it was not there. */
  removeViewer(buskId: string, sessionId: string): Promise<number | null>;
  viewers(buskId: string): Promise<Record<string, ViewerEntry>>;
  appendChat(buskId: string, msg: ChatMessage, cap: number): Promise<void>;
  /** Oldest first. */
  chatHistory(buskId: string, n: number): Promise<ChatMessage[]>;
  /**
   * Presence of a node; expires unless refreshed. Resolves whether the presence was still there:
   * false on the first call, and after the node's presence expired (a partition from State) or State
   * lost its data (a Redis restart without persistence).
   */
  nodeAlive(nodeId: string, ttlMs: number): Promise<boolean>;
  nodeGone(nodeId: string): Promise<void>;
  isNodeAlive(nodeId: string): Promise<boolean>;
  /** Calls `listener` each time the connection to State is made again after it was lost (Redis). */
  onReconnect?(listener: () => void): void;
  /** Another node ended this busk for its owner, which was presumed dead: kept for `ttlMs`. */
  markEnded(buskId: string, ttlMs: number): Promise<void>;
  /** Whether `markEnded` was said of the busk (and has not expired). */
  wasEnded(buskId: string): Promise<boolean>;
  /** A short lock: true for exactly one caller until it expires. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function toPublic(rec: BuskRecord, viewers: number): PublicBusk {
  return {
    id: rec.id, owner: rec.owner, title: rec.title, description: rec.description, hashtags: rec.hashtags,
    location: rec.location, startedAt: rec.startedAt, viewers, media: rec.media,
    ...(rec.recording ? { recording: true } : {}),
    ...(rec.hls ? { hls: rec.hls } : {}),
  };
}

const EARTH_RADIUS_M = 6371008.8;

export function distanceM(a: { lat: number; lng: number }, b: { lat: number; lng: number }): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

export function inBbox(loc: Location, bbox: [number, number, number, number]): boolean {
  const [minLng, minLat, maxLng, maxLat] = bbox;
  const lngOk = minLng <= maxLng ? loc.lng >= minLng && loc.lng <= maxLng : loc.lng >= minLng || loc.lng <= maxLng; // antimeridian
  return lngOk && loc.lat >= minLat && loc.lat <= maxLat;
}

/** The exact filter both implementations apply last (Redis GEO answers are approximate at the edges). */
export function matches(rec: BuskRecord, q: BuskQuery): boolean {
  if (q.tag && !rec.hashtags.includes(q.tag.toLowerCase())) return false;
  if (q.bbox && (!rec.location || !inBbox(rec.location, q.bbox))) return false;
  if (q.near && (!rec.location || distanceM(rec.location, q.near) > q.near.radiusM)) return false;
  return true;
}
