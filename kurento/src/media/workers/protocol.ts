// The messages between the engine's main thread (the Kurento Protocol and object layers) and its
// media workers (werift peers). One typed list, used by both ends. Worker-to-worker media goes over
// pipes (../pipe.ts), not through here.
import type { MessagePort } from 'node:worker_threads';
import type { PipeDownstream, PipeUpstream } from '../pipe';
import type { MediaKind, MediaPeerEvents, PeerOptions } from '../types';

/** The `from` of a route whose source is on the main thread (a played file, player/player-source.ts). */
export const MAIN_THREAD = -1;

/** MediaPeer methods the main thread calls and awaits. */
export type PeerCall = 'processOffer' | 'generateOffer' | 'processAnswer' | 'gatherCandidates' | 'addIceCandidate' | 'rtpStats' | 'close';
/** MediaPeer methods the main thread calls without waiting. */
export type PeerPost = 'requestKeyframe' | 'setVideoRecvBandwidth' | 'setVideoSendBandwidth';

export interface WorkerData {
  index: number;
  /** Peer ids this worker's peers get: index, index + step, index + 2·step ... (so it can tell a closed id from a future one). */
  step: number;
  /** Ports to the other workers, by their index (this worker's own slot is empty). */
  ports: (MessagePort | null)[];
  /** Whether forwarded RTP goes out through the native addon (media/native.ts) when it is built. */
  nativeSend: boolean;
}

export type ToWorker =
  | { op: 'create'; peer: number; options: PeerOptions }
  | { op: 'call'; id: number; peer: number; method: PeerCall; args: unknown[] }
  | { op: 'post'; peer: number; method: PeerPost; args: number[] }
  /** Sent to the sink's worker; `from` is the source's worker (the same one: a local route; MAIN_THREAD: a source here). */
  | { op: 'connect'; source: number; from: number; sink: number; kinds: MediaKind[] }
  | { op: 'disconnect'; source: number; from: number; sink: number; kinds: MediaKind[] }
  | { op: 'tap'; peer: number; kind: MediaKind; on: boolean }
  /** The pipe from a main-thread source to this worker's sinks (its messages as between workers). */
  | { op: 'pipe'; m: PipeDownstream }
  /** `collect`: a full garbage collection first, so heapUsed is what is still referenced. */
  | { op: 'inspect'; id: number; collect: boolean };

export interface WorkerCounts {
  peers: number;
  pipesIn: number;
  pipesOut: number;
  /** Pipe openings waiting for a peer this worker has not been told to create yet. */
  waitingOpens: number;
  udpSockets: number;
  /** This worker's V8 heap in use (after a full collection when the inspection asked for one). */
  heapUsed: number;
  /** This worker's peers' stats() summed: RTP packets from and to their remotes, keyframe requests. */
  media: {
    packetsIn: { audio: number; video: number };
    packetsOut: { audio: number; video: number };
    keyframeRequestsSent: number;
    keyframeRequestsReceived: number;
  };
}

/** The description state a call leaves, mirrored on the main thread (localDescription is synchronous). */
export interface SdpState { local: string | null; remote: string | null }

export type FromWorker =
  | { op: 'ready' }
  | { op: 'reply'; id: number; ok: true; value: unknown; sdp?: SdpState }
  | { op: 'reply'; id: number; ok: false; message: string; sdpKind?: string }
  | { [E in keyof MediaPeerEvents]: { op: 'event'; peer: number; name: E; args: MediaPeerEvents[E] } }[keyof MediaPeerEvents]
  | { op: 'rtp'; peer: number; kind: MediaKind; payload: Uint8Array; marker: boolean; timestamp: number; sequenceNumber: number }
  | { op: 'counts'; id: number; counts: WorkerCounts }
  | { op: 'pipe'; m: PipeUpstream };
