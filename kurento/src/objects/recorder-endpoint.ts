// kurento.RecorderEndpoint: writes what its sources send to a file:// URI, without re-encoding
// (kurento/src/media/record). KMS's API and state machine: record / pause / stop / stopAndWait,
// UriEndpoint states STOP → START ⇄ PAUSE → STOP with UriEndpointStateChanged, and the Recording,
// Paused and Stopped events. Stopped comes once the file is complete, so stopAndWait answers then.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MediaWriter, RtpFrames, type Container, type FrameCodec } from '../media/record';
import type { MediaKind, MediaSource } from '../media/types';
import { KurentoError } from '../protocol/errors';
import { MediaElement, MEDIA_ELEMENT_EVENTS } from './media-element';
import type { ObjectHost, ObjectKind, Operation } from './media-object';
import type { MediaPipeline } from './media-pipeline';
import { mediaKind, type KmsMediaType, type Params } from './params';

export const RECORDER_ENDPOINT_KIND: ObjectKind = {
  type: 'RecorderEndpoint',
  hierarchy: ['kurento.UriEndpoint', 'kurento.Endpoint', 'kurento.MediaElement', 'kurento.MediaObject'],
  events: [...MEDIA_ELEMENT_EVENTS, 'UriEndpointStateChanged', 'Recording', 'Paused', 'Stopped'],
};

interface Profile { container: Container; kinds: readonly MediaKind[] }

/** The media profiles written as received. */
const PROFILES: Record<string, Profile> = {
  WEBM: { container: 'webm', kinds: ['audio', 'video'] },
  WEBM_VIDEO_ONLY: { container: 'webm', kinds: ['video'] },
  WEBM_AUDIO_ONLY: { container: 'webm', kinds: ['audio'] },
  MP4: { container: 'mp4', kinds: ['audio', 'video'] },
  MP4_VIDEO_ONLY: { container: 'mp4', kinds: ['video'] },
  MP4_AUDIO_ONLY: { container: 'mp4', kinds: ['audio'] },
};
/** KMS's other MediaProfileSpecType values: KMS transcodes for these; this engine never does. */
const REFUSED_PROFILES = ['MKV', 'MKV_VIDEO_ONLY', 'MKV_AUDIO_ONLY', 'JPEG_VIDEO_ONLY', 'KURENTO_SPLIT_RECORDER', 'FLV'];

type UriState = 'STOP' | 'START' | 'PAUSE';

const CODECS: Record<string, FrameCodec> = { 'video/vp8': 'vp8', 'video/h264': 'h264', 'audio/opus': 'opus' };

export class RecorderEndpoint extends MediaElement {
  private state: UriState = 'STOP';
  private readonly profile: Profile;
  private readonly filePath: string;
  /** The origin (an endpoint's peer, a player's file) recorded, per kind. */
  private readonly fedBy: Partial<Record<MediaKind, MediaElement>> = {};
  private readonly untap: Partial<Record<MediaKind, () => void>> = {};
  private writer: MediaWriter | null = null;
  private readonly frames = new RtpFrames({
    clock: () => this.elapsedSeconds(),
    onFrame: (f) => this.writer?.write(f),
    onLoss: (kind) => this.sourceOf(kind)?.requestKeyframe(),
  });
  private stopping: Promise<void> | null = null;
  /** Recording clock: ms recorded before the current START, and when it began (paused time is left out, as KMS does). */
  private recordedMs = 0;
  private startedAt = 0;

