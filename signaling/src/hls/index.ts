// The crowd tier (docs/PROTOCOL.md "Crowd tier"): the HLS streams of this node's busks and the HLS
// viewers who fetch their playlists. A busk's stream is opened by its Busk (which feeds it from the
// recorder leg), served by hls/http.ts, and after the busk ends kept for a while with EXT-X-ENDLIST
// so players stop cleanly; then it is gone (404), so nothing stale is served.
//
// HLS viewers have no connection to count: a client is a viewer while it keeps fetching the
// playlist. Each one is a viewer entry in State (`hls:{key}`, no endpoint), so the busk's viewer
// count, the map and every node see both tiers in one number.
import type { State } from '../state';
import { log } from '../log';
import { HlsStream } from './stream';

export { HlsStream, hlsCodecs } from './stream';

export interface HlsServiceOptions {
  state: State;
  nodeId: string;
  segmentSeconds: number;
  windowSegments: number;
  /** How long an ended stream's playlist (with ENDLIST) and segments stay. */
  lingerMs: number;
  /** A client that has not fetched the playlist for this long is no longer a viewer. */
  viewerIdleMs: number;
  /** The busk's viewer count changed (published coalesced by the busk context). */
  countChanged: (buskId: string) => void;
}

/** State's viewer key for an HLS client (STOMP session ids never start with it). */
export const HLS_VIEWER_PREFIX = 'hls:';

export class HlsService {
  private readonly streams = new Map<string, HlsStream>();
  /** busk → client key → last playlist fetch (ms). */
  private readonly viewers = new Map<string, Map<string, number>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly lingering = new Set<NodeJS.Timeout>();

  constructor(private readonly o: HlsServiceOptions) {
    this.sweeper = setInterval(() => this.sweep(), Math.max(250, Math.min(2000, o.viewerIdleMs / 4)));
    this.sweeper.unref();
  }

  /** The busk's stream, made on first use (its Busk feeds it). */
  open(buskId: string): HlsStream {
    let s = this.streams.get(buskId);
    if (!s || s.ended) {
      s = new HlsStream({ buskId, segmentSeconds: this.o.segmentSeconds, windowSegments: this.o.windowSegments });
      this.streams.set(buskId, s);
    }
    return s;
  }

  get(buskId: string): HlsStream | undefined { return this.streams.get(buskId); }

  /** The busk ended here: the playlist gets ENDLIST, lingers, then goes; its HLS viewers leave. */
  async end(buskId: string): Promise<void> {
    const s = this.streams.get(buskId);
    this.viewers.delete(buskId);
    if (!s) return;
    await s.end();
    // Never served a segment: nothing for a player to finish, so it goes at once.
    if (s.lastSeq < 0) { if (this.streams.get(buskId) === s) this.streams.delete(buskId); return; }
    const t = setTimeout(() => {
      this.lingering.delete(t);
      if (this.streams.get(buskId) === s) this.streams.delete(buskId);
    }, this.o.lingerMs);
    t.unref();
    this.lingering.add(t);
  }

  /** Forgets a stream at once (a halted node, a busk handed over). */
  drop(buskId: string): void {
    const s = this.streams.get(buskId);
    this.streams.delete(buskId);
    this.viewers.delete(buskId);
    void s?.end();
  }

  /** A client fetched the busk's playlist: a new one becomes a viewer. */
  seen(buskId: string, key: string): void {
    let m = this.viewers.get(buskId);
    if (!m) { m = new Map(); this.viewers.set(buskId, m); }
    const isNew = !m.has(key);
    m.set(key, Date.now());
    if (!isNew) return;
    this.o.state.setViewer(buskId, HLS_VIEWER_PREFIX + key, { node: this.o.nodeId, user: HLS_VIEWER_PREFIX + key, endpointId: null })
      .then(() => this.o.countChanged(buskId))
      .catch((e: Error) => log.warn('hls', `viewer of ${buskId}: ${e.message}`));
  }

  /** HLS viewers of the busk counted on this node. */
  viewerCount(buskId: string): number { return this.viewers.get(buskId)?.size ?? 0; }

  private sweep(): void {
    const idle = Date.now() - this.o.viewerIdleMs;
    for (const [buskId, m] of this.viewers) {
      const left: Promise<unknown>[] = [];
      for (const [key, at] of m) {
        if (at >= idle) continue;
        m.delete(key);
        left.push(this.o.state.removeViewer(buskId, HLS_VIEWER_PREFIX + key).catch(() => undefined));
      }
      if (left.length) void Promise.all(left).then(() => this.o.countChanged(buskId));
      if (!m.size) this.viewers.delete(buskId);
    }
  }

  stats(): { streams: number; viewers: number } {
    let viewers = 0;
    for (const m of this.viewers.values()) viewers += m.size;
    return { streams: [...this.streams.values()].filter((s) => !s.ended).length, viewers };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    for (const t of this.lingering) clearTimeout(t);
    this.lingering.clear();
    await Promise.all([...this.streams.values()].map((s) => s.end()));
    this.streams.clear();
    this.viewers.clear();
  }
}
