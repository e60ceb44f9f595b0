// A WebM or MP4 file read for playing (mediabunny demuxes): its audio and video tracks in the codecs
// the engine forwards (VP8, H.264, Opus), its duration, and its frames in presentation order from a
// position, read as they are needed rather than all at once (a long recording stays on disk, or on
// its web server: an http(s) URL is read with range requests, as KMS's PlayerEndpoint plays one).
import fs from 'node:fs';
import { ALL_FORMATS, EncodedPacketSink, FilePathSource, Input, UrlSource, type EncodedPacket, type Source } from 'mediabunny';
import type { FrameCodec } from '../record';
import type { MediaKind } from '../types';
import { parseAvcC, type H264Parameters } from './packetize';

export class PlayerError extends Error {
  constructor(message: string, readonly code: 'NOT_FOUND' | 'UNREADABLE' | 'UNSUPPORTED_CODEC') {
    super(message);
    this.name = 'PlayerError';
  }
}

export interface FileTrack { kind: MediaKind; codec: FrameCodec; h264?: H264Parameters; sink: EncodedPacketSink }

/** One frame of the file: `timestamp` in seconds of the file's timeline. */
export interface FileFrame { kind: MediaKind; codec: FrameCodec; data: Uint8Array; timestamp: number; keyframe: boolean }

const CODECS: Record<string, FrameCodec> = { vp8: 'vp8', avc: 'h264', opus: 'opus' };

export class MediaFile {
  private constructor(private readonly input: Input, readonly tracks: Partial<Record<MediaKind, FileTrack>>, readonly durationSec: number) {}

  /**
   * Opens `path` (a file path, or an http(s) URL); PlayerError when it is missing, not a container
   * mediabunny reads, or has no track in a codec the engine forwards.
   */
  static async open(path: string): Promise<MediaFile> {
    const input = new Input({ source: isUrl(path) ? await urlSource(path) : await fileSource(path), formats: ALL_FORMATS });
    return MediaFile.read(input, path);
  }

  private static async read(input: Input, path: string): Promise<MediaFile> {
    try {
      const tracks: Partial<Record<MediaKind, FileTrack>> = {};
      const skipped: string[] = [];
      const video = await input.getPrimaryVideoTrack();
      const audio = await input.getPrimaryAudioTrack();
      for (const [kind, track] of [['video', video], ['audio', audio]] as const) {
        if (!track) continue;
        const codec = CODECS[track.codec ?? ''];
        if (!codec) { skipped.push(`${kind} ${track.codec ?? 'unknown'}`); continue; }
        const t: FileTrack = { kind, codec, sink: new EncodedPacketSink(track) };
        if (codec === 'h264') {
          const config = await track.getDecoderConfig();
          const d = config?.description;
          if (d) t.h264 = parseAvcC(d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
        }
        tracks[kind] = t;
      }
      if (!tracks.audio && !tracks.video) {
        throw new PlayerError(`${path} has no track the engine can play without re-encoding (VP8, H.264 or Opus)${skipped.length ? `; it has ${skipped.join(', ')}` : ''}`, 'UNSUPPORTED_CODEC');
      }
      const durationSec = await input.computeDuration();
      return new MediaFile(input, tracks, Number.isFinite(durationSec) ? durationSec : 0);
    } catch (e) {
      input.dispose();
      if (e instanceof PlayerError) throw e;
      throw new PlayerError(`Cannot play ${path}: ${(e as Error)?.message ?? String(e)}`, 'UNREADABLE');
    }
  }

  /**
   * Where playing from `seconds` starts: the video keyframe at or before it (a decoder starts
   * there), or `seconds` itself for a file without video.
   */
  async startAt(seconds: number): Promise<number> {
    const v = this.tracks.video;
    if (!v) return Math.max(0, seconds);
    const key = await v.sink.getKeyPacket(seconds) ?? await v.sink.getFirstPacket();
    return key ? key.timestamp : 0;
  }

  /** The frames from `start` (a startAt() answer) in presentation order, audio and video interleaved. */
  async *frames(start: number): AsyncGenerator<FileFrame> {
    const streams: { track: FileTrack; it: AsyncGenerator<EncodedPacket>; head: EncodedPacket | null }[] = [];
    for (const track of [this.tracks.video, this.tracks.audio]) {
      if (!track) continue;
      const first = track.kind === 'video'
        ? await track.sink.getKeyPacket(start) ?? await track.sink.getFirstPacket()
        : await track.sink.getPacket(start) ?? await track.sink.getFirstPacket();
      if (!first) continue;
      const it = track.sink.packets(first);
      const next = await it.next();
      streams.push({ track, it, head: next.done ? null : next.value });
    }
    try {
      for (;;) {
        let s: typeof streams[number] | undefined;
        for (const x of streams) if (x.head && (!s || x.head.timestamp < s.head!.timestamp)) s = x;
        if (!s) return;
        const p = s.head!;
        const next = await s.it.next();
        s.head = next.done ? null : next.value;
        yield { kind: s.track.kind, codec: s.track.codec, data: p.data, timestamp: p.timestamp, keyframe: p.type === 'key' };
      }
    } finally {
      for (const x of streams) await x.it.return(undefined);
    }
  }

  close(): void {
    this.input.dispose();
  }
}

const isUrl = (location: string) => /^https?:\/\//i.test(location);

async function fileSource(path: string): Promise<Source> {
  let regular: boolean;
  try {
    await fs.promises.access(path, fs.constants.R_OK);
    regular = (await fs.promises.stat(path)).isFile();
  } catch (e) {
    throw new PlayerError(`Cannot read ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`, 'NOT_FOUND');
  }
  // A directory, device or FIFO is no media file, and opening a FIFO would block a libuv thread.
  if (!regular) throw new PlayerError(`${path} is not a regular file`, 'UNREADABLE');
  return new FilePathSource(path);
}

/** How long the first request for a URL may take before it counts as unreachable. */
const URL_PROBE_MS = 10_000;

/**
 * A URL's first byte is asked for before the demuxer reads it: an unreachable server or an error
 * status is INVALID_URI at once, where mediabunny would retry with backoff indefinitely. Its own
 * reads then retry twice, and it caches 8 MiB per player (its default is 64).
 */
async function urlSource(url: string): Promise<Source> {
  let status: number;
  try {
    const res = await fetch(url, { headers: { Range: 'bytes=0-0' }, signal: AbortSignal.timeout(URL_PROBE_MS) });
    status = res.status;
    await res.body?.cancel();
  } catch (e) {
    throw new PlayerError(`Cannot fetch ${url}: ${(e as Error)?.message ?? String(e)}`, 'NOT_FOUND');
  }
  if (status >= 400) throw new PlayerError(`Cannot fetch ${url}: HTTP ${status}`, 'NOT_FOUND');
  return new UrlSource(url, { maxCacheSize: 8 * 1024 * 1024, getRetryDelay: (attempts) => (attempts < 2 ? 0.5 : null) });
}