  constructor(host: ObjectHost, pipeline: MediaPipeline, readonly uri: string, readonly mediaProfile: string, readonly stopOnEndOfStream: boolean) {
    const profile = PROFILES[mediaProfile];
    if (!profile) {
      if (REFUSED_PROFILES.includes(mediaProfile)) {
        throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `Media profile ${mediaProfile} is not supported: the embedded engine records without re-encoding (WEBM, MP4 and their _VIDEO_ONLY / _AUDIO_ONLY forms)`);
      }
      throw new KurentoError('MARSHALL_ERROR', "'mediaProfile' parameter should be a MediaProfileSpecType");
    }
    let file: string;
    try {
      if (!uri.startsWith('file://')) throw new Error('not a file URI');
      file = fileURLToPath(uri);
    } catch {
      throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `Invalid URI '${uri}': the embedded engine records to file:// URIs only`);
    }
    super(host, RECORDER_ENDPOINT_KIND, pipeline);
    this.profile = profile;
    this.filePath = file;
  }

  /** A recorder has no output. */
  mediaOrigin(): MediaElement | null {
    return null;
  }

  protected feedFrom(type: KmsMediaType, origin: MediaElement | null): void {
    const kind = mediaKind(type);
    if (!kind || !this.profile.kinds.includes(kind)) return;
    const next = origin ?? undefined;
    if (this.fedBy[kind] === next) return;
    this.untap[kind]?.();
    delete this.untap[kind];
    this.frames.reset(kind);
    if (next) this.fedBy[kind] = next; else delete this.fedBy[kind];
    if (next && this.state !== 'STOP') this.tapOrigin(kind);
  }

  isFlowingIn(type: KmsMediaType): boolean {
    const kind = mediaKind(type);
    return !!kind && !!this.fedBy[kind]?.isFlowingIn(type);
  }

  private tapOrigin(kind: MediaKind): void {
    const origin = this.fedBy[kind];
    if (!origin || origin.isReleased || this.untap[kind]) return;
    const peer = origin.mediaSource(true);
    if (!peer) return;
    this.untap[kind] = peer.tap(kind, (rtp) => {
      if (this.state !== 'START' || !this.writer) return;
      const codec = CODECS[peer.receivedCodec(kind)?.toLowerCase() ?? ''];
      if (codec) this.frames.push(kind, codec, { payload: rtp.payload, marker: rtp.header.marker, timestamp: rtp.header.timestamp, sequenceNumber: rtp.header.sequenceNumber });
    });
  }

  private sourceOf(kind: MediaKind): MediaSource | null {
    const origin = this.fedBy[kind];
    return origin && !origin.isReleased ? origin.mediaSource(true) : null;
  }

  private elapsedSeconds(): number {
    return (this.recordedMs + (this.state === 'START' ? Date.now() - this.startedAt : 0)) / 1000;
  }

  private setState(state: UriState, event: 'Recording' | 'Paused' | 'Stopped'): void {
    this.state = state;
    this.raise('UriEndpointStateChanged', { state });
    this.raise(event);
  }

  record(): void {
    if (this.state === 'START') return;
    if (this.stopping) throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', 'The recorder is stopping');
    if (!this.writer) this.writer = this.openWriter();
    this.startedAt = Date.now();
    this.frames.reset();
    this.setState('START', 'Recording');
    for (const kind of this.profile.kinds) {
      this.tapOrigin(kind);
      if (kind === 'video') this.sourceOf('video')?.requestKeyframe(); // the resumed part starts decodable
    }
  }

  pause(): void {
    if (this.state !== 'START') return;
    this.recordedMs += Date.now() - this.startedAt;
    this.setState('PAUSE', 'Paused');
  }

  /** Finishes the file; Stopped is raised once it is complete. */
  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    if (this.state === 'STOP' && !this.writer) return Promise.resolve();
    if (this.state === 'START') this.recordedMs += Date.now() - this.startedAt;
    for (const kind of Object.keys(this.untap) as MediaKind[]) { this.untap[kind]!(); delete this.untap[kind]; }
    const writer = this.writer;
    this.writer = null;
    this.stopping = (writer ? writer.close() : Promise.resolve())
      .catch((e: Error) => this.raiseError('UNEXPECTED_ERROR', `Recording to ${this.uri} failed: ${e.message}`, 40003))
      .finally(() => { this.stopping = null; this.recordedMs = 0; this.setState('STOP', 'Stopped'); });
    return this.stopping;
  }

  private openWriter(): MediaWriter {
    const codecOf = (kind: MediaKind) => CODECS[this.sourceOf(kind)?.receivedCodec(kind)?.toLowerCase() ?? ''];
    const fed = this.profile.kinds.filter((k) => this.fedBy[k]);
    // Tracks: the profile's kinds that have a source now (all of them when none has one yet).
    const kinds = fed.length ? fed : this.profile.kinds;
    const container = this.profile.container;
    const video = kinds.includes('video') ? (codecOf('video') ?? (container === 'webm' ? 'vp8' : 'h264')) : undefined;
    const audio = kinds.includes('audio') ? 'opus' as const : undefined;
    if (video && (video === 'opus' || !MediaWriter.holds(container, video))) {
      throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `${container.toUpperCase()} cannot hold ${video} without re-encoding; use ${video === 'h264' ? 'MP4' : 'WEBM'}`);
    }
    try {
      fs.mkdirSync(path.dirname(this.filePath), { recursive: true });
      const writer = new MediaWriter({
        path: this.filePath, container, video: video as 'vp8' | 'h264' | undefined, audio,
        onKeyframeWanted: () => this.sourceOf('video')?.requestKeyframe(),
      });
      writer.on('error', (e) => this.raiseError('UNEXPECTED_ERROR', `Recording to ${this.uri} failed: ${e.message}`, 40003));
      return writer;
    } catch (e) {
      throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `Cannot record to ${this.uri}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** KMS's release of a recording recorder is stopAndWait first: the file is complete. */
  protected dispose(): Promise<void> | void {
    super.dispose();
    if (this.writer || this.stopping) return this.stop();
  }

  protected operations(): Record<string, Operation> {
    return {
      ...super.operations(),
      record: () => this.record(),
      pause: () => this.pause(),
      stop: () => { void this.stop(); },
      stopAndWait: () => this.stop(),
      getUri: () => this.uri,
      getState: () => this.state,
    };
  }

  static create(host: ObjectHost, pipeline: MediaPipeline, params: Params): RecorderEndpoint {
    return new RecorderEndpoint(host, pipeline, params.string('uri'), params.optString('mediaProfile') ?? 'WEBM', params.optBool('stopOnEndOfStream') ?? false);
  }
}
