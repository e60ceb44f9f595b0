// The engine's media workers: N threads, each with its own werift peers and event loop, so one busk's
// fan-out uses every core. A new peer goes to the worker with the fewest; a route between peers of
// two workers becomes a pipe (../pipe.ts) over a MessagePort the two share, so the presenter's
// worker sends each packet once per other worker, which forwards it to its own viewers.
import fs from 'node:fs';
import path from 'node:path';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { PipeOut, type PipeUpstream } from '../pipe';
import type { MediaPeer, PeerOptions } from '../types';
import type { FromWorker, PeerCall, SdpState, ToWorker, WorkerCounts, WorkerData } from './protocol';
import { callError, WorkerPeer, type MainThreadSource, type PeerWorker } from './worker-peer';

/**
 * How a worker thread is started: the built entry (dist/), or, when the engine runs from the source
 * tree (the tests), the TypeScript entry compiled on require by test-support/run-ts.js.
 */
function workerScript(): { file: string; argv: string[] } {
  const built = path.join(__dirname, 'entry.js');
  if (fs.existsSync(built)) return { file: built, argv: [] };
  return { file: path.resolve(__dirname, '../../../../test-support/run-ts.js'), argv: [path.join(__dirname, 'entry.ts')] };
}

type Pending = { resolve: (r: { value: unknown; sdp?: SdpState }) => void; reject: (e: Error) => void };

/** One worker thread and the peers placed on it. */
class MediaWorker implements PeerWorker {
  private readonly thread: Worker;
  readonly peers = new Map<number, WorkerPeer>();
  /** Main-thread sources feeding peers here, by id, and the pipe from each once the worker opened it. */
  private readonly sources = new Map<number, { source: MainThreadSource; out: PipeOut | null }>();
  private readonly pending = new Map<number, Pending>();
  private readonly inspections = new Map<number, Pending>();
  private nextCall = 1;
  private created = 0;
  private alive = true;
  private stopping = false;
  readonly ready: Promise<void>;

  constructor(readonly index: number, private readonly step: number, ports: (MessagePort | null)[], nativeSend: boolean) {
    const { file, argv } = workerScript();
    const data: WorkerData = { index, step, ports, nativeSend };
    this.thread = new Worker(file, { argv, workerData: data, transferList: ports.filter((p): p is MessagePort => p !== null) });
    this.ready = new Promise((resolve, reject) => {
      this.thread.once('error', reject);
      this.thread.on('message', (m: FromWorker) => {
        if (m.op === 'ready') { this.thread.off('error', reject); resolve(); } else this.receive(m);
      });
    });
    this.thread.on('error', (e) => { if (!this.stopping) process.emitWarning(`media worker ${index} failed: ${e.message}`); });
    this.thread.on('exit', () => this.lost());
  }

  get isAlive(): boolean { return this.alive; }

  createPeer(options: PeerOptions): WorkerPeer {
    const id = this.index + this.step * this.created++;
    const peer = new WorkerPeer(id, this);
    this.peers.set(id, peer);
    peer.once('@closed', () => this.peers.delete(id));
    this.send({ op: 'create', peer: id, options });
    return peer;
  }

  send(m: ToWorker): void {
    if (this.alive) this.thread.postMessage(m);
  }

  adoptSource(source: MainThreadSource): void {
    if (this.sources.has(source.id) || source.isClosed) return;
    this.sources.set(source.id, { source, out: null });
    // The source goes: its pipe tells the worker ('gone'), whose sinks stop as for a closed presenter.
    source.once('@closed', () => {
      this.sources.get(source.id)?.out?.close(true);
      this.sources.delete(source.id);
    });
  }

  /** The worker's end of a main-thread source's pipe speaks (pipe.ts): open, close, keyframe, budget. */
  private fromPipe(m: PipeUpstream): void {
    const entry = this.sources.get(m.s);
    if (m.t === 'open') {
      if (!entry) { this.send({ op: 'pipe', m: { t: 'gone', s: m.s } }); return; }
      entry.out?.close(false);
      entry.out = new PipeOut(entry.source, m.s, (down) => this.send({ op: 'pipe', m: down }));
    } else if (m.t === 'close') {
      entry?.out?.close(false);
      if (entry) entry.out = null;
    } else {
      entry?.out?.receive(m);
    }
  }

