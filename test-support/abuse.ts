// Slow and abusive clients (issue 15, scenario 8) and the well-behaved client that measures what they
// cost everyone else. The abusers speak raw STOMP over WebSocket or raw HTTP on a socket, a few bytes
// each, so that a thousand of them cost this process little; the service runs in its own process.
// Used by bench/chaos.ts (full size) and signaling/test/chaos/abuse.test.ts (suite size).
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { pct } from './stats';

const frame = (command: string, headers: Record<string, string> = {}, body = '') =>
  `${command}\n${Object.entries(headers).map(([k, v]) => `${k}:${v}\n`).join('')}\n${body}\0`;

/** Loopback source addresses for crowds: the broker caps sockets per address (STOMP_MAX_CONNECTIONS_PER_ADDRESS). */
export const loopbackAddress = (i: number, spread = 8) => `127.0.0.${2 + (i % spread)}`;

/** A raw STOMP-over-WebSocket client: resolves once CONNECTED (or rejects on ERROR or close). */
function rawSession(stompUrl: string, localAddress: string, headers: Record<string, string> = {}): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(stompUrl, ['v12.stomp'], { localAddress, perMessageDeflate: false });
    let settled = false;
    ws.on('open', () => ws.send(frame('CONNECT', { 'accept-version': '1.2', host: 'busking', ...headers })));
    ws.on('message', (d) => {
      if (settled) return;
      settled = true;
      String(d).startsWith('CONNECTED') ? resolve(ws) : reject(new Error(String(d).split('\n')[1] ?? 'not connected'));
    });
    ws.on('error', (e) => { if (!settled) { settled = true; reject(e); } });
    ws.on('close', () => { if (!settled) { settled = true; reject(new Error('closed before CONNECTED')); } });
  });
}

export interface Crowd { opened: number; refused: number; close(): void }

/**
 * `n` guests subscribed to `destination` that stop reading once subscribed: their socket is paused,
 * so what the broker writes to them piles up in the kernel, then in the broker, until it drops them
 * as slow consumers (maxOutboundBufferBytes).
 */
export async function slowConsumers(o: { stompUrl: string; n: number; destination: string }): Promise<Crowd> {
  const sockets: WebSocket[] = [];
  let refused = 0;
  for (let i = 0; i < o.n; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, o.n - i) }, async (_, j) => {
      try {
        const ws = await rawSession(o.stompUrl, loopbackAddress(i + j));
        ws.send(frame('SUBSCRIBE', { id: '0', destination: o.destination }));
        ws.on('error', () => {});
        // Let the SUBSCRIBE go out, then stop reading for good.
        setTimeout(() => (ws as unknown as { _socket: net.Socket })._socket?.pause(), 200);
        sockets.push(ws);
      } catch {
        refused++;
      }
    }));
  }
  return { opened: sockets.length, refused, close: () => { for (const ws of sockets) ws.terminate(); } };
}

/**
 * `n` sockets that open an HTTP request (the WebSocket upgrade of /stomp) and then send one header
 * byte a second, never finishing it: the classic slowloris. Reports how many the server has closed.
 */
export function slowlorisHttp(o: { port: number; n: number }): Crowd & { closedByServer(): number } {
  const sockets: net.Socket[] = [];
  let closed = 0;
  let refused = 0;
  for (let i = 0; i < o.n; i++) {
    const s = net.connect({ host: '127.0.0.1', port: o.port, localAddress: loopbackAddress(i) });
    s.on('error', () => { refused++; });
    s.on('close', () => { closed++; });
    s.on('data', () => {});
    s.once('connect', () => s.write('GET /stomp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nX-a: '));
    sockets.push(s);
  }
  const drip = setInterval(() => { for (const s of sockets) if (!s.destroyed) s.write('a'); }, 1000);
  return {
    get opened() { return sockets.length; }, get refused() { return refused; },
    closedByServer: () => closed,
    close: () => { clearInterval(drip); for (const s of sockets) s.destroy(); },
  };
}

