// The recorder leg: one more participant in a busk's pipeline, like a viewer (the way LiveKit's
// egress joins a room), but its peer is in this process (ReceiverPeer). It is connected from the
// presenter's endpoint, receives the presenter's RTP unchanged, turns it into encoded frames on one
// clock (RtpFrames, from the engine's record module) and hands them to its sinks: the busk's
// Recording today, an HLS packager later. It is not a viewer: it is in no viewer list and no count.
//
// It outlives presenter reconnects: a presenter back within the grace period gets a new endpoint,
// which is connected to this leg's endpoint; the new SSRC starts a new run of frames at the present
// moment of the clock, so the sinks continue the same file. When the media server lost the pipeline,
// join() negotiates a new endpoint (and a new peer) in the new one.
import type { Endpoint, Pipeline } from '../media';
import { record } from '../../../kurento/src';
import type { PeerChannel } from '../busk/context';
import { Leg, type EarlyCandidates } from '../busk/leg';
import { negotiate } from '../busk/negotiate';
import { log } from '../log';
import type { RecordedCodecs } from './codecs';
import { ReceiverPeer, type ReceiverPeerOptions } from './peer';

/** What a recorder leg feeds: the Recording's file, an HLS packager. */
export interface FrameSink {
  /** One encoded frame; timestamps are seconds on the leg's clock (0 = its first packet). */
  write(frame: record.EncodedFrame): void;
}

/** How often a leg whose video waits for a keyframe asks again. */
const KEYFRAME_ASK_MS = 1000;

export class RecorderLeg extends Leg {
  private peer: ReceiverPeer | null = null;
  private pipeline: Pipeline | null = null;
  private readonly sinks = new Set<FrameSink>();
  private readonly frames: record.RtpFrames;
  /** Wall-clock ms of the first packet: the leg's clock starts there. */
  private origin: number | null = null;
  /** False from a (re)join until the first video keyframe: ask the presenter for one. */
  private videoKeyed = false;
  private lastAsk = 0;
  private seq = 0;

  constructor(buskId: string, readonly codecs: RecordedCodecs, early: EarlyCandidates, private readonly peerOptions: Omit<ReceiverPeerOptions, 'codecs'>) {
    super(`recorder:${buskId}`, buskId, early);
    this.frames = new record.RtpFrames({
      clock: () => this.seconds(),
      onFrame: (f) => {
        if (f.kind === 'video' && f.keyframe) this.videoKeyed = true;
        for (const s of this.sinks) s.write(f);
      },
      onLoss: (kind) => { if (kind === 'video') this.requestKeyframe(); },
    });
  }

  /** Seconds on the leg's clock. */
  seconds(): number {
    return this.origin === null ? 0 : (Date.now() - this.origin) / 1000;
  }

  addSink(sink: FrameSink): void {
    this.sinks.add(sink);
    this.videoKeyed = false; // a new sink starts at a keyframe
    this.requestKeyframe();
  }

  removeSink(sink: FrameSink): void { this.sinks.delete(sink); }

  requestKeyframe(): void {
    this.lastAsk = Date.now();
    this.peer?.requestKeyframe();
  }

  /**
   * Takes media from `source` in `pipeline`: connects it to this leg's endpoint when that is still
   * alive there (a presenter that came back), else negotiates a new endpoint with a new peer.
   */
  async join(pipeline: Pipeline, source: Endpoint): Promise<void> {
    if (this.closed) return;
    this.videoKeyed = false;
    const ep = this.endpoint;
    if (ep && !ep.isReleased && this.pipeline === pipeline && !pipeline.isReleased && this.peer && !this.peer.closed) {
      await source.connect(ep);
      this.requestKeyframe();
      return;
    }
    const old = this.peer;
    this.peer = null;
    if (old) await old.close();
    const peer = new ReceiverPeer({ ...this.peerOptions, codecs: this.codecs });
    this.peer = peer;
    peer.on('rtp', (kind, codec, rtp) => this.onRtp(kind, codec.frame, rtp));
    peer.on('candidate', (c) => this.addCandidate(c));
    peer.on('failed', () => { if (this.peer === peer) log.warn('record', `recorder peer of ${this.buskId} failed`); });
    const channel: PeerChannel = {
      sessionId: `${this.sessionId}:${++this.seq}`,
      userId: 'recorder',
      // The leg's peer lives in this process: open until the leg closes or replaces it.
      isOpen: () => !this.closed && this.peer === peer,
      send: (msg) => {
        if (msg.type === 'answer') peer.answer(msg.sdpAnswer).catch((e) => log.warn('record', `recorder answer of ${this.buskId}`, e));
        else if (msg.type === 'ice') peer.addCandidate(msg.candidate).catch(() => undefined);
      },
    };
    const sdp = await peer.offer();
    const { previous } = await negotiate(this, { pipeline, sdp, peer: channel, prepare: (e) => source.connect(e) });
    this.pipeline = pipeline;
    if (previous && !previous.isReleased) previous.release().catch(() => undefined);
  }

  private onRtp(kind: 'audio' | 'video', codec: record.FrameCodec, rtp: { payload: Buffer; header: { marker: boolean; timestamp: number; sequenceNumber: number; ssrc: number } }): void {
    if (this.closed) return;
    this.origin ??= Date.now();
    const h = rtp.header;
    this.frames.push(kind, codec, { payload: rtp.payload, marker: h.marker, timestamp: h.timestamp, sequenceNumber: h.sequenceNumber, ssrc: h.ssrc });
    if (kind === 'video' && !this.videoKeyed && Date.now() - this.lastAsk >= KEYFRAME_ASK_MS) this.requestKeyframe();
  }

  /** The media server lost the pipeline: the endpoint is gone; the next join() negotiates anew. */
  mediaLost(): void {
    this.detachEndpoint();
    this.pipeline = null;
  }

  /** Stops receiving without a media server call (a halted node: as if the process had died). */
  halt(): void {
    this.forget();
    void this.peer?.close();
    this.peer = null;
  }

  /** Releases the endpoint (unless the pipeline's release takes it) and closes the peer. */
  override async close(): Promise<void> {
    const peer = this.peer;
    this.peer = null;
    this.sinks.clear();
    await Promise.all([super.close().catch(() => undefined), peer?.close()]);
  }
}
