// Inside one media worker: the werift peers placed here, the routes between them, and the pipes to
// and from the other workers. Does what the main thread asks (protocol.ts) and tells it the peers'
// events; media between workers goes straight over the pipes, never through the main thread.
import v8 from 'node:v8';
import vm from 'node:vm';
import type { MessagePort } from 'node:worker_threads';
import { WeriftMediaPeer, type WeriftPeerOptions } from '../peer';
import { PipeOut, PipeSource, type PipeDownstream, type PipeMessage, type PipeUpstream } from '../pipe';
import { SdpError, type MediaPeerEvents } from '../types';
import { MAIN_THREAD, type FromWorker, type ToWorker, type WorkerCounts, type WorkerData } from './protocol';

const EVENTS: readonly (keyof MediaPeerEvents)[] = [
  'candidate', 'gathering-done', 'ice-component-state', 'candidate-pair-selected', 'connection-state', 'flow-in', 'flow-out', 'error', 'received-codec',
];

export class MediaWorkerHost {
  private readonly peers = new Map<number, WeriftMediaPeer>();
  /** This worker's peers' pipes out, by source id, then by the receiving worker's index. */
  private readonly pipesOut = new Map<number, Map<number, PipeOut>>();
  /** Pipes in, by source id (one per source: every sink here shares it). */
  private readonly pipesIn = new Map<number, PipeSource>();
  /** Openings for peers not created here yet (a port can overtake the main thread's 'create'). */
  private readonly waitingOpens = new Map<number, number[]>();
  /** The highest peer id created here: a lower id that is not live is a closed one. */
  private lastCreated = -1;
  private readonly taps = new Map<string, () => void>();

  constructor(private readonly data: WorkerData, private readonly toMain: (m: FromWorker) => void) {
    data.ports.forEach((port, from) => {
      if (!port) return;
      port.on('message', (m: PipeMessage) => this.fromPipe(from, port, m));
      port.on('close', () => this.workerGone(from));
    });
  }

  async start(): Promise<void> {
    this.toMain({ op: 'ready' });
  }

  receive(m: ToWorker): void {
    switch (m.op) {
      case 'create': return this.create(m.peer, m.options);
      case 'call': return void this.call(m);
      case 'post': {
        const peer = this.peers.get(m.peer);
        if (peer) (peer[m.method] as (...a: number[]) => void)(...m.args);
        return;
      }
      case 'connect': return this.connect(m);
      case 'disconnect': return this.disconnect(m);
      case 'tap': return this.tap(m);
      case 'pipe': return this.pipesIn.get(m.m.s)?.receive(m.m);
      case 'inspect': return this.toMain({ op: 'counts', id: m.id, counts: this.counts(m.collect) });
    }
  }

  private create(id: number, options: WeriftPeerOptions): void {
    const peer = new WeriftMediaPeer(options);
    this.peers.set(id, peer);
    this.lastCreated = Math.max(this.lastCreated, id);
    for (const name of EVENTS) {
      peer.on(name, (...args: unknown[]) => this.toMain({ op: 'event', peer: id, name, args } as FromWorker));
    }
    const waiting = this.waitingOpens.get(id);
    if (waiting) {
      this.waitingOpens.delete(id);
      for (const to of waiting) this.openPipe(id, to);
    }
  }

  private async call(m: Extract<ToWorker, { op: 'call' }>): Promise<void> {
    const peer = this.peers.get(m.peer);
    try {
      if (!peer) throw new Error('media peer is closed');
      if (m.method === 'close') this.forget(m.peer);
      const value = await (peer[m.method] as (...a: unknown[]) => Promise<unknown>)(...m.args);
      const sdp = m.method === 'close' ? undefined : { local: peer.localDescription, remote: peer.remoteDescription };
      this.toMain({ op: 'reply', id: m.id, ok: true, value: value ?? null, sdp });
    } catch (e) {
      const err = e as Error;
      this.toMain({ op: 'reply', id: m.id, ok: false, message: err?.message ?? String(e), sdpKind: e instanceof SdpError ? e.kind : undefined });
    }
  }

  /** Forgets the peer and ends its pipes out before it closes (its far sinks learn at once). */
  private forget(id: number): void {
    this.peers.delete(id);
    for (const out of this.pipesOut.get(id)?.values() ?? []) out.close(true);
    this.pipesOut.delete(id);
    for (const kind of ['audio', 'video']) {
      const key = `${id}:${kind}`;
      this.taps.get(key)?.();
      this.taps.delete(key);
    }
  }

  private connect(m: Extract<ToWorker, { op: 'connect' }>): void {
    const sink = this.peers.get(m.sink);
    if (!sink) return; // released meanwhile: the main thread's objects are gone too
    try {
      if (m.from === this.data.index) {
        this.peers.get(m.source)?.connect(sink, m.kinds);
        return;
      }
      let pipe = this.pipesIn.get(m.source);
      if (!pipe || pipe.isClosed) {
        const port = this.data.ports[m.from];
        const source = m.source;
        const up = m.from === MAIN_THREAD ? (u: PipeUpstream) => this.toMain({ op: 'pipe', m: u }) : (u: PipeUpstream) => port!.postMessage(u);
        pipe = new PipeSource(source, m.from, up, () => {
          if (this.pipesIn.get(source) === pipe) this.pipesIn.delete(source);
        });
        this.pipesIn.set(source, pipe);
      }
      pipe.connect(sink, m.kinds);
    } catch { /* a sink closing under us: nothing to connect */ }
  }

