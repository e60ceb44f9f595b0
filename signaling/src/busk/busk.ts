// The runtime of one busk on the node that holds its presenter: the record, the pipeline, the
// presenter's leg, the grace timer and the media health derived from the presenter endpoint's flow
// events. Everything other nodes need (ids, media state, viewers) is mirrored in State. A busk
// started with `record: true` or with the crowd tier on also owns its recorder leg and what it feeds:
// the Recording, the HLS stream.
import type { Endpoint, Pipeline } from '../media';
import type { BuskRecord, MediaState } from '../state';
import { log } from '../log';
import type { BuskContext, PeerChannel } from './context';
import { Leg } from './leg';
import { negotiate } from './negotiate';
import { negotiatedCodecs, RecorderLeg, Recording, sameCodecs, type RecordedCodecs } from '../record';

export class Presenter extends Leg {}

export class Busk {
  pipeline: Pipeline | null = null;
  presenter: Presenter | null = null;
  ended = false;
  /** The media server lost our objects: viewers must reoffer once the presenter has a new endpoint. */
  private needsViewerReoffer = false;
  private graceTimer: NodeJS.Timeout | null = null;
  private flow: { audio?: boolean; video?: boolean } = {};
  recorder: RecorderLeg | null = null;
  recording: Recording | null = null;
  /** Recorder steps run one after another, off the presenter's path (a recorder never fails a busk). */
  private recorderChain: Promise<void> = Promise.resolve();

  constructor(public rec: BuskRecord, private readonly ctx: BuskContext) {}

  get id(): string { return this.rec.id; }

  /** Changes the record here and in State. */
  async update(patch: Partial<BuskRecord>): Promise<void> {
    Object.assign(this.rec, patch);
    await this.ctx.o.state.updateBusk(this.id, patch);
  }

  async setMedia(state: MediaState): Promise<void> {
    if (this.rec.media === state || this.ended) return;
    await this.update({ media: state });
    this.ctx.publish(`/topic/busk.${this.id}`, { type: 'media', state });
    await this.ctx.publishUpdated(this.rec);
  }

  /** Presenter media in: flowing when any kind flows; stalled when all that flowed stopped. */
  private onFlow(kind: 'audio' | 'video', flowing: boolean): void {
    this.flow[kind] = flowing;
    this.setMedia(Object.values(this.flow).some(Boolean) ? 'flowing' : 'stalled').catch(() => {});
  }

  /** The presenter's media stopped (connection or media server lost): stalled until it flows again. */
  async stall(): Promise<void> {
    this.flow = {};
    await this.setMedia('stalled');
  }

  /**
   * A presenter offer from `peer`: the first one, a renegotiation, or the presenter back on a new
   * session after a drop (a new leg replaces the old). Viewers already connected take media from
   * the new endpoint.
   */
  async present(peer: PeerChannel, sdp: string): Promise<void> {
    let presenter = this.presenter;
    if (!presenter || presenter.sessionId !== peer.sessionId || presenter.closed) {
      if (presenter) await presenter.close();
      presenter = new Presenter(peer.sessionId, this.id, this.ctx.early);
      this.presenter = presenter;
      this.clearGrace();
      if (this.rec.presenterSession !== peer.sessionId) await this.update({ presenterSession: peer.sessionId });
    }
    if (!this.pipeline || this.pipeline.isReleased) {
      this.pipeline = await this.ctx.o.media.createPipeline();
      await this.update({ kmsUrl: this.pipeline.server.url, pipelineId: this.pipeline.id });
    }
    const { endpoint, previous, answer } = await negotiate(presenter, {
      pipeline: this.pipeline, sdp, peer,
      video: { direction: 'recv', kbps: this.ctx.o.config.videoMaxKbps },
      // Flow state restarts with the new endpoint, before it can report anything.
      prepare: async () => { this.flow = {}; },
      onFlow: (kind, flowing) => this.onFlow(kind, flowing),
      stillWanted: () => !this.ended,
      undo: async () => {
        // A first offer that failed leaves no empty pipeline behind.
        if (!this.pipeline || this.rec.presenterEndpointId || this.ended) return;
        const p = this.pipeline;
        this.pipeline = null;
        await p.release();
        await this.update({ kmsUrl: null, pipelineId: null });
      },
    });
    await this.connectViewers(endpoint);
    if (previous) await previous.release();
    await this.update({ presenterEndpointId: endpoint.id });
    // The answer tells which codecs the presenter sends: the recorder leg asks for exactly those.
    if (this.rec.recording || this.rec.hls) this.feedFrom(endpoint, answer);
    if (this.needsViewerReoffer) {
      this.needsViewerReoffer = false;
      this.ctx.o.bus.control({ type: 'reoffer-viewers', buskId: this.id });
    }
  }

  /** Every viewer leg in State, on any node, takes media from `source` (reached by id when remote). */
  private async connectViewers(source: Endpoint): Promise<void> {
    const entries = await this.ctx.o.state.viewers(this.id);
    await Promise.all(Object.values(entries).map(async (v) => {
      if (!v.endpointId) return;
      try {
        const sink = this.pipeline?.endpoint(v.endpointId) ?? (this.pipeline ? await this.pipeline.endpointById(v.endpointId) : null);
        if (sink && !sink.isReleased) await source.connect(sink);
      } catch { /* that viewer's endpoint is gone; it will leave or reoffer */ }
    }));
  }

