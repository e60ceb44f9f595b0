// Fuzzing the running product (issue 15, scenario 7; bench/chaos.ts at full size, signaling/test/chaos/fuzz.test.ts small): STOMP frames over WebSocket and TCP, REST
// requests, Kurento JSON-RPC requests to the engine, SDP offers and ICE candidates through the engine's
// WebRtcEndpoint. Every input comes from one seeded PRNG per kind, so a run is replayed by its seed.
// The service and the engine run in their own processes (a crash is an exit); after each batch a
// well-behaved client must be answered within HANG_MS (a hang is a probe that was not).
import net from 'node:net';
import fs from 'node:fs';
import WebSocket from 'ws';
import { prng } from '../signaling/test/stomp/prng';

export const HANG_MS = 5000;
type Rnd = () => number;
const pick = <T>(rnd: Rnd, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

/** Byte-level mutations: overwrite, insert, delete, and now and then a long run. */
export function mutate(rnd: Rnd, input: string | Buffer, maxEdits = 4): Buffer {
  let b = Buffer.isBuffer(input) ? input : Buffer.from(input, 'utf8');
  const edits = Math.floor(rnd() * (maxEdits + 1));
  for (let e = 0; e < edits; e++) {
    const pos = Math.floor(rnd() * Math.max(1, b.length));
    const byte = pick(rnd, [0, 10, 13, 32, 34, 44, 58, 92, 45, 49, 123, 125, 0xff, Math.floor(rnd() * 256)]);
    const k = rnd();
    if (k < 0.4) b[pos] = byte;
    else if (k < 0.7) b = Buffer.concat([b.subarray(0, pos), Buffer.from([byte]), b.subarray(pos)]);
    else if (k < 0.95) b = Buffer.concat([b.subarray(0, pos), b.subarray(pos + 1)]);
    else b = Buffer.concat([b.subarray(0, pos), Buffer.alloc(Math.floor(rnd() * 20000), 65), b.subarray(pos)]);
  }
  return b;
}

/** Peak resident memory of a process (kB → MB), from /proc (VmHWM). */
export function peakRssMb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Whether a fresh STOMP client gets CONNECTED over TCP within HANG_MS. */
export function stompAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = '';
    const done = (ok: boolean) => { clearTimeout(t); s.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), HANG_MS);
    s.on('error', () => done(false));
    s.on('data', (d) => { got += d.toString('latin1'); if (got.startsWith('CONNECTED')) done(true); });
    s.once('connect', () => s.write('CONNECT\naccept-version:1.2\nhost:x\n\n\0'));
  });
}

export async function engineAnswers(url: string): Promise<boolean> {
  try {
    const c = await RpcClient.open(url);
    const r = await c.call('ping', { interval: 1000 });
    c.close();
    return r !== null;
  } catch {
    return false;
  }
}

// ─────────────────────────────── STOMP ───────────────────────────────

const frame = (cmd: string, headers: Record<string, string>, body = '') =>
  `${cmd}\n${Object.entries(headers).map(([k, v]) => `${k}:${v}`).join('\n')}\n\n${body}\0`;

/**
 * A generated frame. Well-formed ones keep a session alive (a guest's refused SEND or SUBSCRIBE is
 * answered on /user/queue/errors, the session goes on); the others are protocol errors the broker
 * answers with ERROR and a close (ACK of nothing, COMMIT of no transaction, junk).
 */
