// Node WebRTC peers for tests and the benchmark (@roamhq/wrtc): a presenter that sends synthetic
// video frames, and a viewer that decodes and counts them. Plus helpers that run the busking
// protocol (offer, answer, trickle ICE) for a peer through a StompTestClient.
import wrtc from '@roamhq/wrtc';
import { StompTestClient, Inbox } from './stomp-client';
import { waitFor } from '../../../test-support/ports';

type PC = InstanceType<typeof wrtc.RTCPeerConnection>;

const WIDTH = 160;
const HEIGHT = 120;

abstract class Peer {
  readonly pc: PC;
  closed = false;
  protected constructor() {
    this.pc = new wrtc.RTCPeerConnection({ iceServers: [] });
  }
  async offer(): Promise<string> {
    const o = await this.pc.createOffer({ iceRestart: !!this.pc.remoteDescription } as any);
    await this.pc.setLocalDescription(o);
    return o.sdp!;
  }
  async answer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp });
  }
  async addCandidate(c: { candidate: string; sdpMid: string; sdpMLineIndex: number }): Promise<void> {
    try { await this.pc.addIceCandidate(c as any); } catch { /* late candidate of a replaced negotiation */ }
  }
  onCandidate(cb: (c: { candidate: string; sdpMid: string; sdpMLineIndex: number }) => void): void {
    this.pc.onicecandidate = (ev: any) => {
      if (ev.candidate && ev.candidate.candidate) cb({ candidate: ev.candidate.candidate, sdpMid: ev.candidate.sdpMid ?? '0', sdpMLineIndex: ev.candidate.sdpMLineIndex ?? 0 });
    };
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pc.close();
  }
}

export class PresenterPeer extends Peer {
  private source = new wrtc.nonstandard.RTCVideoSource();
  private track = this.source.createTrack();
  private timer: NodeJS.Timeout;
  framesSent = 0;

  constructor(fps = 15) {
    super();
    this.pc.addTransceiver(this.track, { direction: 'sendonly' });
    const data = new Uint8Array(WIDTH * HEIGHT * 1.5);
    this.timer = setInterval(() => {
      // A moving gradient, so the encoder produces real frames.
      const t = this.framesSent++;
      for (let i = 0; i < WIDTH * HEIGHT; i++) data[i] = (i + t * 4) & 0xff;
      data.fill(128, WIDTH * HEIGHT);
      this.source.onFrame({ width: WIDTH, height: HEIGHT, data });
    }, Math.round(1000 / fps));
  }

  close(): void {
    clearInterval(this.timer);
    this.track.stop();
    super.close();
  }
}

export class ViewerPeer extends Peer {
  framesReceived = 0;
  firstFrameAt: number | null = null;
  private sinks: { stop(): void }[] = [];

  constructor() {
    super();
    this.pc.addTransceiver('video', { direction: 'recvonly' });
    this.pc.ontrack = (ev: any) => {
      const sink = new wrtc.nonstandard.RTCVideoSink(ev.track);
      this.sinks.push(sink);
      sink.onframe = () => {
        if (this.firstFrameAt === null) this.firstFrameAt = performance.now();
        this.framesReceived++;
      };
    };
  }

  async waitFrames(n: number, timeoutMs = 30000): Promise<void> {
    await waitFor(() => this.framesReceived >= n, timeoutMs, `${n} decoded frames (got ${this.framesReceived})`);
  }

  close(): void {
    for (const s of this.sinks) s.stop();
    super.close();
  }
}

/** Runs offer/answer/trickle for `peer` in busk `buskId` through `client`; resolves after the answer. */
export async function negotiate(client: StompTestClient, buskId: string, peer: Peer): Promise<{ inbox: Inbox; answerMs: number }> {
  const inbox = await client.subscribeSync(`/user/queue/busk.${buskId}`);
  const seen = new Set<unknown>();
  const applyIce = () => {
    for (const m of inbox.messages) {
      if (m.body?.type === 'ice' && !seen.has(m)) { seen.add(m); void peer.addCandidate(m.body.candidate); }
    }
  };
  peer.onCandidate((c) => client.send(`/app/busk.${buskId}.ice`, { candidate: c }));
  const answersBefore = inbox.ofType('answer').length;
  const sdp = await peer.offer();
  const t0 = performance.now();
  const res = await client.request(`/app/busk.${buskId}.offer`, { sdpOffer: sdp });
  if (res !== 'ok') throw new Error(`offer refused: ${res.code} ${res.message}`);
  const answer = await waitFor(() => inbox.ofType('answer')[answersBefore], 15000, 'answer');
  const answerMs = performance.now() - t0;
  await peer.answer(answer.body.sdpAnswer);
  applyIce();
  const timer = setInterval(() => { if (peer.closed) clearInterval(timer); else applyIce(); }, 20);
  timer.unref();
  return { inbox, answerMs };
}

/** Starts a busk as `client` and presents with a synthetic camera; resolves once the answer is in. */
export async function startBusk(client: StompTestClient, body: Record<string, unknown> = { title: 'Test busk' }): Promise<{ buskId: string; presenter: PresenterPeer; inbox: Inbox }> {
  const q = await client.subscribeSync('/user/queue/busk');
  const before = q.messages.length;
  const r = await client.request('/app/busk.start', body);
  if (r !== 'ok') throw new Error(`busk.start refused: ${r.code} ${r.message}`);
  const started = await waitFor(() => q.messages.slice(before).find((m) => m.body?.type === 'started'), 10000, 'started');
  const buskId = started.body.buskId as string;
  const presenter = new PresenterPeer();
  const { inbox } = await negotiate(client, buskId, presenter);
  return { buskId, presenter, inbox };
}

export async function watchBusk(client: StompTestClient, buskId: string): Promise<{ viewer: ViewerPeer; inbox: Inbox; answerMs: number }> {
  const viewer = new ViewerPeer();
  const { inbox, answerMs } = await negotiate(client, buskId, viewer);
  return { viewer, inbox, answerMs };
}
