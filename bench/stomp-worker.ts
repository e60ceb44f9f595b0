/**
 * Load-generator child process for bench/stomp.ts. Holds a share of the STOMP-over-WebSocket connections:
 * subscribers (one subscription each, latency recorded per delivery) and publishers (windowed: each
 * publisher also subscribes to its own destination as a probe and keeps at most `window` messages
 * published but not yet seen back by its probe). Driven by request/response messages over IPC.
 */
import { LeanStomp, Target, frame, now, pool } from './lib/stomp-client';
import { Histogram } from './lib/histogram';

interface PubSpec { dest: string; messages: number; window: number; bodySize: number; rateHz?: number }
interface SetupReq {
  cmd: 'setup'; target: Target; heartBeat: string; clientBeatMs?: number;
  subs: { dest: string | null; count: number }[]; pubs: PubSpec[]; concurrency: number;
}
type Req = { id: number } & (SetupReq | { cmd: 'arm' } | { cmd: 'start'; deadline: number } | { cmd: 'progress' } | { cmd: 'report' } | { cmd: 'status' } | { cmd: 'close' } | { cmd: 'exit' });

let hist = new Histogram();
let received = 0;
let firstRecv = 0;
let lastRecv = 0;
let measuring = false;
let subConns: LeanStomp[] = [];
let publishers: Publisher[] = [];
let beatTimer: NodeJS.Timeout | null = null;
let errors: string[] = [];
let cpuAtStart = process.cpuUsage();
let capTimer: NodeJS.Timeout | null = null;

function onDelivery(_c: LeanStomp, sendTs: number, recvTs: number): void {
  if (!measuring) return;
  received++;
  if (firstRecv === 0) firstRecv = recvTs;
  lastRecv = recvTs;
  if (sendTs === sendTs) hist.record((recvTs - sendTs) * 1000);
}

class Publisher {
  conn: LeanStomp;
  sent = 0;
  probe = 0;
  done = false;
  capped = false;
  startTs = 0;
  endTs = 0;
  deadline = 0;
  private prefix: string;
  private pad: string;

  constructor(target: Target, public spec: PubSpec) {
    this.conn = new LeanStomp(target, () => this.onProbe());
    this.prefix = `SEND\ndestination:${spec.dest}\ncontent-type:text/plain\n\n`;
    this.pad = 'x'.repeat(Math.max(0, spec.bodySize - 24));
  }

  private timer: NodeJS.Timeout | null = null;

  start(deadline: number): void {
    this.deadline = deadline;
    this.startTs = now();
    if (this.spec.rateHz) {
      // Open loop at a fixed rate: latency without queueing from the publisher's side.
      this.timer = setInterval(() => {
        if (Date.now() > this.deadline) return this.finish(true);
        if (this.sent < this.spec.messages) this.sendOne();
      }, 1000 / this.spec.rateHz);
      this.sendOne();
    } else this.pump();
  }

  private sendOne(): void {
    const s = this.prefix + now().toFixed(3) + '|' + this.sent + '|' + this.pad + '\0';
    this.sent++;
    this.conn.sendRaw(s);
  }

  private onProbe(): void {
    if (!measuring) return;
    this.probe++;
    if (this.probe >= this.spec.messages) this.finish(false);
    else if (!this.spec.rateHz) this.pump();
  }

  private pump(): void {
    if (this.done) return;
    if (Date.now() > this.deadline) return this.finish(true);
    while (this.sent < this.spec.messages && this.sent - this.probe < this.spec.window) {
      const s = this.prefix + now().toFixed(3) + '|' + this.sent + '|' + this.pad + '\0';
      this.sent++;
      this.conn.sendRaw(s);
    }
  }

  finish(capped: boolean): void {
    if (this.done) return;
    this.done = true;
    if (this.timer) clearInterval(this.timer);
    this.capped = capped;
    this.endTs = now();
    maybeAllDone();
  }
}

let pubsDoneSent = true;
function maybeAllDone(): void {
  if (!pubsDoneSent && publishers.every((p) => p.done)) {
    pubsDoneSent = true;
    process.send!({ event: 'pubs-done' });
  }
}