function stompTemplates(rnd: Rnd, wellFormed: boolean): string {
  const id = String(Math.floor(rnd() * 50));
  const busk = pick(rnd, ['x', 'AAAAAAAA', '..', 'ä', '']);
  const good = [
    () => frame('SUBSCRIBE', { id: `f${id}`, destination: pick(rnd, ['/topic/busks', `/topic/busk.${busk}`, `/topic/busk.${busk}.chat`, '/user/queue/errors', '/topic/ops.turn', '/queue/x', '/topic/' + 'a'.repeat(300)]), ack: pick(rnd, ['auto', 'client', 'client-individual']) }),
    () => frame('UNSUBSCRIBE', { id: `f${id}` }),
    () => frame('SEND', { destination: `/app/busk.${busk}.chat`, 'content-type': 'application/json' }, JSON.stringify({ text: 'hi '.repeat(Math.floor(rnd() * 10)) })),
    () => frame('SEND', { destination: `/app/busk.${busk}.offer`, 'content-type': 'application/json' }, JSON.stringify({ sdpOffer: 'v=0\r\n' })),
    () => frame('SEND', { destination: `/app/busk.${busk}.ice`, 'content-type': 'application/json' }, JSON.stringify({ candidate: { candidate: 'candidate:1 1 udp 1 127.0.0.1 5 typ host', sdpMid: '0', sdpMLineIndex: 0 } })),
    () => frame('SEND', { destination: `/app/busk.${busk}.location`, 'content-type': 'application/json' }, JSON.stringify({ lat: rnd() * 200 - 100, lng: rnd() * 400 - 200 })),
    () => frame('SEND', { destination: pick(rnd, ['/app/busk.start', '/app/auth.refresh', '/app/nothing']), 'content-type': 'application/json' }, pick(rnd, ['{"title":"x"}', '{}', '[', '"x"'])),
    () => frame('SEND', { destination: pick(rnd, ['/topic/busks', '/queue/x', '/user/u/queue/x']), 'content-length': '3' }, 'a\0b'),
    () => 'SEND\ndestination:/app/busk.x.chat\\c\\n\n\n{}\0',
    () => '\n\r\n',
  ];
  const bad = [
    () => frame('ACK', { id }),
    () => frame('NACK', { id, transaction: 't' }),
    () => frame('COMMIT', { transaction: `t${id}` }),
    () => frame('ABORT', { transaction: `t${id}` }),
    () => frame('SUBSCRIBE', { id: `f${id}`, destination: '/topic/busks', ack: 'bogus' }),
    () => frame(pick(rnd, ['CONNECT', 'STOMP', 'DISCONNECT', 'MESSAGE', 'BOGUS']), { receipt: 'x' }),
  ];
  return pick(rnd, wellFormed ? good : bad)();
}

/** A generated frame; one in `mutateOne` is byte-mutated and one in `mutateOne` a protocol error. */
function stompFrame(rnd: Rnd, mutateOne: number): Buffer {
  const t = stompTemplates(rnd, rnd() * mutateOne >= 1);
  return rnd() * mutateOne < 1 ? mutate(rnd, t) : Buffer.from(t, 'binary');
}

const CONNECT = (rnd: Rnd) => Buffer.from(frame(pick(rnd, ['CONNECT', 'CONNECT', 'CONNECT', 'STOMP']), { 'accept-version': pick(rnd, ['1.2', '1.1,1.2', '1.2', '1.0']), host: 'x', 'heart-beat': '0,0' }));

/** A connection that counts the RECEIPTs it gets back (by id) and knows when the server closed it. */
interface RawConn { send(b: Buffer): void; open(): boolean; close(): void; closed: Promise<void>; receipt(id: string): Promise<boolean> }

function counting(write: (b: Buffer) => void, close: () => void, closed: Promise<void>, isOpen: () => boolean) {
  let text = '';
  const waiters = new Map<string, (ok: boolean) => void>();
  void closed.then(() => { for (const w of waiters.values()) w(false); waiters.clear(); });
  return {
    data(d: Buffer | string) {
      text += typeof d === 'string' ? d : d.toString('latin1');
      for (const [id, w] of waiters) if (text.includes(`receipt-id:${id}\n`)) { waiters.delete(id); w(true); }
      if (text.length > 65536) text = text.slice(-4096);
    },
    conn: {
      send: (b: Buffer) => { if (isOpen()) write(b); }, open: isOpen, close, closed,
      receipt: (id: string) => new Promise<boolean>((resolve) => {
        if (!isOpen()) return resolve(false);
        const t = setTimeout(() => { waiters.delete(id); resolve(false); }, HANG_MS);
        waiters.set(id, (ok) => { clearTimeout(t); resolve(ok); });
      }),
    } as RawConn,
  };
}

