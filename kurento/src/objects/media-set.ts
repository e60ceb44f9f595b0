// The registry of live media objects (KMS's MediaSet): creates objects by type, finds them by id,
// releases them, and reports creations and destructions through the ServerManager.
import { KurentoError } from '../protocol/errors';
import type { MediaObject, ObjectHost } from './media-object';
import { MediaPipeline, isMediaPipeline } from './media-pipeline';
import { Params } from './params';
import { ServerManager, SERVER_MANAGER_ID } from './server-manager';
import { PassThrough } from './pass-through';
import { PlayerEndpoint } from './player-endpoint';
import { RecorderEndpoint } from './recorder-endpoint';
import { WebRtcEndpoint, type EndpointDefaults, type PeerFactory } from './webrtc-endpoint';

/** Types KMS ships (core, elements, filters) that this engine does not implement. */
const KMS_TYPES_NOT_IMPLEMENTED = [
  'HubPort', 'AlphaBlending', 'Composite', 'Dispatcher', 'DispatcherOneToMany', 'Mixer',
  'HttpPostEndpoint', 'RtpEndpoint',
  'FaceOverlayFilter', 'GStreamerFilter', 'ImageOverlayFilter', 'OpenCVFilter', 'ZBarFilter',
];

export interface MediaSetOptions {
  createPeer: PeerFactory;
  endpointDefaults: EndpointDefaults;
  /** Session ids the RPC layer knows (ServerManager.getSessions). */
  sessions: () => string[];
  metadata?: string;
  /** Called after an object left the registry (subscriptions to it are dropped). */
  onRelease?: (objectId: string) => void;
}

export class MediaSet {
  private readonly objects = new Map<string, MediaObject>();
  private readonly cleanups = new Set<Promise<void>>();
  readonly serverManager: ServerManager;
  private readonly host: ObjectHost = {
    lookup: (id) => this.get(id),
    adopt: (o) => {
      this.objects.set(o.id, o);
      if (o.id !== SERVER_MANAGER_ID) this.serverManager.objectCreated(o);
    },
    forget: (o) => {
      if (this.objects.get(o.id) !== o) return;
      this.objects.delete(o.id);
      this.serverManager.objectDestroyed(o.id);
      this.options.onRelease?.(o.id);
    },
    track: (cleanup) => {
      const p = cleanup.catch(() => undefined).finally(() => this.cleanups.delete(p));
      this.cleanups.add(p);
    },
  };

  constructor(private readonly options: MediaSetOptions) {
    this.serverManager = new ServerManager(this.host, {
      pipelines: () => this.pipelines(),
      sessions: options.sessions,
      modules: {
        core: ['MediaPipeline', 'PassThrough'],
        elements: ['WebRtcEndpoint', 'RecorderEndpoint', 'PlayerEndpoint'],
        filters: [],
      },
      metadata: options.metadata ?? '',
    });
  }

  get size(): number {
    return this.objects.size;
  }

  /** An object by id; unknown ids are MEDIA_OBJECT_NOT_FOUND with KMS's message. */
  get(id: string): MediaObject {
    const o = this.objects.get(id);
    if (!o) throw new KurentoError('MEDIA_OBJECT_NOT_FOUND', `Object '${id}' not found`);
    return o;
  }

  has(id: string): boolean {
    return this.objects.has(id);
  }

  create(type: string, constructorParams: unknown): MediaObject {
    const params = new Params(constructorParams, this.host.lookup);
    switch (type) {
      case 'MediaPipeline':
        return new MediaPipeline(this.host);
      case 'PassThrough':
        return new PassThrough(this.host, params.object('mediaPipeline', 'MediaPipeline', isMediaPipeline));
      case 'PlayerEndpoint':
        return PlayerEndpoint.create(this.host, params.object('mediaPipeline', 'MediaPipeline', isMediaPipeline), params);
      case 'RecorderEndpoint':
        return RecorderEndpoint.create(this.host, params.object('mediaPipeline', 'MediaPipeline', isMediaPipeline), params);
      case 'WebRtcEndpoint': {
        const pipeline = params.object('mediaPipeline', 'MediaPipeline', isMediaPipeline);
        const direction = { recvonly: params.optBool('recvonly') ?? false, sendonly: params.optBool('sendonly') ?? false };
        if (params.optBool('useDataChannels')) throw new KurentoError('MEDIA_OBJECT_OPERATION_NOT_SUPPORTED', 'Data channels are not supported');
        return new WebRtcEndpoint(this.host, pipeline, this.options.createPeer, this.options.endpointDefaults, direction);
      }
      default:
        if (KMS_TYPES_NOT_IMPLEMENTED.includes(type)) {
          throw new KurentoError('MEDIA_OBJECT_TYPE_NOT_FOUND', `Type '${type}' is not available in the embedded media engine`);
        }
        // KMS 7's ModuleManager answers 40108 MEDIA_OBJECT_NOT_AVAILABLE here, but kurento-client maps
        // 40100 to TypeError and the Kurento error table documents 40100 for "type not found": we
        // answer 40100 with KMS's message text (see kurento/README.md, "Deliberate differences").
        throw new KurentoError('MEDIA_OBJECT_TYPE_NOT_FOUND', `Factory '${type}' not found`);
    }
  }

  /** Releases an object and its children. An unknown id is not an error, as in KMS. */
  release(id: string): void {
    this.objects.get(id)?.release();
  }

  pipelines(): MediaPipeline[] {
    return [...this.objects.values()].filter(isMediaPipeline);
  }

  /** Releases every pipeline (with its elements) and waits for their media to close. */
  async close(): Promise<void> {
    for (const p of this.pipelines()) p.release();
    for (const o of [...this.objects.values()]) if (o !== this.serverManager) o.release();
    while (this.cleanups.size) await Promise.all([...this.cleanups]);
  }
}
