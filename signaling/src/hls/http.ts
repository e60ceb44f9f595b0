// GET /hls/{buskId}/index.m3u8, init-{n}.mp4 and {seq}.m4s (docs/PROTOCOL.md "Crowd tier").
//
// Served by the HTTP server before Express sees the request: the crowd is thousands of clients each
// asking for the playlist and a segment every second, and Express's way (the page middleware, a
// dozen routes tried, an ETag hashed from every body) cost the node more than the bytes did
// (bench:crowd). Here a request is one regular expression and one write of prepared headers.
//
// Cache headers a CDN can honour: segments and init segments never change once made (their names are
// never reused in a busk, busk ids are never reused), so they are immutable and their ETag is their
// name; the live playlist changes every segment, so it may be cached for one second at most; what is
// not here is not cached at all, so a busk that ended is gone from caches as soon as its playlist is.
import type http from 'node:http';
import type { HlsService, HlsStream } from './index';

/** How long a playlist request for a stream with no segment yet waits for the first one. */
const FIRST_SEGMENT_WAIT_MS = 10000;
const CLIENT_KEY = /^[\w-]{1,64}$/;
const PATH = /^\/hls\/([^/]+)\/(?:(index\.m3u8)|init-(\d{1,6})\.mp4|(\d{1,15})\.m4s|([^/]*))$/;

const CORS = { 'Access-Control-Allow-Origin': '*', 'Access-Control-Expose-Headers': 'Content-Length, Age', 'X-Content-Type-Options': 'nosniff' };
const PLAYLIST = { ...CORS, 'Content-Type': 'application/vnd.apple.mpegurl', 'Cache-Control': 'public, max-age=1' };
const INIT = { ...CORS, 'Content-Type': 'video/mp4', 'Cache-Control': 'public, max-age=31536000, immutable' };
const SEGMENT = { ...CORS, 'Content-Type': 'video/iso.segment', 'Cache-Control': 'public, max-age=31536000, immutable' };

/** Handles the request when it is for /hls/…; false when it is not (the rest of the app takes it). */
export type HlsHandler = (req: http.IncomingMessage, res: http.ServerResponse) => boolean;

/** An error as the rest of the API answers one ({code, message}), never cached. */
function fail(res: http.ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  const body = JSON.stringify({ code, message });
  res.writeHead(status, { ...CORS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...extra });
  res.end(body);
}

/** The body, or only its headers for HEAD; 304 when the client already has this ETag. */
function send(req: http.IncomingMessage, res: http.ServerResponse, headers: Record<string, string>, body: Uint8Array, etag?: string): void {
  if (etag && req.headers['if-none-match'] === etag) {
    res.writeHead(304, { ...headers, ETag: etag });
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, ...(etag && { ETag: etag }), 'Content-Length': body.byteLength });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Resolves when the stream has a segment or ended; false after `ms`. */
function firstSegment(s: HlsStream, ms: number): Promise<boolean> {
  if (s.lastSeq >= 0 || s.ended) return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => { clearTimeout(t); s.off('changed', onChange); resolve(ok); };
    const onChange = () => done(true);
    const t = setTimeout(() => done(false), ms);
    s.on('changed', onChange);
  });
}

async function playlist(hls: HlsService, s: HlsStream, busk: string, req: http.IncomingMessage, res: http.ServerResponse, query: string): Promise<void> {
  if (!(await firstSegment(s, FIRST_SEGMENT_WAIT_MS))) {
    fail(res, 503, 'unavailable', 'the stream has no segment yet: retry shortly', { 'Retry-After': '1' });
    return;
  }
  if (!s.ended) {
    // Our watch page names itself (?v=...), so viewers behind one address count apart.
    const v = new URLSearchParams(query).get('v');
    hls.seen(busk, v !== null && CLIENT_KEY.test(v) ? v : `ip-${req.socket.remoteAddress ?? 'unknown'}`);
  }
  send(req, res, PLAYLIST, s.playlistBytes());
}

export function hlsHandler(hls: HlsService): HlsHandler {
  return (req, res) => {
    const url = req.url ?? '';
    if (!url.startsWith('/hls/')) return false;
    const q = url.indexOf('?');
    const m = PATH.exec(q < 0 ? url : url.slice(0, q));
    if (!m) { fail(res, 404, 'not-found', 'no such HLS resource'); return true; }
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...CORS, 'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS', 'Access-Control-Max-Age': '600' });
      res.end();
      return true;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { fail(res, 405, 'method-not-allowed', `${req.method} is not served under /hls`, { Allow: 'GET, HEAD, OPTIONS' }); return true; }
    let busk: string;
    try { busk = decodeURIComponent(m[1]!); } catch { fail(res, 404, 'not-found', 'no such HLS resource'); return true; }
    const s = hls.get(busk);
    if (!s) { fail(res, 404, 'not-found', `no HLS stream for busk ${busk} on this node`); return true; }
    if (m[2]) {
      playlist(hls, s, busk, req, res, q < 0 ? '' : url.slice(q + 1)).catch(() => { if (!res.headersSent) fail(res, 500, 'unavailable', 'internal error'); });
    } else if (m[3] !== undefined) {
      const data = s.init(Number(m[3]));
      if (data) send(req, res, INIT, data, `"i${m[3]}"`); else fail(res, 404, 'not-found', 'no such init segment');
    } else if (m[4] !== undefined) {
      // Gone from the window (or not made yet): 404, never cached (a CDN must not keep the miss).
      const seg = s.segment(Number(m[4]));
      if (seg) send(req, res, SEGMENT, seg.data, `"s${seg.seq}"`); else fail(res, 404, 'not-found', 'no such segment (it left the live window)');
    } else {
      fail(res, 404, 'not-found', 'no such HLS resource');
    }
    return true;
  };
}