function rawTcp(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let isOpen = true;
    const closed = new Promise<void>((r) => s.once('close', () => { isOpen = false; r(); }));
    const c = counting((b) => s.write(b), () => s.destroy(), closed, () => isOpen);
    s.on('data', (d) => c.data(d));
    s.on('error', () => {});
    s.once('connect', () => resolve(c.conn));
    s.once('error', reject);
  });
}

function rawWs(url: string): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const w = new WebSocket(url, ['v12.stomp']);
    let isOpen = false;
    const closed = new Promise<void>((r) => w.once('close', () => { isOpen = false; r(); }));
    const c = counting((b) => w.send(b), () => w.terminate(), closed, () => isOpen);
    w.on('message', (d) => c.data(d as Buffer));
    w.on('error', () => {});
    w.once('open', () => { isOpen = true; resolve(c.conn); });
    w.once('error', reject);
  });
}

/**
 * `total` frames over WebSocket and TCP (alternating connections, `parallel` at a time). Frames go in
 * batches that end with a SUBSCRIBE asking for a RECEIPT: a batch counts once its receipt is back
 * (the broker handles a session's frames in order, so it parsed and handled every frame before it);
 * a batch cut short by the server closing the session counts only the frame that closed it. One frame
 * in `mutateOne` is byte-mutated; the rest are generated from the product's destinations with random
 * ids, acks, transactions and bodies. A connection that neither answers nor closes is a hang.
 */
export async function fuzzStomp(o: { seed: number; total: number; wsUrl: string; tcpPort: number; parallel?: number; mutateOne?: number; probe: () => Promise<boolean> }) {
  const rnd = prng(o.seed);
  const mutateOne = o.mutateOne ?? 200;
  let tried = 0;
  let conns = 0;
  let closedByServer = 0;
  let stalled = 0;
  let hangs = 0;
  let probes = 0;
  const worker = async (w: number) => {
    while (tried < o.total) {
      const useWs = (conns++ + w) % 2 === 0;
      let c: RawConn;
      try {
        c = useWs ? await rawWs(o.wsUrl) : await rawTcp(o.tcpPort);
      } catch {
        continue;
      }
      c.send(CONNECT(rnd));
      for (let batch = 0; tried < o.total && c.open(); batch++) {
        const n = 10 + Math.floor(rnd() * 40);
        if (batch > 0) c.send(Buffer.from(frame('UNSUBSCRIBE', { id: `b${batch - 1}` })));
        for (let i = 0; i < n; i++) c.send(stompFrame(rnd, mutateOne));
        c.send(Buffer.from(frame('SUBSCRIBE', { id: `b${batch}`, destination: '/topic/busks', receipt: `b${batch}` })));
        if (await c.receipt(`b${batch}`)) tried += n + 1;
        // Open without an answer: a mutated content-length may have made the rest a body the
        // parser still waits for (the broker's partial-frame timeout ends that). A hang only if
        // the service then fails a fresh client.
        else if (c.open()) { stalled++; if (!(await o.probe())) hangs++; break; }
        else { tried += 1; closedByServer++; }
      }
      c.close();
      await c.closed;
      if (conns % 500 === 0) { probes++; if (!(await o.probe())) hangs++; }
    }
  };
  await Promise.all(Array.from({ length: o.parallel ?? 8 }, (_, w) => worker(w)));
  return { sent: tried, connections: conns, closedByServer, stalled, probes, hangs };
}

// ─────────────────────────────── REST ───────────────────────────────