  call(peer: number, method: PeerCall, args: unknown[]): Promise<{ value: unknown; sdp?: SdpState }> {
    if (!this.alive) return Promise.reject(new Error(`media worker ${this.index} stopped`));
    const id = this.nextCall++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread.postMessage({ op: 'call', id, peer, method, args } satisfies ToWorker);
    });
  }

  inspect(collect: boolean): Promise<WorkerCounts> {
    const id = this.nextCall++;
    if (!this.alive) return Promise.reject(new Error(`media worker ${this.index} stopped`));
    return new Promise((resolve, reject) => {
      this.inspections.set(id, { resolve: (r) => resolve(r.value as WorkerCounts), reject });
      this.send({ op: 'inspect', id, collect });
    });
  }

  private receive(m: FromWorker): void {
    switch (m.op) {
      case 'event': return this.peers.get(m.peer)?.deliver(m);
      case 'rtp': return this.peers.get(m.peer)?.deliverRtp(m);
      case 'reply': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.ok) p?.resolve({ value: m.value, sdp: m.sdp });
        else p?.reject(callError(m.message, m.sdpKind));
        return;
      }
      case 'counts': {
        this.inspections.get(m.id)?.resolve({ value: m.counts });
        this.inspections.delete(m.id);
        return;
      }
      case 'pipe': return this.fromPipe(m.m);
    }
  }

  private lost(): void {
    this.alive = false;
    for (const p of [...this.pending.values(), ...this.inspections.values()]) p.reject(new Error(`media worker ${this.index} stopped`));
    this.pending.clear();
    this.inspections.clear();
    for (const { out } of this.sources.values()) out?.close(false);
    this.sources.clear();
    if (!this.stopping) for (const peer of this.peers.values()) peer.workerLost();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.thread.terminate();
  }

  /** Ends the thread as a crash would: its peers are lost (tests). */
  async crash(): Promise<void> {
    await this.thread.terminate();
  }
}

export class MediaWorkers {
  private constructor(private readonly workers: MediaWorker[]) {}

  /**
   * Starts `count` workers (at least 1), each ready to make peers when this resolves; `nativeSend`
   * false keeps their forwarded RTP on the JavaScript send path (media/native.ts).
   */
  static async start(count: number, nativeSend = true): Promise<MediaWorkers> {
    const n = Math.max(1, Math.floor(count));
    // A port for every pair of workers: ports[i][j] is i's end of the i–j pipe.
    const ports: (MessagePort | null)[][] = Array.from({ length: n }, () => Array<MessagePort | null>(n).fill(null));
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const { port1, port2 } = new MessageChannel();
        ports[i]![j] = port1;
        ports[j]![i] = port2;
      }
    }
    const workers = ports.map((p, i) => new MediaWorker(i, n, p, nativeSend));
    try {
      await Promise.all(workers.map((w) => w.ready));
    } catch (e) {
      await Promise.all(workers.map((w) => w.stop()));
      throw e;
    }
    return new MediaWorkers(workers);
  }

  get size(): number { return this.workers.length; }

  /** A PeerFactory: the new peer goes to the live worker with the fewest peers. */
  readonly createPeer = (options: PeerOptions): MediaPeer => {
    const live = this.workers.filter((w) => w.isAlive);
    if (live.length === 0) throw new Error('no media worker is running');
    const least = live.reduce((a, b) => (b.peers.size < a.peers.size ? b : a));
    return least.createPeer(options);
  };

  /** Which worker a peer made here lives on (tests, metrics). */
  workerOf(peer: MediaPeer): number {
    return peer instanceof WorkerPeer ? peer.worker.index : -1;
  }

  /**
   * Each live worker's counts (peers, pipes, sockets, heap, packets), in worker order. `collectGarbage`:
   * each collects first, for a heap figure without garbage (leak tests); it stalls its media meanwhile.
   */
  inspect(options: { collectGarbage?: boolean } = {}): Promise<WorkerCounts[]> {
    return Promise.all(this.workers.filter((w) => w.isAlive).map((w) => w.inspect(options.collectGarbage ?? false)));
  }

  /** Ends one worker's thread as a crash would (tests): its peers report the loss, new ones go elsewhere. */
  crashWorker(index: number): Promise<void> {
    return this.workers[index]!.crash();
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
