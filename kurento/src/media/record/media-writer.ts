// Encoded frames → a WebM (VP8 + Opus) or fragmented MP4 (H.264 + Opus) file, without re-encoding
// (mediabunny muxes). Written as it goes in keyframe-aligned fragments (MP4 moof+mdat, WebM
// clusters), each handed to the file as soon as it is complete, so a crash loses only the last one.
// The MP4's moov is written first and never patched. WebM's Segment size is patched in at the end, so
// a crash leaves a Segment that ends after its header and hides every cluster from players, unless
// it is written `appendOnly` (sizes "unknown", no Cues, no Duration: a live WebM stream).
// One entry point: `new MediaWriter(options)`, `write(frame)`, `close()`.
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import {
  EncodedAudioPacketSource, EncodedPacket, EncodedVideoPacketSource, Mp4OutputFormat, Output, StreamTarget, WebMOutputFormat,
  type StreamTargetChunk,
} from 'mediabunny';
import { findSps, parseSps } from './h264-sps';
import { RecordError, type EncodedFrame, type FrameCodec } from './types';

export type Container = 'webm' | 'mp4';

export interface MediaWriterOptions {
  /** The file; omitted, nothing is written but the `fragments` (a live packager's writer). */
  path?: string;
  container: Container;
  /** The video track's codec; omit for an audio-only file. */
  video?: 'vp8' | 'h264';
  /** The audio track's codec; omit for a video-only file. */
  audio?: 'opus';
  /** Shortest fragment (MP4) or cluster (WebM) in seconds; fragments start at keyframes (default 1). */
  fragmentSeconds?: number;
  /**
   * Called when video went `keyframeSeconds` without a keyframe (default 2): a fragment can only end
   * at one, and WebRTC senders make keyframes only when asked, so ask the sender (RTCP PLI).
   */
  onKeyframeWanted?: () => void;
  keyframeSeconds?: number;
  /**
   * WebM only: write append-only, so that the file is playable at every moment (a crash loses only
   * the cluster being written), at the price of no Duration and no Cues (remux to add them).
   */
  appendOnly?: boolean;
  /** Also hands every finished piece of the file to this sink (see FragmentSink). */
  fragments?: FragmentSink;
}

/**
 * The file as it is written, in playable pieces: what an HLS packager (or any live consumer) takes
 * from a MediaWriter instead of re-muxing. MP4: `header` is ftyp+moov (an HLS/CMAF init segment),
 * each `fragment` one moof+mdat (a CMAF chunk: an LL-HLS part; fragments that start with a video
 * keyframe can start a segment). WebM: the EBML and Segment header, then each Cluster.
 */
export interface FragmentSink {
  header(data: Uint8Array): void;
  /** `startS`: the fragment's first timestamp, seconds from the recording's start. */
  fragment(data: Uint8Array, startS: number): void;
}

/** Which codecs each container holds as they come from WebRTC (nothing is re-encoded). */
const HOLDS: Record<Container, readonly FrameCodec[]> = { webm: ['vp8', 'opus'], mp4: ['h264', 'opus', 'vp8'] };

export interface MediaWriterEvents {
  error: [RecordError];
}

type Pending = { frame: EncodedFrame; meta: boolean };

export class MediaWriter extends EventEmitter {
  static holds(container: Container, codec: FrameCodec): boolean {
    return HOLDS[container].includes(codec);
  }

  private readonly output: Output;
  private readonly videoSource: EncodedVideoPacketSource | null = null;
  private readonly audioSource: EncodedAudioPacketSource | null = null;
  private readonly fd: number | null;
  private chain: Promise<void>;
  /** Each track's last frame waits for the next one, which gives it its duration. */
  private readonly held: Partial<Record<'audio' | 'video', Pending>> = {};
  private readonly last: Record<'audio' | 'video', number> = { audio: 0, video: 0 };
  private videoStarted = false;
  private readonly started: Record<'audio' | 'video', boolean> = { audio: false, video: false };
  private closed = false;
  private failed: RecordError | null = null;
  private maxTimestamp = 0;

