// The runtime of one busk on the node that holds its presenter: the pipeline, the presenter's leg,
// the grace timer and the media health derived from the presenter endpoint's flow events.
// Everything other nodes need (ids, media state, viewers) is mirrored in State.
import type { Pipeline } from '../media';
import type { BuskRecord, MediaState } from '../state';
import { Presenter } from './participant';

export class Busk {
  pipeline: Pipeline | null = null;
  presenter: Presenter | null = null;
  graceTimer: NodeJS.Timeout | null = null;
  ended = false;
  /** The media server lost our objects: viewers must reoffer once the presenter has a new endpoint. */
  needsViewerReoffer = false;
  private flow: { audio?: boolean; video?: boolean } = {};

  constructor(public rec: BuskRecord) {}

  get id(): string { return this.rec.id; }

  /** Presenter media in: flowing when any kind flows; stalled when all that flowed stopped. */
  onFlow(kind: 'audio' | 'video', flowing: boolean): MediaState {
    this.flow[kind] = flowing;
    const kinds = Object.values(this.flow);
    return kinds.some(Boolean) ? 'flowing' : 'stalled';
  }

  resetFlow(): void {
    this.flow = {};
  }

  clearGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
  }
}