const REST_PATHS = [
  '/api/busks', '/api/busks?bbox=', '/api/busks?near=', '/api/busks?tag=', '/api/busks/X', '/api/dev/token', '/api/ice-servers',
  '/api/shorts', '/api/shorts/X', '/api/recordings', '/api/profiles/X', '/api/ops/turn', '/api/ops/history', '/whip', '/whip/X', '/whep/X',
  '/hls/X/index.m3u8', '/hls/X/s1.m4s', '/healthz', '/readyz', '/metrics', '/', '/studio.html',
];
const REST_QUERIES = ['', '1,2,3,4', '-180,-90,180,90', '48.8,2.3&radius=500', 'a,b,c', '1e999,NaN,0,0', 'x'.repeat(3000), '%00%ff', '&&&===', 'busk&tag=%'];
const REST_BODIES = ['', '{}', '{"name":"a","roles":["ops"]}', '{"title":1}', '[]', 'null', '{"a":' + '['.repeat(2000), 'v=0\r\n', '\0\0\0', '{"startS":-1,"endS":1e308}'];

export async function fuzzRest(o: { seed: number; total: number; url: string; parallel?: number; probe: () => Promise<boolean> }) {
  const rnd = prng(o.seed);
  let sent = 0;
  let serverErrors = 0;
  let hangs = 0;
  let probes = 0;
  const statuses: Record<string, number> = {};
  /** The first inputs answered with a 5xx other than 503, for the report and a replay. */
  const failures: { method: string; path: string; status: number; body?: string }[] = [];
  const worker = async () => {
    while (sent < o.total) {
      sent++;
      let p = pick(rnd, REST_PATHS);
      if (p.endsWith('=')) p += pick(rnd, REST_QUERIES);
      else if (rnd() < 0.2) p += `?${pick(rnd, REST_QUERIES)}`;
      const pathBytes = rnd() < 0.3 ? mutate(rnd, p, 3).toString('latin1').replace(/[^\x21-\x7e]/g, (ch) => `%${ch.charCodeAt(0).toString(16).padStart(2, '0')}`) : p;
      const method = pick(rnd, ['GET', 'GET', 'POST', 'PATCH', 'DELETE', 'PUT', 'OPTIONS', 'HEAD']);
      const body = method === 'GET' || method === 'HEAD' ? undefined : mutate(rnd, pick(rnd, REST_BODIES), 3);
      const headers: Record<string, string> = { 'content-type': pick(rnd, ['application/json', 'application/sdp', 'application/trickle-ice-sdpfrag', 'text/plain', 'multipart/form-data']) };
      if (rnd() < 0.3) headers.authorization = pick(rnd, ['Bearer x', 'Bearer ' + 'e'.repeat(5000), 'Basic Og==', 'Bearer eyJhbGciOiJub25lIn0.e30.']);
      if (rnd() < 0.1) headers['if-none-match'] = '"s1"';
      try {
        const res = await fetch(`${o.url}${pathBytes.startsWith('/') ? '' : '/'}${pathBytes}`, { method, headers, body, signal: AbortSignal.timeout(HANG_MS) });
        await res.arrayBuffer();
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        if (res.status >= 500 && res.status !== 503) {
          serverErrors++;
          if (failures.length < 10) failures.push({ method, path: pathBytes, status: res.status, ...(body ? { body: body.toString('latin1').slice(0, 200) } : {}) });
        }
      } catch (e) {
        if ((e as Error).name === 'TimeoutError') hangs++;
        else statuses.neterr = (statuses.neterr ?? 0) + 1;
      }
      if (sent % 5000 === 0) { probes++; if (!(await o.probe())) hangs++; }
    }
  };
  await Promise.all(Array.from({ length: o.parallel ?? 8 }, worker));
  return { sent, serverErrors, statuses, failures, probes, hangs };
}