async function setup(r: SetupReq): Promise<object> {
  const t0 = Date.now();
  errors = [];
  const plan: (string | null)[] = [];
  for (const s of r.subs) for (let i = 0; i < s.count; i++) plan.push(s.dest);
  const conns: LeanStomp[] = plan.map(() => new LeanStomp(r.target, onDelivery));
  subConns.push(...conns);
  // Client heart-beats start now, before the batch is connected: the first connections must not go
  // silent while the rest connect. heartbeat() skips connections not yet CONNECTED.
  if (r.clientBeatMs && !beatTimer) {
    // Stagger client heart-beats: every tick, one tenth of the connections send an EOL.
    let tick = 0;
    const every = r.clientBeatMs;
    beatTimer = setInterval(() => {
      const slot = tick++ % 10;
      for (let i = slot; i < subConns.length; i += 10) subConns[i].heartbeat();
    }, every / 10);
  }
  const res = await pool(plan, r.concurrency, async (dest, i) => {
    await conns[i].connect(r.heartBeat);
    if (dest) await conns[i].subscribe(dest, 'sub-0');
  });
  const pubs = r.pubs.map((p) => new Publisher(r.target, p));
  publishers.push(...pubs);
  const res2 = await pool(pubs, r.concurrency, async (p) => {
    await p.conn.connect(r.heartBeat);
    await p.conn.subscribe(p.spec.dest, 'probe');
  });
  const all = [...res, ...res2];
  const failed = all.filter((e) => e).length;
  for (const e of all) if (e && errors.length < 5) errors.push(e.message);
  return { ok: all.length - failed, failed, errors, ms: Date.now() - t0 };
}

function status(): object {
  let open = 0, closedUnexpectedly = 0, beatsIn = 0, errored = 0;
  for (const c of subConns) {
    if (c.connected && !c.closed) open++;
    else if (c.closed && !c.closedByUs) closedUnexpectedly++;
    if (c.error) errored++;
    beatsIn += c.beatsIn;
  }
  const errs = subConns.filter((c) => c.error).slice(0, 3).map((c) => c.error);
  return { open, closedUnexpectedly, beatsIn, errored, errors: errs };
}

async function closeAll(): Promise<object> {
  if (beatTimer) clearInterval(beatTimer);
  beatTimer = null;
  if (capTimer) clearTimeout(capTimer);
  capTimer = null;
  measuring = false;
  const all = [...subConns, ...publishers.map((p) => p.conn)];
  for (const c of all) c.close();
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && all.some((c) => !c.closed)) await new Promise((r) => setTimeout(r, 50));
  for (const c of all) if (!c.closed) c.ws.terminate();
  const n = all.length;
  subConns = []; publishers = [];
  return { closed: n };
}

process.on('message', async (m: Req) => {
  let reply: object = {};
  try {
    switch (m.cmd) {
      case 'setup': reply = await setup(m); break;
      case 'arm':
        hist = new Histogram(); received = 0; firstRecv = 0; lastRecv = 0;
        measuring = true;
        cpuAtStart = process.cpuUsage();
        break;
      case 'start':
        pubsDoneSent = publishers.length === 0;
        for (const p of publishers) p.start(m.deadline);
        if (capTimer) clearTimeout(capTimer);
        capTimer = setTimeout(() => { capTimer = null; for (const p of publishers) p.finish(true); }, Math.max(0, m.deadline - Date.now()) + 5);
        capTimer.unref();
        reply = { started: publishers.length };
        break;
      case 'progress':
        reply = { received, sent: publishers.reduce((a, p) => a + p.sent, 0), probe: publishers.reduce((a, p) => a + p.probe, 0) };
        break;
      case 'report':
        measuring = false;
        const cpu = process.cpuUsage(cpuAtStart);
        reply = {
          cpuS: (cpu.user + cpu.system) / 1e6,
          received, firstRecv, lastRecv, hist: hist.toJSON(),
          sent: publishers.reduce((a, p) => a + p.sent, 0),
          pubStart: Math.min(...publishers.map((p) => p.startTs), Infinity),
          pubEnd: Math.max(...publishers.map((p) => p.endTs), 0),
          capped: publishers.some((p) => p.capped),
          ...status(),
        };
        break;
      case 'status': reply = status(); break;
      case 'close': reply = await closeAll(); break;
      case 'exit': process.send!({ id: m.id }); setTimeout(() => process.exit(0), 50); return;
    }
  } catch (e) {
    reply = { error: (e as Error).stack ?? String(e) };
  }
  process.send!({ id: m.id, ...reply });
});

process.on('disconnect', () => process.exit(0));
void frame;
