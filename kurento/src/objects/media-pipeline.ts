// kurento.MediaPipeline: the container of media elements. Releasing it releases every element
// (MediaObject.release cascades to children).
import { MediaObject, MEDIA_OBJECT_EVENTS, type ObjectHost, type ObjectKind, type Operation } from './media-object';

export const MEDIA_PIPELINE_KIND: ObjectKind = {
  type: 'MediaPipeline',
  hierarchy: ['kurento.MediaObject'],
  events: MEDIA_OBJECT_EVENTS,
};

export class MediaPipeline extends MediaObject {
  private latencyStats = false;

  constructor(host: ObjectHost) {
    super(host, MEDIA_PIPELINE_KIND, null);
  }

  protected operations(): Record<string, Operation> {
    return {
      ...super.operations(),
      getLatencyStats: () => this.latencyStats,
      setLatencyStats: (p) => { this.latencyStats = p.bool('latencyStats'); },
      // No GStreamer graph here; an empty DOT graph keeps diagnostic tools working.
      getGstreamerDot: () => `digraph "${this.id}" {}`,
    };
  }
}

export function isMediaPipeline(o: MediaObject): o is MediaPipeline {
  return o instanceof MediaPipeline;
}
