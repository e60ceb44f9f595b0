// "After the show" in one object: recordings, shorts, comments and profiles over the durable store.
// The service creates one (startService) and mounts afterShowRouter(); the recording leg registers
// its files through `recordings`.
import type { State } from '../state';
import type { Store } from '../store';
import { Clipper } from './clip';
import { Comments } from './comments';
import type { CommentLimits, Publish } from './comments';
import { Profiles } from './profiles';
import { Recordings } from './recordings';
import { Shorts } from './shorts';

export { afterShowRouter } from './http';
export { Clipper } from './clip';
export { Recordings } from './recordings';
export type { PublicRecording, NewRecording } from './recordings';
export { Shorts, SHORT_MAX_S } from './shorts';
export type { PublicShort } from './shorts';
export { Comments, commentsTopic } from './comments';
export type { PublicComment } from './comments';
export { Profiles, imageType, AVATAR_MAX_BYTES } from './profiles';
export type { PublicProfile } from './profiles';

export interface AfterShowOptions {
  store: Store;
  state: State;
  /** Server-originated publish (the cross-node bus): live comment updates. */
  publish: Publish;
  ffmpegPath: string;
  comments: CommentLimits;
}

export class AfterShow {
  readonly store: Store;
  readonly clipper: Clipper;
  readonly recordings: Recordings;
  readonly shorts: Shorts;
  readonly comments: Comments;
  readonly profiles: Profiles;

  constructor(o: AfterShowOptions) {
    this.store = o.store;
    this.clipper = new Clipper(o.ffmpegPath);
    this.recordings = new Recordings(o.store, this.clipper);
    this.shorts = new Shorts(o.store, this.recordings, this.clipper);
    this.comments = new Comments(o.store, o.publish, o.comments);
    this.profiles = new Profiles(o.store, o.state, this.shorts);
  }
}