  constructor(readonly options: MediaWriterOptions) {
    super();
    for (const c of [options.video, options.audio]) {
      if (c && !MediaWriter.holds(options.container, c)) throw new RecordError(`${options.container.toUpperCase()} cannot hold ${c} without re-encoding`, 'UNSUPPORTED_CODEC');
    }
    if (!options.video && !options.audio) throw new RecordError('A recording needs at least one track', 'UNSUPPORTED_CODEC');
    this.fd = options.path === undefined ? null : fs.openSync(options.path, 'w');
    const fd = this.fd;
    const target = new StreamTarget(new WritableStream<StreamTargetChunk>({
      // Synchronous positional writes: when mediabunny hands over a fragment it is in the file.
      write: (chunk) => { if (fd !== null) fs.writeSync(fd, chunk.data, 0, chunk.data.length, chunk.position); },
    }));
    const fragment = options.fragmentSeconds ?? 1;
    const format = options.container === 'mp4'
      ? new Mp4OutputFormat({ fastStart: 'fragmented', minimumFragmentDuration: fragment, ...mp4Pieces(options.fragments) })
      : new WebMOutputFormat({ minimumClusterDuration: fragment, appendOnly: !!options.appendOnly, ...webmPieces(options.fragments) });
    this.output = new Output({ format, target });
    if (options.video) {
      this.videoSource = new EncodedVideoPacketSource(options.video === 'h264' ? 'avc' : 'vp8');
      this.output.addVideoTrack(this.videoSource);
    }
    if (options.audio) {
      this.audioSource = new EncodedAudioPacketSource('opus');
      this.output.addAudioTrack(this.audioSource);
    }
    this.chain = this.output.start().catch((e) => this.fail(e));
  }

  override on<E extends keyof MediaWriterEvents>(event: E, listener: (...args: MediaWriterEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); }

  /** Seconds of media written (the latest frame's timestamp). */
  get duration(): number {
    return this.maxTimestamp;
  }

  /** Queues one frame. Video before the first keyframe is dropped (a file must start decodable). */
  write(frame: EncodedFrame): void {
    if (this.closed || this.failed) return;
    const kind = frame.kind;
    if (kind === 'video' ? !this.videoSource || frame.codec !== this.options.video : !this.audioSource) return;
    if (kind === 'video') {
      if (!this.videoStarted && !frame.keyframe) return;
      this.videoStarted = true;
      this.watchKeyframes(frame);
    }
    // Containers need non-decreasing times per track.
    const t = Math.max(frame.timestamp, this.last[kind]);
    this.last[kind] = t;
    this.maxTimestamp = Math.max(this.maxTimestamp, t);
    // The first frame of each track carries the decoder configuration.
    const meta = !this.started[kind];
    this.started[kind] = true;
    const prev = this.held[kind];
    this.held[kind] = { frame: { ...frame, timestamp: t }, meta };
    if (prev) this.enqueue(prev, t - prev.frame.timestamp);
  }

  private lastKeyframeAt = 0;
  private lastAskedAt = -Infinity;

  private watchKeyframes(frame: EncodedFrame): void {
    if (frame.keyframe) { this.lastKeyframeAt = frame.timestamp; return; }
    const every = this.options.keyframeSeconds ?? 2;
    // Ask again at most once a second while the keyframe is late.
    if (frame.timestamp - this.lastKeyframeAt >= every && frame.timestamp - this.lastAskedAt >= 1) {
      this.lastAskedAt = frame.timestamp;
      try { this.options.onKeyframeWanted?.(); } catch { /* the sender is gone */ }
    }
  }

  private enqueue(p: Pending, duration: number): void {
    this.chain = this.chain.then(() => this.add(p, duration)).catch((e) => this.fail(e));
  }

