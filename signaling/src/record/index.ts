// The live recording of a busk (docs/ARCHITECTURE.md "Recording leg"): a RecorderLeg that joins
// the busk's pipeline like one more viewer with a WebRTC peer in this process, and the Recording
// it feeds (a fragmented file under DATA_DIR/recordings plus its row in the durable store).
import type { Recordings } from '../shorts/recordings';

export { RecorderLeg, type FrameSink } from './leg';
export { Recording, RecordingError, type RecordingOptions } from './recording';
export { ReceiverPeer, type ReceiverPeerOptions } from './peer';
export { negotiatedCodecs, sameCodecs, type RecordedCodecs, type TrackCodec } from './codecs';

/** What the busk service needs to record busks (absent: `record: true` is accepted and ignored). */
export interface RecorderConfig {
  recordings: Recordings;
  /** DATA_DIR/recordings. */
  dir: string;
  /** The recorder peers' address (127.0.0.1 when the service listens there). */
  bindAddress?: string;
  portRange?: { min: number; max: number } | null;
  iceServers?: { urls: string; username?: string; credential?: string }[];
  /** Resolves once recordings a killed process left unfinished were recovered (before new ones start). */
  ready?: Promise<unknown>;
}