// ─────────────────────────────── Kurento JSON-RPC, SDP, ICE ───────────────────────────────

/** A JSON-RPC connection to the engine that matches responses to requests by id. */
export class RpcClient {
  private seq = 0;
  private readonly pending = new Map<number, (m: Record<string, unknown>) => void>();
  sessionId: string | undefined;
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      let m: Record<string, unknown>;
      try { m = JSON.parse(String(d)); } catch { return; }
      if (m.method !== undefined && m.id === undefined) return; // a notification (onEvent)
      // A mutated request's id may be lost (parse error: id null): the fuzzer has one request out
      // at a time, so an answer without a known id is that one's.
      const key = this.pending.has(Number(m.id)) ? Number(m.id) : this.pending.size === 1 ? [...this.pending.keys()][0]! : NaN;
      const r = this.pending.get(key);
      if (r) { this.pending.delete(key); r(m); }
    });
  }

  static open(url: string): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.on('error', () => {});
      ws.once('open', () => resolve(new RpcClient(ws)));
      ws.once('error', reject);
    });
  }

  get isOpen(): boolean { return this.ws.readyState === WebSocket.OPEN; }

  /** A request; resolves with the response, or null after HANG_MS. */
  call(method: string, params: unknown): Promise<Record<string, unknown> | null> {
    const id = ++this.seq;
    return this.raw(id, JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  }

  /** Any text with request id `id` (which the text may or may not carry); null without an answer in `waitMs`. */
  raw(id: number, text: string | Buffer, waitMs = HANG_MS): Promise<Record<string, unknown> | null> {
    return new Promise((resolve) => {
      const t = setTimeout(() => { this.pending.delete(id); resolve(null); }, waitMs);
      this.pending.set(id, (m) => { clearTimeout(t); resolve(m); });
      this.ws.send(text);
    });
  }

  nextId(): number { return ++this.seq; }

  close(): void { this.ws.terminate(); }
}

const RPC_METHODS = ['create', 'invoke', 'subscribe', 'unsubscribe', 'release', 'ping', 'describe', 'connect', 'transaction', 'bogus'];
const RPC_TYPES = ['MediaPipeline', 'WebRtcEndpoint', 'PassThrough', 'RecorderEndpoint', 'PlayerEndpoint', 'HubPort', 'Nope', 1, null];
const RPC_OPS = ['processOffer', 'generateOffer', 'gatherCandidates', 'addIceCandidate', 'connect', 'disconnect', 'getStats', 'getMediaState', 'setMaxVideoSendBandwidth', 'getChilds', 'bogus'];
const weird = (rnd: Rnd): unknown => pick(rnd, [null, 0, -1, 1e308, 'x', '', [], {}, true, 'a'.repeat(70000), { $ref: 1 }, [[[[]]]]]);