  private async add({ frame, meta }: Pending, duration: number): Promise<void> {
    if (this.failed) return;
    const packet = new EncodedPacket(frame.data, frame.keyframe ? 'key' : 'delta', frame.timestamp, Math.max(0, duration));
    if (frame.kind === 'audio') {
      await this.audioSource!.add(packet, meta ? { decoderConfig: { codec: 'opus', numberOfChannels: 2, sampleRate: 48000 } } : undefined);
      return;
    }
    if (!meta) { await this.videoSource!.add(packet); return; }
    const size = frame.codec === 'vp8' ? vp8Size(frame.data) : h264Config(frame.data);
    if (!size) throw new RecordError(`The first ${frame.codec} keyframe carries no picture size`, 'UNSUPPORTED_CODEC');
    await this.videoSource!.add(packet, {
      decoderConfig: { codec: size.codec ?? 'vp8', codedWidth: size.width, codedHeight: size.height },
    });
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = e instanceof RecordError ? e : new RecordError(`Cannot write ${this.options.path ?? 'the stream'}: ${e instanceof Error ? e.message : String(e)}`, 'WRITE_FAILED');
    if (this.listenerCount('error')) this.emit('error', this.failed);
  }

  /** Writes what is held, finishes the file (durations, index) and closes it. Idempotent. */
  private closing: Promise<void> | null = null;
  close(): Promise<void> {
    this.closing ??= this.finish();
    return this.closing;
  }

  private async finish(): Promise<void> {
    this.closed = true;
    for (const kind of ['video', 'audio'] as const) {
      const p = this.held[kind];
      if (p) this.enqueue(p, kind === 'audio' ? 0.02 : 1 / 30);
      delete this.held[kind];
    }
    await this.chain;
    try {
      if (!this.failed && (this.started.video || this.started.audio)) await this.output.finalize();
      else await this.output.cancel();
    } catch (e) {
      this.fail(e);
    } finally {
      if (this.fd !== null) fs.closeSync(this.fd);
    }
    if (this.failed) throw this.failed;
  }
}

/** A sink's calls are its own business: a failing consumer must not fail the recording. */
function safe<A extends unknown[]>(fn: (...a: A) => void): (...a: A) => void {
  return (...a) => { try { fn(...a); } catch { /* the consumer's problem */ } };
}

/** mediabunny's MP4 callbacks → FragmentSink: ftyp+moov is the header; moof, then its mdat, one fragment. */
function mp4Pieces(sink: FragmentSink | undefined) {
  if (!sink) return {};
  let ftyp: Uint8Array | null = null;
  let moof: { data: Uint8Array; at: number } | null = null;
  return {
    onFtyp: (d: Uint8Array) => { ftyp = d.slice(); },
    onMoov: safe((d: Uint8Array) => { sink.header(ftyp ? concat2(ftyp, d) : d.slice()); ftyp = null; }),
    onMoof: (d: Uint8Array, _p: number, at: number) => { moof = { data: d.slice(), at }; },
    onMdat: safe((d: Uint8Array) => {
      if (!moof) return;
      const m = moof;
      moof = null;
      sink.fragment(concat2(m.data, d), m.at);
    }),
  };
}

function webmPieces(sink: FragmentSink | undefined) {
  if (!sink) return {};
  let ebml: Uint8Array | null = null;
  return {
    onEbmlHeader: (d: Uint8Array) => { ebml = d.slice(); },
    onSegmentHeader: safe((d: Uint8Array) => { sink.header(ebml ? concat2(ebml, d) : d.slice()); ebml = null; }),
    onCluster: safe((d: Uint8Array, _p: number, at: number) => sink.fragment(d.slice(), at)),
  };
}

function concat2(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Picture size from a VP8 key frame header (RFC 6386 9.1). */
function vp8Size(d: Uint8Array): { codec?: string; width: number; height: number } | null {
  if (d.length < 10 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) return null;
  return { width: (d[6]! | (d[7]! << 8)) & 0x3fff, height: (d[8]! | (d[9]! << 8)) & 0x3fff };
}

function h264Config(d: Uint8Array): { codec: string; width: number; height: number } | null {
  const sps = findSps(d);
  return sps ? parseSps(sps) : null;
}
