/**
 * HLS clients for bench/crowd.ts, in a child process: each follows one live playlist as hls.js does
 * (its own keep-alive connection; the playlist again after one target duration when it had a new
 * segment, after half of one when it had not; every new segment fetched in order, the init segment
 * once per EXT-X-MAP), reading every body to its end (see Connection). Each request's time is from the request sent
 * to its last byte. Talks to the parent over IPC:
 *   start {playlist, clients, rampMs, idPrefix} → 'started' once every client made its first request;
 *   measure → histograms emptied, counting starts; report → {playlist, segment, bytes, errors, ...};
 *   stop → every client stops and the process exits.
 */
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Histogram, type SparseHistogram } from './histogram';

export interface FetchersReport {
  playlist: SparseHistogram;
  segment: SparseHistogram;
  init: number;
  bytes: number;
  errors: Record<string, number>;
  seconds: number;
  /** Clients that saw a segment they wanted leave the window before they got to it. */
  fellBehind: number;
}

let stopped = false;
let hPlaylist = new Histogram();
let hSegment = new Histogram();
let bytes = 0;
let inits = 0;
let fellBehind = 0;
let errors: Record<string, number> = {};
let since = performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function countError(what: string): void {
  errors[what] = (errors[what] ?? 0) + 1;
}

/**
 * One client's keep-alive connection, speaking just enough HTTP/1.1 for GETs answered with a
 * Content-Length (all of the service's HLS answers are). Node's http client costs about as much CPU
 * as the server it measures; with both on two cores that would measure the clients, not the node.
 */
class Connection {
  private sock: net.Socket | null = null;
  private head: Buffer[] = [];
  private waiting: { keep: boolean; t0: number; status: number; left: number; body: Buffer[]; resolve(r: Answer): void; reject(e: Error): void } | null = null;

  constructor(private readonly host: string, private readonly port: number) {}

  get(path: string, keep: boolean): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const sock = this.sock ?? this.connect();
      this.waiting = { keep, t0: performance.now(), status: 0, left: -1, body: [], resolve, reject };
      sock.write(`GET ${path} HTTP/1.1\r\nHost: ${this.host}:${this.port}\r\n\r\n`);
    });
  }

  close(): void { this.sock?.destroy(); this.sock = null; }

  private connect(): net.Socket {
    const sock = net.connect(this.port, this.host);
    sock.setNoDelay(true);
    sock.on('data', (c) => this.onData(c));
    const gone = (e?: Error) => {
      if (this.sock === sock) this.sock = null;
      const w = this.waiting;
      this.waiting = null;
      this.head = [];
      w?.reject(e ?? new Error('connection closed'));
    };
    sock.on('error', gone);
    sock.on('close', () => gone());
    this.sock = sock;
    return sock;
  }

  private onData(c: Buffer): void {
    const w = this.waiting;
    if (!w) { this.close(); return; }
    bytes += c.length;
    if (w.left < 0) {
      this.head.push(c);
      const all = Buffer.concat(this.head);
      const end = all.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.head = [];
      const text = all.subarray(0, end).toString('latin1');
      w.status = Number(text.slice(9, 12));
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(text);
      if (!len) { this.close(); return; }
      w.left = Number(len[1]);
      c = all.subarray(end + 4);
    }
    if (w.keep) w.body.push(c);
    w.left -= c.length;
    if (w.left > 0) return;
    this.waiting = null;
    if (w.left < 0) this.close(); // more than announced: not an answer we understand
    w.resolve({ status: w.status, body: w.keep ? Buffer.concat(w.body).toString() : '', ms: performance.now() - w.t0 });
  }
}

interface Answer { status: number; body: string; ms: number }

interface Playlist { target: number; map: string | null; segments: { seq: number; uri: string; map: string | null }[]; ended: boolean }

