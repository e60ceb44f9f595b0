// One busk's HLS: the recorder leg's frames muxed (not re-encoded) into fragmented MP4 by a
// MediaWriter with no file, each fragment (it starts at a video keyframe) one CMAF segment, kept in
// memory for the playlist's window, and the live media playlist over them. The presenter coming back
// with other codecs starts a new init segment behind an EXT-X-DISCONTINUITY; the end adds
// EXT-X-ENDLIST so players stop at the last segment instead of waiting for more.
//
// Why no LL-HLS parts: a part that does not start at a keyframe needs a fragmenter that cuts between
// keyframes, and the muxer cuts fragments only where every track starts with a keyframe. Segments of
// about a second (a keyframe asked for each) give most of LL-HLS's latency without it.
import { EventEmitter } from 'node:events';
import { record } from '../../../kurento/src';
import type { RecordedCodecs } from '../record/codecs';
import type { FrameSink } from '../record/leg';
import { fragmentSeconds, readInit, type InitInfo } from './fmp4';

export interface HlsStreamOptions {
  buskId: string;
  /** Shortest segment; a keyframe is asked for when one is this late. */
  segmentSeconds: number;
  /** Segments listed in the playlist (older ones stay fetchable for a few more). */
  windowSegments: number;
}

/** Where the frames come from: the recorder leg (its clock, its RTCP PLI). */
export interface FrameSource {
  /** Seconds since the source's first packet: maps segment times to wall-clock time. */
  seconds(): number;
  requestKeyframe(): void;
}

export interface Segment {
  seq: number;
  /** Which init segment (EXT-X-MAP) it needs. */
  init: number;
  data: Uint8Array;
  seconds: number;
  /** Wall-clock ms of its first frame (EXT-X-PROGRAM-DATE-TIME). */
  at: number;
  /** First segment after a new init segment. */
  discontinuity: boolean;
}

interface Init { n: number; data: Uint8Array; info: InitInfo }

export interface HlsStreamEvents {
  /** A segment was added, or the stream ended: blocked playlist requests look again. */
  changed: [];
}

/** Segments kept past the window for players that fetched the playlist just before it moved on. */
const KEEP_BEHIND = 3;

/** Whether a presenter's codecs go into HLS's fragmented MP4 as they are (what a browser's MSE plays). */
export function hlsCodecs(c: RecordedCodecs): { video?: 'h264'; audio?: 'opus' } | null {
  const video = c.video?.frame;
  const audio = c.audio?.frame === 'opus' ? 'opus' as const : undefined;
  if (video && video !== 'h264') return null; // VP8 in MP4 plays nowhere in MSE; WebM is not HLS
  if (!video && !audio) return null;
  return { video: video ? 'h264' : undefined, audio };
}

export class HlsStream extends EventEmitter implements FrameSink {
  private writer: record.MediaWriter | null = null;
  private readonly inits: Init[] = [];
  private readonly segments: Segment[] = [];
  private nextSeq = 0;
  /** Sequence numbers of the segments after a discontinuity (few: one per codec change). */
  private readonly breaks: number[] = [];
  /** Never lowered while the playlist lives (RFC 8216 4.3.3.1), raised if a keyframe came late. */
  private targetSeconds: number;
  ended = false;
  codecs: RecordedCodecs | null = null;
  /** The playlist as served, made once per change: the whole crowd asks for it every second. */
  private served: Buffer | null = null;
  private source: FrameSource | null = null;

  constructor(private readonly o: HlsStreamOptions) {
    super();
    this.setMaxListeners(0); // every blocked playlist request listens for a moment
    this.targetSeconds = Math.max(1, Math.round(o.segmentSeconds));
  }

  override on<E extends keyof HlsStreamEvents>(event: E, listener: (...args: HlsStreamEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); }