/** `total` generated or mutated JSON-RPC requests; objects it creates are released at the end. */
export async function fuzzRpc(o: { seed: number; total: number; url: string; probe: () => Promise<boolean> }) {
  const rnd = prng(o.seed);
  let c = await RpcClient.open(o.url);
  const created: string[] = [];
  let pipeline = String(((await c.call('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} }))?.result as { value: string }).value);
  let sent = 0;
  let hangs = 0;
  let reconnects = 0;
  let probes = 0;
  while (sent < o.total) {
    if (!c.isOpen) { c = await RpcClient.open(o.url); reconnects++; }
    sent++;
    const method = pick(rnd, RPC_METHODS);
    const object = pick(rnd, [pipeline, `${pipeline}/x`, 'x', '', ...created.slice(-3)]);
    let params: Record<string, unknown>;
    switch (method) {
      case 'create': params = { type: pick(rnd, RPC_TYPES), constructorParams: rnd() < 0.7 ? { mediaPipeline: object } : weird(rnd), properties: rnd() < 0.9 ? {} : weird(rnd) }; break;
      case 'invoke': params = { object, operation: pick(rnd, RPC_OPS), operationParams: rnd() < 0.5 ? { offer: 'v=0', candidate: { candidate: 'x' }, sink: object } : weird(rnd) }; break;
      case 'subscribe': params = { object, type: pick(rnd, ['OnIceCandidate', 'Error', 'MediaStateChanged', 'x', 1]) }; break;
      default: params = { object, subscription: 'x', type: weird(rnd) };
    }
    if (rnd() < 0.5) params.sessionId = pick(rnd, [c.sessionId, 'nope', 1]);
    const id = c.nextId();
    let text: string | Buffer = JSON.stringify({ jsonrpc: '2.0', id, method, params });
    if (rnd() < 0.3) text = mutate(rnd, text, 3);
    // A mutation can make a notification (no id: no answer by design) or a request the engine
    // drops: no answer within 250 ms is a hang only if the engine then fails a ping.
    const res = await c.raw(id, text, 250);
    if (res === null && !(await o.probe())) hangs++;
    const value = (res?.result as { value?: unknown } | undefined)?.value;
    if (method === 'create' && typeof value === 'string') created.push(value);
    if (sent % 5000 === 0) { probes++; if (!(await o.probe())) hangs++; }
  }
  // Everything the fuzzer made is released: what is left after is a leak.
  if (!c.isOpen) c = await RpcClient.open(o.url);
  for (const id of [...created.reverse(), pipeline]) await c.call('release', { object: id });
  c.close();
  pipeline = '';
  return { sent, created: created.length, reconnects, probes, hangs };
}

const SDP = [
  'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 't=0 0', 'a=group:BUNDLE 0 1', 'a=msid-semantic: WMS *',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111', 'c=IN IP4 0.0.0.0', 'a=rtcp:9 IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuv',
  'a=fingerprint:sha-256 ' + Array.from({ length: 32 }, () => 'AB').join(':'), 'a=setup:actpass', 'a=mid:0', 'a=sendrecv', 'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2', 'a=fmtp:111 minptime=10;useinbandfec=1',
  'm=video 9 UDP/TLS/RTP/SAVPF 96 97', 'c=IN IP4 0.0.0.0', 'a=ice-ufrag:abcd', 'a=ice-pwd:abcdefghijklmnopqrstuv', 'a=mid:1', 'a=sendonly', 'a=rtcp-mux',
  'a=rtpmap:96 VP8/90000', 'a=rtcp-fb:96 nack pli', 'a=rtpmap:97 H264/90000', 'a=fmtp:97 profile-level-id=42e01f;packetization-mode=1', 'a=ssrc:1 cname:x',
];

/** The lines above as they are: an offer a browser could send (a fingerprint no one holds: ICE never connects). */
export const PLAIN_OFFER = SDP.join('\r\n') + '\r\n';

/** An SDP offer: the lines above, some dropped, repeated or swapped, then byte-mutated. */
export function sdpOffer(rnd: Rnd): string {
  let lines = SDP.filter(() => rnd() > 0.05);
  if (rnd() < 0.2) lines = lines.concat(lines.slice(Math.floor(rnd() * lines.length)));
  if (rnd() < 0.2) { const i = Math.floor(rnd() * lines.length); const j = Math.floor(rnd() * lines.length); [lines[i], lines[j]] = [lines[j]!, lines[i]!]; }
  const text = lines.join('\r\n') + '\r\n';
  return rnd() < 0.85 ? mutate(rnd, text, 4).toString('latin1') : text;
}

/** `total` SDP offers to processOffer; an endpoint that answered is released and replaced, one that refused takes the next. */
export async function fuzzSdp(o: { seed: number; total: number; url: string; probe: () => Promise<boolean> }) {
  const rnd = prng(o.seed);
  const c = await RpcClient.open(o.url);
  const pipeline = String(((await c.call('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} }))?.result as { value: string }).value);
  let answered = 0;
  let refused = 0;
  let hangs = 0;
  let ep: string | undefined;
  let i = 0;
  for (; i < o.total && c.isOpen; i++) {
    ep ??= ((await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline }, properties: {} }))?.result as { value?: string } | undefined)?.value;
    if (!ep) { hangs++; continue; }
    const r = await c.call('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: sdpOffer(rnd) } });
    if (r === null) { if (!(await o.probe())) hangs++; } else if (r.error) { refused++; continue; } else answered++;
    await c.call('release', { object: ep });
    ep = undefined;
  }
  await c.call('release', { object: pipeline });
  c.close();
  return { sent: i, answered, refused, hangs };
}

/**
 * A mutation can turn 10.0.0.1 into a public address, and the engine runs connectivity checks to the
 * candidates it is given: every IPv4 address outside loopback, private and documentation ranges
 * becomes 127.0.0.1, so the fuzzer never sends a packet off this machine.
 */
function safeAddresses(candidate: string): string {
  return candidate.replace(/\d{1,3}(\.\d{1,3}){3}/g, (ip) => (/^(127\.|10\.|192\.0\.2\.|198\.51\.100\.|203\.0\.113\.)/.test(ip) ? ip : '127.0.0.1'))
    .replace(/[0-9a-f]{0,4}(:[0-9a-f]{0,4}){2,7}/gi, (ip) => (ip === '::1' ? ip : '::1'));
}

/**
 * `total` ICE candidates to addIceCandidate, on a fresh endpoint (that has processed an offer) every
 * `perEndpoint`: the service caps a leg's candidates (ICE_CANDIDATES_PER_LEG), and one endpoint given
 * 100,000 made every later candidate slower (werift pairs each with every local one).
 */
export async function fuzzIce(o: { seed: number; total: number; url: string; perEndpoint?: number; probe: () => Promise<boolean> }) {
  const rnd = prng(o.seed);
  const c = await RpcClient.open(o.url);
  const pipeline = String(((await c.call('create', { type: 'MediaPipeline', constructorParams: {}, properties: {} }))?.result as { value: string }).value);
  const per = o.perEndpoint ?? 200;
  let refused = 0;
  let hangs = 0;
  const base = ['candidate:1 1 udp 2122260223 127.0.0.1 9 typ host', 'candidate:2 1 tcp 1518280447 10.0.0.1 9 typ host tcptype passive', 'candidate:3 1 udp 1686052607 203.0.113.1 40000 typ srflx raddr 10.0.0.1 rport 9', 'candidate:4 1 udp 41885439 198.51.100.1 3478 typ relay raddr 0.0.0.0 rport 0'];
  let ep = '';
  let i = 0;
  for (; i < o.total && c.isOpen; i++) {
    if (i % per === 0) {
      if (ep) await c.call('release', { object: ep });
      ep = String(((await c.call('create', { type: 'WebRtcEndpoint', constructorParams: { mediaPipeline: pipeline }, properties: {} }))?.result as { value: string }).value);
      await c.call('invoke', { object: ep, operation: 'processOffer', operationParams: { offer: SDP.join('\r\n') + '\r\n' } });
    }
    const candidate = safeAddresses(rnd() < 0.8 ? mutate(rnd, pick(rnd, base), 3).toString('latin1') : pick(rnd, base));
    const r = await c.call('invoke', { object: ep, operation: 'addIceCandidate', operationParams: { candidate: { __module__: 'kurento', __type__: 'IceCandidate', candidate, sdpMid: pick(rnd, ['0', '1', '', 'x']), sdpMLineIndex: pick(rnd, [0, 1, -1, 99, 1.5]) } } });
    if (r === null) { if (!(await o.probe())) hangs++; } else if (r.error) refused++;
  }
  await c.call('release', { object: pipeline });
  c.close();
  return { sent: i, refused, endpoints: Math.ceil(i / per), hangs };
}
