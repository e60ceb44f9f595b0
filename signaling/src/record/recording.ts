// One busk's recording: a file under DATA_DIR/recordings written from the recorder leg's frames
// without re-encoding (H.264 + Opus → fragmented MP4; VP8 + Opus → WebM), and its row in the durable
// store ('recording' from the start, 'ready' with its duration or 'failed' at the end). Fragments
// are in the file as soon as they are complete, so a killed process leaves a playable file that is
// short by at most the fragment being written (recoverRecordings() finishes its row at the next start).
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { record } from '../../../kurento/src';
import { newId } from '../shorts/common';
import type { Recordings } from '../shorts/recordings';
import { log } from '../log';
import type { RecordedCodecs } from './codecs';
import type { FrameSink, RecorderLeg } from './leg';

export interface RecordingOptions {
  recordings: Recordings;
  /** DATA_DIR/recordings. */
  dir: string;
  nodeId: string;
  busk: { id: string; owner: { id: string; name: string }; location: { lat: number; lng: number } | null };
  codecs: RecordedCodecs;
  leg: RecorderLeg;
  /** Fragment length in seconds (what a crash can lose at most, plus the frames in flight). */
  fragmentSeconds?: number;
  /** Extra consumer of the file's pieces as they are written (an HLS packager). */
  fragments?: record.FragmentSink;
}

export interface RecordingEvents {
  /** Finished or failed; the row says which. */
  close: [];
}

export class RecordingError extends Error {
  constructor(message: string, readonly code: 'NOT_RECORDABLE' | 'STORE_FAILED') { super(message); this.name = 'RecordingError'; }
}

export class Recording extends EventEmitter implements FrameSink {
  private ended: Promise<void> | null = null;
  private readonly stopReporting: () => void;

  private constructor(readonly id: string, readonly file: string, private readonly writer: record.MediaWriter, private readonly o: RecordingOptions) {
    super();
    this.stopReporting = o.recordings.writtenBy(id, () => writer.duration);
  }

  override on<E extends keyof RecordingEvents>(event: E, listener: (...args: RecordingEvents[E]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this;
  override on(event: string | symbol, listener: (...args: any[]) => void): this { return super.on(event, listener); }

  /** Opens the file, inserts the row and attaches to the leg. */
  static async start(o: RecordingOptions): Promise<Recording> {
    const video = o.codecs.video?.frame;
    if (video === 'opus') throw new RecordingError('an audio codec in the video track', 'NOT_RECORDABLE');
    const audio = o.codecs.audio?.frame === 'opus' ? 'opus' as const : undefined;
    if (!video && !audio) throw new RecordingError('the presenter sends nothing this service can record without re-encoding', 'NOT_RECORDABLE');
    // VP8 goes into WebM (every browser plays it); H.264 and audio-only into fragmented MP4.
    const container: record.Container = video === 'vp8' ? 'webm' : 'mp4';
    const id = newId();
    // <busk>.<recording>.<ext>: the ids are base64url, so '.' separates them unambiguously.
    const rel = `${o.busk.id}.${id}.${container}`;
    fs.mkdirSync(o.dir, { recursive: true });
    const file = path.join(o.dir, rel);
    const writer = new record.MediaWriter({
      path: file, container, video, audio, fragmentSeconds: o.fragmentSeconds ?? 1, fragments: o.fragments, appendOnly: true,
      onKeyframeWanted: () => o.leg.requestKeyframe(),
    });
    try {
      await o.recordings.create({
        id, buskId: o.busk.id, owner: { ...o.busk.owner, roles: [], anonymous: false }, file: rel,
        contentType: container === 'mp4' ? 'video/mp4' : 'video/webm', location: o.busk.location, nodeId: o.nodeId,
      });
    } catch (e) {
      await writer.close().catch(() => undefined);
      fs.rmSync(file, { force: true });
      throw new RecordingError(`cannot register the recording: ${(e as Error).message}`, 'STORE_FAILED');
    }
    const r = new Recording(id, file, writer, o);
    writer.on('error', (e) => log.warn('record', `recording ${id}: ${e.message}`));
    o.leg.addSink(r);
    log.info('record', `recording ${o.busk.id} to ${rel}`);
    return r;
  }

  /** Seconds of media in the file so far. */
  get duration(): number { return this.writer.duration; }

  write(frame: record.EncodedFrame): void { this.writer.write(frame); }

  /** Completes the file and the row ('ready' with its duration, or 'failed'). Idempotent. */
  end(): Promise<void> {
    this.ended ??= (async () => {
      this.o.leg.removeSink(this);
      this.stopReporting();
      try {
        await this.writer.close();
        if (this.writer.duration > 0) {
          await this.o.recordings.seal(this.id).catch((e) => log.warn('record', `recording ${this.id} stays unsealed`, e));
          await this.o.recordings.finish(this.id, this.writer.duration);
        } else {
          await this.o.recordings.fail(this.id);
        }
        log.info('record', `recording ${this.id} finished: ${this.writer.duration.toFixed(1)} s`);
      } catch (e) {
        log.warn('record', `recording ${this.id} failed`, e);
        await this.o.recordings.fail(this.id).catch(() => undefined);
      }
      this.emit('close');
    })();
    return this.ended;
  }
}
