// kurento.PlayerEndpoint: plays a file:// or http(s):// WebM or MP4 (VP8, H.264, Opus) into the pipeline without
// re-encoding (kurento/src/media/player). KMS's API and state machine (kms-elements'
// PlayerEndpointImpl and UriEndpointImpl): play / pause / stop with UriEndpointStateChanged
// STOP → START ⇄ PAUSE → STOP; at the end of the file the state goes back to STOP, then EndOfStream,
// and play() starts over; a file that cannot be read raises Error INVALID_URI (unreadable) or
// INVALID_MEDIA (nothing playable in it) after play(), which itself never fails, as in KMS;
// getPosition / setPosition in ms (PLAYER_SEEK_FAIL when nothing is playing or the position is
// outside the file); getVideoInfo with KMS's zeros before the file is open.
import { fileURLToPath } from 'node:url';
import { PlayerSource, type PlayerState } from '../media/player';
import type { MediaSource } from '../media/types';
import { KurentoError } from '../protocol/errors';
import { complexType } from './complex-types';
import { MediaElement, MEDIA_ELEMENT_EVENTS } from './media-element';
import type { ObjectHost, ObjectKind, Operation } from './media-object';
import type { MediaPipeline } from './media-pipeline';
import { kmsType, mediaKind, type KmsMediaType, type Params } from './params';

export const PLAYER_ENDPOINT_KIND: ObjectKind = {
  type: 'PlayerEndpoint',
  hierarchy: ['kurento.UriEndpoint', 'kurento.Endpoint', 'kurento.MediaElement', 'kurento.MediaObject'],
  events: [...MEDIA_ELEMENT_EVENTS, 'UriEndpointStateChanged', 'EndOfStream'],
};

const URI_STATE: Record<PlayerState, 'STOP' | 'START' | 'PAUSE'> = { stopped: 'STOP', playing: 'START', paused: 'PAUSE' };

export class PlayerEndpoint extends MediaElement {
  private readonly player: PlayerSource;

  constructor(host: ObjectHost, pipeline: MediaPipeline, readonly uri: string) {
    let location: string;
    try {
      if (/^https?:\/\//i.test(uri)) location = new URL(uri).href;
      else if (uri.startsWith('file://')) location = fileURLToPath(uri);
      else throw new Error('not a file or http(s) URI');
    } catch {
      throw new KurentoError('MEDIA_OBJECT_ILLEGAL_PARAM_ERROR', `Invalid URI '${uri}': the embedded engine plays file:// and http(s):// URIs`);
    }
    super(host, PLAYER_ENDPOINT_KIND, pipeline);
    this.player = new PlayerSource(location);
    this.player.on('state', (state) => this.raise('UriEndpointStateChanged', { state: URI_STATE[state] }));
    this.player.on('end-of-stream', () => this.raise('EndOfStream'));
    this.player.on('flow-out', ({ kind, flowing }) => this.raise('MediaFlowOutStateChanged', {
      padName: 'default', mediaType: kmsType(kind), state: flowing ? 'FLOWING' : 'NOT_FLOWING',
    }));
    this.player.on('error', (e) => {
      // KMS: uridecodebin's "source" failing is INVALID_URI; a decodebin failing, INVALID_MEDIA.
      if (e.code === 'NOT_FOUND') this.raiseError('INVALID_URI', `Invalid URI: ${e.message}`, 0);
      else this.raiseError('INVALID_MEDIA', `Invalid Media: ${e.message}`, 0);
    });
  }

  mediaSource(): MediaSource {
    return this.player;
  }

  isFlowingOut(type: KmsMediaType): boolean {
    const kind = mediaKind(type);
    return !!kind && this.player.isMediaFlowingOut(kind);
  }

  private videoInfo(): unknown {
    const info = this.player.info;
    const ms = info ? Math.round(info.durationSec * 1000) : 0;
    return complexType('VideoInfo', { isSeekable: !!info, seekableInit: 0, seekableEnd: ms, duration: ms });
  }

  private async setPosition(ms: number): Promise<void> {
    if (!(await this.player.seek(ms / 1000))) throw new KurentoError('PLAYER_SEEK_FAIL', 'Seek fails');
  }

  protected dispose(): Promise<void> | void {
    super.dispose();
    this.player.close();
  }

  protected operations(): Record<string, Operation> {
    return {
      ...super.operations(),
      play: () => this.player.play(),
      pause: () => this.player.pause(),
      stop: () => this.player.stop(),
      getUri: () => this.uri,
      getState: () => URI_STATE[this.player.state],
      getPosition: () => Math.round(this.player.position * 1000),
      setPosition: (p) => this.setPosition(p.int('position')),
      getVideoInfo: () => this.videoInfo(),
      getElementGstreamerDot: () => `digraph "${this.id}" {}`,
    };
  }

  static create(host: ObjectHost, pipeline: MediaPipeline, params: Params): PlayerEndpoint {
    // networkCache (RTSP buffering) and useEncodedMedia (KMS ≤ 6) change nothing for a file played as is.
    params.optInt('networkCache');
    params.optBool('useEncodedMedia');
    return new PlayerEndpoint(host, pipeline, params.string('uri'));
  }
}