  /**
   * (Re)starts muxing for `codecs`; false when they cannot go into HLS without re-encoding. The old
   * writer's last segment is flushed first, so segments stay in order.
   */
  async use(source: FrameSource, codecs: RecordedCodecs): Promise<boolean> {
    const c = hlsCodecs(codecs);
    if (!c || this.ended) return false;
    this.source = source;
    const old = this.writer;
    this.writer = null;
    await old?.close().catch(() => undefined);
    if (this.ended) return false;
    this.codecs = codecs;
    let init: Init | null = null;
    const writer = new record.MediaWriter({
      container: 'mp4', video: c.video, audio: c.audio, fragmentSeconds: this.o.segmentSeconds,
      keyframeSeconds: this.o.segmentSeconds, onKeyframeWanted: () => this.source?.requestKeyframe(),
      fragments: {
        header: (data) => { init = { n: this.inits.length, data, info: readInit(data) }; this.inits.push(init); },
        fragment: (data, startS) => { if (init) this.add(init, data, startS); },
      },
    });
    writer.on('error', () => undefined); // a broken mux loses segments, never the busk
    this.writer = writer;
    return true;
  }

  write(frame: record.EncodedFrame): void { this.writer?.write(frame); }

  private add(init: Init, data: Uint8Array, startS: number): void {
    if (this.ended) return;
    const seconds = fragmentSeconds(data, init.info);
    if (seconds <= 0) return;
    const at = Date.now() - ((this.source?.seconds() ?? startS) - startS) * 1000;
    const prev = this.segments[this.segments.length - 1];
    // A new init segment (new codecs) after earlier segments: players must reset their decoder.
    const discontinuity = !!prev && prev.init !== init.n;
    if (discontinuity) this.breaks.push(this.nextSeq);
    this.segments.push({ seq: this.nextSeq++, init: init.n, data, seconds, at: Math.round(at), discontinuity });
    this.targetSeconds = Math.max(this.targetSeconds, Math.round(seconds));
    while (this.segments.length > this.o.windowSegments + KEEP_BEHIND) this.segments.shift();
    this.served = null;
    this.emit('changed');
  }

  /** The newest segment's sequence number, or -1 before the first. */
  get lastSeq(): number { return this.nextSeq - 1; }

  segment(seq: number): Segment | undefined {
    const first = this.segments[0];
    return first ? this.segments[seq - first.seq] : undefined;
  }

  init(n: number): Uint8Array | undefined { return this.inits[n]?.data; }

  /** The media playlist (RFC 8216): the last `windowSegments` segments, ENDLIST once ended. */
  private playlist(): string {
    const listed = this.segments.slice(-this.o.windowSegments);
    const first = listed[0];
    const target = this.targetSeconds;
    const lines = [
      '#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`,
      // Three target durations from the live edge: the least RFC 8216 allows, so players start close.
      `#EXT-X-SERVER-CONTROL:HOLD-BACK=${(3 * target).toFixed(1)}`,
      '#EXT-X-INDEPENDENT-SEGMENTS',
      `#EXT-X-MEDIA-SEQUENCE:${first?.seq ?? 0}`,
      `#EXT-X-DISCONTINUITY-SEQUENCE:${first ? this.breaks.filter((seq) => seq < first.seq).length : 0}`,
    ];
    let map = -1;
    for (const s of listed) {
      if (s.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
      if (s.init !== map) { lines.push(`#EXT-X-MAP:URI="init-${s.init}.mp4"`); map = s.init; }
      lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(s.at).toISOString()}`, `#EXTINF:${s.seconds.toFixed(3)},`, `${s.seq}.m4s`);
    }
    if (this.ended) lines.push('#EXT-X-ENDLIST');
    return lines.join('\n') + '\n';
  }

  /** playlist() as bytes, made again only when a segment came or the stream ended. */
  playlistBytes(): Buffer {
    return (this.served ??= Buffer.from(this.playlist()));
  }

  /** Flushes the last segment and marks the playlist ended. */
  async end(): Promise<void> {
    const w = this.writer;
    this.writer = null;
    await w?.close().catch(() => undefined);
    this.ended = true;
    this.served = null;
    this.emit('changed');
  }
}