function parse(text: string): Playlist {
  let target = 1;
  let seq = 0;
  let map: string | null = null;
  let ended = false;
  const segments: Playlist['segments'] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-TARGETDURATION:')) target = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MEDIA-SEQUENCE:')) seq = Number(line.slice(22));
    else if (line.startsWith('#EXT-X-MAP:')) map = /URI="([^"]+)"/.exec(line)?.[1] ?? null;
    else if (line.startsWith('#EXT-X-ENDLIST')) ended = true;
    else if (line && !line.startsWith('#')) segments.push({ seq: seq++, uri: line, map });
  }
  return { target, map, segments, ended };
}

async function follow(playlistUrl: string, onFirst: () => void): Promise<void> {
  const u = new URL(playlistUrl);
  const conn = new Connection(u.hostname, Number(u.port));
  const playlistPath = u.pathname + u.search;
  const base = u.pathname.slice(0, u.pathname.lastIndexOf('/') + 1);
  let next = -1; // the next segment to fetch
  let map: string | null = null;
  let first = true;
  try {
    while (!stopped) {
      const started = performance.now();
      let p: Playlist;
      try {
        const r = await conn.get(playlistPath, true);
        if (first) { first = false; onFirst(); }
        if (r.status !== 200) { countError(`playlist ${r.status}`); await sleep(1000); continue; }
        hPlaylist.record(r.ms * 1000);
        p = parse(r.body);
      } catch (e) {
        if (first) { first = false; onFirst(); }
        countError(`playlist ${(e as Error).message}`);
        await sleep(1000);
        continue;
      }
      const last = p.segments[p.segments.length - 1];
      // Join as hls.js does, about three segments behind the live edge; then take every new one.
      if (next < 0 && last) next = Math.max(p.segments[0]!.seq, last.seq - 2);
      if (last && next < p.segments[0]!.seq) { fellBehind++; next = p.segments[0]!.seq; }
      let got = false;
      for (const s of p.segments) {
        if (stopped || s.seq < next) continue;
        try {
          if (s.map && s.map !== map) {
            const r = await conn.get(base + s.map, false);
            if (r.status !== 200) countError(`init ${r.status}`); else { inits++; map = s.map; }
          }
          const r = await conn.get(base + s.uri, false);
          if (r.status !== 200) countError(`segment ${r.status}`); else hSegment.record(r.ms * 1000);
        } catch (e) {
          countError(`segment ${(e as Error).message}`);
        }
        next = s.seq + 1;
        got = true;
      }
      if (p.ended) return;
      const wait = (got ? 1 : 0.5) * p.target * 1000 - (performance.now() - started);
      if (wait > 0) await sleep(wait);
    }
  } finally {
    conn.close();
  }
}

process.on('message', (m: { cmd: string; playlist?: string; clients?: number; rampMs?: number; idPrefix?: string }) => {
  if (m.cmd === 'start') {
    const n = m.clients!;
    let firsts = 0;
    const onFirst = () => { if (++firsts === n) process.send!({ event: 'started' }); };
    for (let i = 0; i < n; i++) {
      // Viewers arrive over the ramp, not all in one millisecond.
      setTimeout(() => { if (!stopped) void follow(`${m.playlist}?v=${m.idPrefix}${i}`, onFirst); }, (i / n) * m.rampMs!);
    }
  } else if (m.cmd === 'measure') {
    hPlaylist = new Histogram();
    hSegment = new Histogram();
    bytes = 0; inits = 0; fellBehind = 0; errors = {};
    since = performance.now();
    process.send!({ event: 'measuring' });
  } else if (m.cmd === 'report') {
    const report: FetchersReport = { playlist: hPlaylist.toJSON(), segment: hSegment.toJSON(), init: inits, bytes, errors, seconds: (performance.now() - since) / 1000, fellBehind };
    process.send!({ event: 'report', report });
  } else if (m.cmd === 'stop') {
    stopped = true;
    setTimeout(() => process.exit(0), 200);
  }
});
process.on('disconnect', () => process.exit(0));
process.send!({ event: 'ready' });
