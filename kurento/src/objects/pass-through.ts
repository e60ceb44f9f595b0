// kurento.PassThrough: a filter that hands its input on unchanged. Nothing is re-encoded in this
// engine, so a PassThrough holds no media itself: the elements after it take their media straight
// from the element before it (MediaElement resolves chains to origins), and a chain of any length
// costs no more per packet than a direct connection.
import { MediaElement, MEDIA_ELEMENT_EVENTS } from './media-element';
import type { ObjectHost, ObjectKind } from './media-object';
import type { MediaPipeline } from './media-pipeline';
import type { KmsMediaType } from './params';

export const PASS_THROUGH_KIND: ObjectKind = {
  type: 'PassThrough',
  hierarchy: ['kurento.Filter', 'kurento.MediaElement', 'kurento.MediaObject'],
  events: [...MEDIA_ELEMENT_EVENTS],
};

export class PassThrough extends MediaElement {
  constructor(host: ObjectHost, pipeline: MediaPipeline) {
    super(host, PASS_THROUGH_KIND, pipeline);
  }

  mediaOrigin(type: KmsMediaType, seen: Set<MediaElement>): MediaElement | null {
    if (seen.has(this)) return null; // a loop of PassThroughs carries nothing
    seen.add(this);
    return this.upstreamOrigin(type, seen);
  }

  mediaTerminals(type: KmsMediaType, seen: Set<MediaElement>): MediaElement[] {
    if (seen.has(this)) return [];
    seen.add(this);
    return this.sinkConnections(type).flatMap((c) => c.sink.mediaTerminals(type, seen));
  }

  isFlowingIn(type: KmsMediaType): boolean {
    return this.upstreamOrigin(type)?.isFlowingIn(type) ?? false;
  }

  isFlowingOut(type: KmsMediaType): boolean {
    return this.sinkConnections(type).length > 0 && this.isFlowingIn(type);
  }
}
