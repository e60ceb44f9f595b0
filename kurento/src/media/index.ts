// The media layer's entry point: one MediaPeer per WebRtcEndpoint (see types.ts for the contract).
import { WeriftMediaPeer, type WeriftPeerOptions } from './peer';
import type { MediaPeer } from './types';

export * from './types';
export { WeriftMediaPeer, type WeriftPeerOptions } from './peer';
export { MediaWorkers } from './workers/pool';
export type { WorkerCounts } from './workers/protocol';

export function createMediaPeer(options: WeriftPeerOptions = {}): MediaPeer {
  return new WeriftMediaPeer(options);
}