/** `n` WebSocket sessions that send their CONNECT frame one byte a second (the broker's connect timeout ends them). */
export async function slowlorisStomp(o: { stompUrl: string; n: number }): Promise<Crowd & { closedByServer(): number }> {
  const sockets: WebSocket[] = [];
  let closed = 0;
  let refused = 0;
  const text = frame('CONNECT', { 'accept-version': '1.2', host: 'busking' });
  await Promise.all(Array.from({ length: o.n }, (_, i) => new Promise<void>((resolve) => {
    const ws = new WebSocket(o.stompUrl, ['v12.stomp'], { localAddress: loopbackAddress(i), perMessageDeflate: false });
    ws.on('open', () => { sockets.push(ws); resolve(); });
    ws.on('error', () => { refused++; resolve(); });
    ws.on('close', () => { closed++; });
  })));
  let at = 0;
  const drip = setInterval(() => {
    at = Math.min(at + 1, text.length - 2); // never the final byte
    for (const ws of sockets) if (ws.readyState === WebSocket.OPEN) ws.send(text[at]!);
  }, 1000);
  return {
    opened: sockets.length, refused,
    closedByServer: () => closed,
    close: () => { clearInterval(drip); for (const ws of sockets) ws.terminate(); },
  };
}

/** One session that sends `count` SUBSCRIBE frames as fast as it can: what comes back, and when it ended. */
export async function subscriptionFlood(o: { stompUrl: string; count: number }): Promise<{ receipts: number; error: string | null; closedAfterMs: number | null }> {
  const ws = await rawSession(o.stompUrl, loopbackAddress(0));
  let receipts = 0;
  let error: string | null = null;
  const t0 = performance.now();
  const closed = new Promise<number>((resolve) => ws.on('close', () => resolve(performance.now() - t0)));
  ws.on('message', (d) => {
    const text = String(d);
    if (text.startsWith('RECEIPT')) receipts++;
    else if (text.startsWith('ERROR')) error = /\nmessage:([^\n]*)/.exec(text)?.[1] ?? 'ERROR';
  });
  for (let i = 0; i < o.count && ws.readyState === WebSocket.OPEN; i++) {
    ws.send(frame('SUBSCRIBE', { id: `s${i}`, destination: `/topic/busks.flood${i}`, receipt: `r${i}` }));
    if (i % 500 === 499) await new Promise((r) => setImmediate(r));
  }
  const closedAfterMs = await Promise.race([closed, new Promise<null>((r) => setTimeout(() => r(null), 30000))]);
  ws.terminate();
  return { receipts, error, closedAfterMs: closedAfterMs === null ? null : Math.round(closedAfterMs) };
}

/**
 * `sessions` guests each sending `perSession` ICE candidates for a busk's viewer leg, as fast as they
 * can: the broker's rate limit slows each session down and the service caps a leg's candidates
 * (ICE_CANDIDATES_PER_LEG). Resolves with the candidates sent and the errors that came back.
 */
export async function iceFlood(o: { stompUrl: string; buskId: string; sessions: number; perSession: number }): Promise<{ sent: number; errors: Record<string, number> }> {
  const errors: Record<string, number> = {};
  let sent = 0;
  await Promise.all(Array.from({ length: o.sessions }, async (_, i) => {
    const ws = await rawSession(o.stompUrl, loopbackAddress(i));
    ws.send(frame('SUBSCRIBE', { id: 'e', destination: '/user/queue/errors' }));
    ws.on('message', (d) => {
      const code = /"code":"([^"]+)"/.exec(String(d))?.[1] ?? (String(d).startsWith('ERROR') ? 'ERROR frame' : null);
      if (code) errors[code] = (errors[code] ?? 0) + 1;
    });
    const body = (n: number) => JSON.stringify({ candidate: { candidate: `candidate:${n} 1 udp 2122260223 10.0.0.${n % 250} ${10000 + (n % 50000)} typ host`, sdpMid: '0', sdpMLineIndex: 0 } });
    for (let n = 0; n < o.perSession && ws.readyState === WebSocket.OPEN; n++) {
      ws.send(frame('SEND', { destination: `/app/busk.${o.buskId}.ice`, 'content-type': 'application/json' }, body(n)));
      sent++;
      if (n % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    // The last one with a receipt: the session's backlog is through when it is answered (a RECEIPT,
    // or the refusal that names the receipt on /user/queue/errors).
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 60000);
      ws.on('message', (d) => { if (/receipt-id:last\n|"receipt":"last"/.test(String(d))) { clearTimeout(t); resolve(); } });
      ws.on('close', () => { clearTimeout(t); resolve(); });
      ws.send(frame('SEND', { destination: `/app/busk.${o.buskId}.ice`, 'content-type': 'application/json', receipt: 'last' }, body(0)));
    });
    ws.terminate();
  }));
  return { sent, errors };
}