  /**
   * Feeds the recorder leg from the presenter's (new) endpoint: the first time, the leg and its
   * sinks (the Recording when the show is recorded, the HLS stream when the crowd tier is on);
   * after a reconnect or a rebuilt pipeline, the same leg joins again and the same file and playlist
   * go on. A presenter back with other codecs starts a new leg: a new file (a container holds one
   * codec per track) and a new init segment in the same playlist.
   */
  private feedFrom(source: Endpoint, answer: string): void {
    const cfg = this.ctx.o.recorder;
    if (!cfg) return;
    this.recorderChain = this.recorderChain.then(async () => {
      const pipeline = this.pipeline;
      if (this.ended || !pipeline || source.isReleased) return;
      const codecs = negotiatedCodecs(answer);
      if (this.recorder && !sameCodecs(this.recorder.codecs, codecs)) await this.stopRecorder();
      if (!this.recorder) {
        const leg = new RecorderLeg(this.id, codecs, this.ctx.early, { bindAddress: cfg.bindAddress, portRange: cfg.portRange, iceServers: cfg.iceServers });
        this.recorder = leg;
        if (this.rec.recording) await this.startRecording(leg, codecs);
        if (this.rec.hls) await this.startHls(leg, codecs);
        if (!this.recording && !this.rec.hls) { await this.stopRecorder(); return; }
      }
      await this.recorder.join(pipeline, source);
    }).catch((e) => log.warn('record', `recorder leg of ${this.id}: ${(e as Error).message}`));
  }

  private async startRecording(leg: RecorderLeg, codecs: RecordedCodecs): Promise<void> {
    const cfg = this.ctx.o.recorder!;
    try {
      await cfg.ready;
      const r = await Recording.start({ recordings: cfg.recordings, dir: cfg.dir, nodeId: this.ctx.nodeId, busk: this.rec, codecs, leg });
      this.recording = r;
      r.on('close', () => { if (this.recording === r) this.recording = null; });
    } catch (e) {
      log.warn('record', `recording ${this.id}: ${(e as Error).message}`);
      // Without a file there is nothing to record into: the badge goes, viewers are told.
      if (!this.ended) await this.withdraw({ recording: false });
    }
  }

  /** The crowd tier from this leg; a presenter whose codecs HLS cannot carry as they are has none. */
  private async startHls(leg: RecorderLeg, codecs: RecordedCodecs): Promise<void> {
    const hls = this.ctx.o.hls;
    const stream = hls?.open(this.id);
    if (stream && await stream.use(leg, codecs)) {
      leg.addSink(stream);
      return;
    }
    log.info('hls', `busk ${this.id} has no crowd tier: its video is ${codecs.video?.frame ?? 'absent'}, HLS needs H.264 (or audio only)`);
    if (!this.ended) await this.withdraw({ hls: null });
    if (hls) await hls.end(this.id);
  }

  /** Takes a promise back from the busk's record (recording, crowd tier) and tells everyone. */
  private async withdraw(patch: Partial<BuskRecord>): Promise<void> {
    await this.update(patch).catch(() => undefined);
    await this.ctx.publishUpdated(this.rec).catch(() => undefined);
  }

  /** Waits for the recorder's pending steps (tests, and the end of the busk). */
  recorderSettled(): Promise<void> { return this.recorderChain; }

  /** Stops the recorder leg and completes the file and its row (the HLS stream waits for a new leg). */
  private async stopRecorder(): Promise<void> {
    const leg = this.recorder;
    const r = this.recording;
    this.recorder = null;
    this.recording = null;
    await leg?.close();
    await r?.end();
  }

  /** The leg, the file and the playlist (ENDLIST) all end. */
  private async stopFeeds(): Promise<void> {
    await this.stopRecorder();
    await this.ctx.o.hls?.end(this.id);
  }

  /** The presenter's connection dropped: keep the busk (and its viewers) for `graceMs`, then `expire`. */
  async startGrace(reason: string, graceMs: number, expire: () => Promise<void>): Promise<void> {
    log.info('busk', `presenter of ${this.id} dropped (${reason}); grace ${graceMs} ms`);
    const p = this.presenter;
    this.presenter = null;
    if (p) await p.close(); // its endpoint is useless without the peer; a new offer makes a new one
    await this.update({ presenterSession: null, presenterEndpointId: null });
    await this.stall();
    this.clearGrace();
    this.graceTimer = setTimeout(() => {
      this.graceTimer = null;
      if (this.rec.presenterSession === null) expire().catch((e) => log.error('busk', 'end failed', e));
    }, graceMs);
    this.graceTimer.unref?.();
  }

  clearGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }

  /** Ends the runtime: the pipeline's release takes every endpoint in it (viewers' on any node too). */
  async end(): Promise<void> {
    this.ended = true;
    this.clearGrace();
    this.presenter?.forget();
    const pipeline = this.pipeline;
    this.pipeline = null;
    await Promise.all([
      pipeline?.release(),
      this.recorderChain.then(() => this.stopFeeds()),
    ]);
  }

  /** Another node adopted this busk: stop here without touching its media. */
  handOver(): void {
    this.ended = true;
    this.clearGrace();
    this.presenter?.forget();
    this.pipeline?.handOver();
    this.pipeline = null;
    // The file so far is complete here; the node that adopted the busk records on in a new one,
    // and serves the playlist from there.
    void this.recorderChain.then(() => this.stopRecorder());
    this.ctx.o.hls?.drop(this.id);
  }

  /** The media server lost the pipeline (INVALID_SESSION): rebuild on the presenter's next offer. */
  async mediaLost(): Promise<void> {
    this.pipeline = null;
    this.presenter?.detachEndpoint();
    this.recorder?.mediaLost();
    this.needsViewerReoffer = true;
    this.flow = {};
    await this.update({ pipelineId: null, kmsUrl: null, presenterEndpointId: null });
    await this.setMedia('connecting');
  }

  /** Stops timers and the recorder's peer only (a halted node: the file stays as a crash leaves it). */
  halt(): void {
    this.clearGrace();
    this.recorder?.halt();
    this.ctx.o.hls?.drop(this.id);
  }
}
