// Node WebRTC peers for tests and the benchmark: a presenter that sends synthetic video frames and
// a viewer that decodes and counts them (@roamhq/wrtc, run in a child process: see peer-host.cjs),
// plus helpers that run the busking protocol (offer, answer, trickle ICE) through a StompTestClient.
import { ChildProcess, fork } from 'node:child_process';
import path from 'node:path';
import { StompTestClient, Inbox } from './stomp-client';
import { waitFor } from '../../../test-support/ports';

export interface Candidate { candidate: string; sdpMid: string; sdpMLineIndex: number }

/** One child process holding many peers. */
export class PeerHost {
  private seq = 0;
  private pending = new Map<number, { resolve(v: any): void; reject(e: Error): void }>();
  readonly peers = new Map<string, Peer>();

  private constructor(private readonly proc: ChildProcess) {
    proc.on('message', (m: any) => {
      if (m.id !== undefined) {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (m.error) p?.reject(new Error(m.error));
        else p?.resolve(m.result);
      } else if (m.event === 'candidate') this.peers.get(m.peer)?.emitCandidate(m.candidate);
      else if (m.event === 'frames') this.peers.get(m.peer)?.onFrames(m.count, m.firstAt);
    });
    proc.on('exit', () => {
      for (const p of this.pending.values()) p.reject(new Error('peer host exited'));
      this.pending.clear();
    });
  }

  static async start(): Promise<PeerHost> {
    const proc = fork(path.join(__dirname, 'peer-host.cjs'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: [] });
    await new Promise<void>((resolve, reject) => {
      proc.once('message', (m: any) => (m.event === 'ready' ? resolve() : reject(new Error('peer host did not start'))));
      proc.once('exit', (c) => reject(new Error(`peer host exited (${c})`)));
    });
    return new PeerHost(proc);
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.proc.send({ id, op, ...args });
    });
  }

  async presenter(fps = 15): Promise<PresenterPeer> {
    const id = await this.call<string>('create', { kind: 'presenter', fps });
    const p = new PresenterPeer(this, id);
    this.peers.set(id, p);
    return p;
  }

  async viewer(): Promise<ViewerPeer> {
    const id = await this.call<string>('create', { kind: 'viewer' });
    const p = new ViewerPeer(this, id);
    this.peers.set(id, p);
    return p;
  }

  /** SIGKILL: wrtc's native teardown is what crashes, so we never run it. */
  stop(): void {
    this.proc.kill('SIGKILL');
  }
}

export abstract class Peer {
  closed = false;
  private candidateCb: ((c: Candidate) => void) | null = null;
  private early: Candidate[] = [];

  constructor(readonly host: PeerHost, readonly id: string) {}

  emitCandidate(c: Candidate) {
    if (this.candidateCb) this.candidateCb(c);
    else this.early.push(c);
  }
  onFrames(_count: number, _firstAt: number) {}

  onCandidate(cb: (c: Candidate) => void): void {
    this.candidateCb = cb;
    for (const c of this.early.splice(0)) cb(c);
  }
  offer(): Promise<string> { return this.host.call<string>('offer', { peer: this.id }); }
  answer(sdp: string): Promise<void> { return this.host.call('answer', { peer: this.id, sdp }); }
  addCandidate(candidate: Candidate): Promise<void> { return this.host.call('candidate', { peer: this.id, candidate }); }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.host.peers.delete(this.id);
    this.host.call('close', { peer: this.id }).catch(() => {});
  }
}

export class PresenterPeer extends Peer {}

export class ViewerPeer extends Peer {
  framesReceived = 0;
  /** Epoch ms (Date.now() in the peer host) of the first decoded frame. */
  firstFrameAt: number | null = null;

  onFrames(count: number, firstAt: number) {
    this.framesReceived = Math.max(this.framesReceived, count);
    this.firstFrameAt = firstAt;
  }

  async waitFrames(n: number, timeoutMs = 30000): Promise<void> {
    await waitFor(async () => {
      if (this.framesReceived >= n) return true;
      const s = await this.host.call<{ frames: number } | null>('stats', { peer: this.id });
      if (s) this.framesReceived = Math.max(this.framesReceived, s.frames);
      return this.framesReceived >= n;
    }, timeoutMs, `${n} decoded frames (got ${this.framesReceived})`, 100);
  }

  /** Frames decoded so far (asks the host). */
  async frames(): Promise<number> {
    const s = await this.host.call<{ frames: number } | null>('stats', { peer: this.id });
    return s?.frames ?? this.framesReceived;
  }
}

/** Runs offer/answer/trickle for `peer` in busk `buskId` through `client`; resolves after the answer. */
export async function negotiate(client: StompTestClient, buskId: string, peer: Peer): Promise<{ inbox: Inbox; answerMs: number }> {
  const inbox = await client.subscribeSync(`/user/queue/busk.${buskId}`);
  const seen = new Set<unknown>();
  const applyIce = () => {
    for (const m of inbox.messages) {
      if (m.body?.type === 'ice' && !seen.has(m)) { seen.add(m); void peer.addCandidate(m.body.candidate).catch(() => {}); }
    }
  };
  peer.onCandidate((c) => { if (!client.closed) client.send(`/app/busk.${buskId}.ice`, { candidate: c }); });
  const answersBefore = inbox.ofType('answer').length;
  const sdp = await peer.offer();
  const t0 = performance.now();
  const res = await client.request(`/app/busk.${buskId}.offer`, { sdpOffer: sdp });
  if (res !== 'ok') throw Object.assign(new Error(`offer refused: ${res.code} ${res.message}`), { code: res.code });
  const answer = await waitFor(() => inbox.ofType('answer')[answersBefore], 15000, 'answer');
  const answerMs = performance.now() - t0;
  await peer.answer(answer.body.sdpAnswer);
  applyIce();
  const timer = setInterval(() => { if (peer.closed || client.closed) clearInterval(timer); else applyIce(); }, 25);
  timer.unref();
  return { inbox, answerMs };
}

/** Starts a busk as `client` and presents with a synthetic camera; resolves once the answer is in. */
export async function startBusk(host: PeerHost, client: StompTestClient, body: Record<string, unknown> = { title: 'Test busk' }): Promise<{ buskId: string; presenter: PresenterPeer; inbox: Inbox }> {
  const q = await client.subscribeSync('/user/queue/busk');
  const before = q.messages.length;
  const r = await client.request('/app/busk.start', body);
  if (r !== 'ok') throw new Error(`busk.start refused: ${r.code} ${r.message}`);
  const started = await waitFor(() => q.messages.slice(before).find((m) => m.body?.type === 'started'), 10000, 'started');
  const buskId = started.body.buskId as string;
  const presenter = await host.presenter();
  const { inbox } = await negotiate(client, buskId, presenter);
  return { buskId, presenter, inbox };
}

export async function watchBusk(host: PeerHost, client: StompTestClient, buskId: string): Promise<{ viewer: ViewerPeer; inbox: Inbox; answerMs: number }> {
  const viewer = await host.viewer();
  const { inbox, answerMs } = await negotiate(client, buskId, viewer);
  return { viewer, inbox, answerMs };
}