export interface ProbeFigures { samples: number; p50: number; p99: number; max: number; failures: number }

const figures = (xs: number[], failures: number): ProbeFigures => ({
  samples: xs.length, p50: round(pct(xs, 50)), p99: round(pct(xs, 99)), max: round(xs.length ? Math.max(...xs) : NaN), failures,
});
const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : NaN);

/**
 * A well-behaved client measuring, every `everyMs`: a STOMP round trip (SUBSCRIBE with a receipt, then
 * UNSUBSCRIBE), a REST round trip (GET /api/busks) and, every tenth time, a fresh session's
 * CONNECT → CONNECTED. `lap()` returns the figures since the last lap and starts new ones.
 */
export async function wellBehaved(o: { stompUrl: string; url: string; everyMs?: number }) {
  const ws = await rawSession(o.stompUrl, '127.0.0.1');
  const waiting = new Map<string, () => void>();
  ws.on('message', (d) => {
    const m = /^RECEIPT\nreceipt-id:([^\n]+)/.exec(String(d));
    if (m) waiting.get(m[1]!)?.();
  });
  let stomp: number[] = [], rest: number[] = [], connect: number[] = [];
  let failures = { stomp: 0, rest: 0, connect: 0 };
  let seq = 0;
  let stopped = false;
  const timeout = <T>(p: Promise<T>, ms: number) => Promise.race([p, new Promise<never>((_, f) => setTimeout(() => f(new Error('timeout')), ms))]);
  const loop = (async () => {
    while (!stopped) {
      const n = ++seq;
      const t0 = performance.now();
      try {
        await timeout(new Promise<void>((resolve) => {
          waiting.set(`p${n}`, () => { waiting.delete(`p${n}`); resolve(); });
          ws.send(frame('SUBSCRIBE', { id: `p${n}`, destination: '/topic/busks', receipt: `p${n}` }));
        }), 5000);
        ws.send(frame('UNSUBSCRIBE', { id: `p${n}` }));
        stomp.push(performance.now() - t0);
      } catch { failures.stomp++; }
      const t1 = performance.now();
      try {
        const r = await timeout(fetch(`${o.url}/api/busks`), 5000);
        await r.arrayBuffer();
        if (r.ok) rest.push(performance.now() - t1); else failures.rest++;
      } catch { failures.rest++; }
      if (n % 10 === 0) {
        const t2 = performance.now();
        try {
          const fresh = await timeout(rawSession(o.stompUrl, '127.0.0.1'), 5000);
          connect.push(performance.now() - t2);
          fresh.terminate();
        } catch { failures.connect++; }
      }
      await new Promise((r) => setTimeout(r, o.everyMs ?? 50));
    }
  })();
  return {
    lap() {
      const out = { stomp: figures(stomp, failures.stomp), rest: figures(rest, failures.rest), connect: figures(connect, failures.connect) };
      stomp = []; rest = []; connect = [];
      failures = { stomp: 0, rest: 0, connect: 0 };
      return out;
    },
    async stop() { stopped = true; await loop; ws.terminate(); },
  };
}

/** Prometheus text → the value of `name` with the given label (or the sum over all of its series). */
export function metric(text: string, name: string, label?: [string, string]): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    if (label && !line.includes(`${label[0]}="${label[1]}"`)) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** Prometheus text → `name`'s values by the value of `label` (summed over its other labels). */
export function metricByLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{.*${label}="((?:[^"\\\\]|\\\\.)*)".*\\} (\\d+)`);
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[2]);
  }
  return out;
}