  private disconnect(m: Extract<ToWorker, { op: 'disconnect' }>): void {
    const sink = this.peers.get(m.sink);
    if (!sink) return;
    if (m.from === this.data.index) this.peers.get(m.source)?.disconnect(sink, m.kinds);
    else this.pipesIn.get(m.source)?.disconnect(sink, m.kinds);
  }

  private tap(m: Extract<ToWorker, { op: 'tap' }>): void {
    const key = `${m.peer}:${m.kind}`;
    this.taps.get(key)?.();
    this.taps.delete(key);
    const peer = this.peers.get(m.peer);
    if (!m.on || !peer) return;
    this.taps.set(key, peer.tap(m.kind, (rtp) => this.toMain({
      op: 'rtp', peer: m.peer, kind: m.kind, payload: rtp.payload,
      marker: rtp.header.marker, timestamp: rtp.header.timestamp, sequenceNumber: rtp.header.sequenceNumber,
    })));
  }

  private fromPipe(from: number, port: MessagePort, m: PipeMessage): void {
    switch (m.t) {
      case 'open': {
        if (this.peers.has(m.s)) return this.openPipe(m.s, from);
        // Not created yet (the port overtook the main thread) or already closed: ids tell which.
        if (m.s > this.lastCreated && m.s % this.data.step === this.data.index) {
          this.waitingOpens.set(m.s, [...(this.waitingOpens.get(m.s) ?? []), from]);
        } else {
          port.postMessage({ t: 'gone', s: m.s } satisfies PipeDownstream);
        }
        return;
      }
      case 'close': {
        const byWorker = this.pipesOut.get(m.s);
        byWorker?.get(from)?.close(false);
        byWorker?.delete(from);
        if (byWorker?.size === 0) this.pipesOut.delete(m.s);
        const waiting = this.waitingOpens.get(m.s)?.filter((w) => w !== from);
        if (waiting?.length) this.waitingOpens.set(m.s, waiting);
        else this.waitingOpens.delete(m.s);
        return;
      }
      case 'keyframe':
      case 'budget':
        return this.pipesOut.get(m.s)?.get(from)?.receive(m);
      default:
        return this.pipesIn.get(m.s)?.receive(m);
    }
  }

  /** The other worker stopped (its thread died): its pipes from and to here end now. */
  private workerGone(index: number): void {
    for (const [source, byWorker] of this.pipesOut) {
      byWorker.get(index)?.close(false);
      byWorker.delete(index);
      if (byWorker.size === 0) this.pipesOut.delete(source);
    }
    for (const pipe of [...this.pipesIn.values()]) if (pipe.from === index) pipe.close(false);
    for (const [source, waiting] of this.waitingOpens) {
      const rest = waiting.filter((w) => w !== index);
      if (rest.length) this.waitingOpens.set(source, rest);
      else this.waitingOpens.delete(source);
    }
  }

  private openPipe(source: number, to: number): void {
    const peer = this.peers.get(source)!;
    let byWorker = this.pipesOut.get(source);
    if (!byWorker) this.pipesOut.set(source, byWorker = new Map());
    byWorker.get(to)?.close(false);
    const port = this.data.ports[to]!;
    byWorker.set(to, new PipeOut(peer, source, (down) => port.postMessage(down)));
  }

  private counts(collect: boolean): WorkerCounts {
    const gc = collect ? exposedGc() : null;
    if (gc) { gc(); gc(); }
    const media: WorkerCounts['media'] = { packetsIn: { audio: 0, video: 0 }, packetsOut: { audio: 0, video: 0 }, keyframeRequestsSent: 0, keyframeRequestsReceived: 0 };
    for (const p of this.peers.values()) {
      const s = p.stats();
      for (const kind of ['audio', 'video'] as const) { media.packetsIn[kind] += s.packetsIn[kind]; media.packetsOut[kind] += s.packetsOut[kind]; }
      media.keyframeRequestsSent += s.keyframeRequestsSent;
      media.keyframeRequestsReceived += s.keyframeRequestsReceived;
    }
    let pipesOut = 0;
    for (const m of this.pipesOut.values()) pipesOut += m.size;
    return {
      peers: this.peers.size, pipesIn: this.pipesIn.size, pipesOut, waitingOpens: this.waitingOpens.size,
      udpSockets: udpSocketCount(), heapUsed: v8.getHeapStatistics().used_heap_size, media,
    };
  }
}

let gcFn: (() => void) | null | undefined;
function exposedGc(): (() => void) | null {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gcFn = g;
    else {
      try {
        v8.setFlagsFromString('--expose-gc');
        gcFn = vm.runInNewContext('gc') as () => void;
      } catch { gcFn = null; }
    }
  }
  return gcFn;
}

function udpSocketCount(): number {
  const handles = (process as unknown as { _getActiveHandles(): { constructor?: { name?: string }; type?: string }[] })._getActiveHandles();
  return handles.filter((h) => h?.constructor?.name === 'Socket' && typeof h.type === 'string' && h.type.startsWith('udp')).length;
}
