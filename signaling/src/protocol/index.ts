// The wire protocol of docs/PROTOCOL.md as TypeScript types: every STOMP body and REST shape, once.
// The service and the web app both import this module; it holds types only (web/ imports it with
// `import type`, which costs the bundle nothing). Messages with a `type` are discriminated unions.

export type MediaState = 'connecting' | 'flowing' | 'stalled';

export interface Location {
  lat: number;
  lng: number;
  /** Metres. */
  accuracy?: number;
}

/** A busk as clients see it (REST, /topic/busks). */
export interface PublicBusk {
  id: string;
  owner: { id: string; name: string };
  title: string;
  description: string;
  hashtags: string[];
  location: Location | null;
  /** ISO 8601. */
  startedAt: string;
  viewers: number;
  media: MediaState;
  /** The busker chose to record this show (`record: true` at busk.start): viewers see a badge. */
  recording?: boolean;
  /**
   * The crowd tier's playlist (HLS, a few seconds behind WebRTC) when it is on for this busk; gone
   * (null) when the presenter's codecs cannot be served as HLS without re-encoding (VP8).
   */
  hls?: string | null;
}

export interface IceCandidate {
  candidate: string;
  sdpMid: string;
  sdpMLineIndex: number;
}

// ───────────── client → server (SEND /app/...) ─────────────

/** /app/busk.start */
export interface StartBody { title: string; description?: string; hashtags?: string[]; location?: Location | null; /** Record the show (default false). */ record?: boolean }
/** /app/busk.{id}.offer */
export interface OfferBody { sdpOffer: string }
/** /app/busk.{id}.ice (sdpMid and sdpMLineIndex default to "" and 0). */
export interface IceBody { candidate: { candidate: string; sdpMid?: string | null; sdpMLineIndex?: number | null } }
/** /app/busk.{id}.leave */
export type LeaveBody = Record<string, never>;
/** /app/busk.{id}.chat */
export interface ChatBody { text: string }
/** /app/busk.{id}.location: null hides the pin. */
export type LocationBody = Location | null;
/** /app/auth.refresh */
export interface RefreshBody { token: string }

/** Every /app destination and its body. */
export interface AppBodies {
  'busk.start': StartBody;
  offer: OfferBody;
  ice: IceBody;
  leave: LeaveBody;
  chat: ChatBody;
  location: LocationBody;
  'auth.refresh': RefreshBody;
}

// ───────────── server → client ─────────────

/** /user/queue/busk */
export type StartedMessage = { type: 'started'; buskId: string };

/** /user/queue/busk.{id}: negotiation replies for one session. */
export type PeerMessage =
  | { type: 'answer'; sdpAnswer: string }
  | { type: 'ice'; candidate: IceCandidate }
  | { type: 'reoffer'; reason: string };

/** /topic/busk.{id}: what everyone watching one busk hears. */
export type BuskMessage =
  | { type: 'viewers'; count: number }
  | { type: 'media'; state: MediaState }
  | { type: 'ended'; reason: string };

/** /topic/busks: the live map's feed. */
export type BusksMessage =
  | { type: 'live'; busk: PublicBusk }
  | { type: 'updated'; busk: PublicBusk }
  | { type: 'ended'; buskId: string };

/** /topic/busk.{id}.chat (replayed to a new subscriber with the header `replay: true`). */
export interface ChatMessage {
  id: string;
  from: { id: string; name: string; anonymous: boolean };
  text: string;
  /** ISO 8601. */
  at: string;
}

export type ErrorCode =
  | 'unauthorized' | 'forbidden' | 'not-found' | 'bad-request' | 'conflict' | 'rate-limited'
  | 'media-error' | 'unavailable' | 'full';

/** /user/queue/errors */
export interface ErrorMessage { code: ErrorCode | (string & {}); message: string; destination?: string; receipt?: string }

/** Every server destination pattern and its bodies. */
export interface ServerMessages {
  '/user/queue/busk': StartedMessage;
  '/user/queue/busk.{id}': PeerMessage;
  '/topic/busk.{id}': BuskMessage;
  '/topic/busk.{id}.chat': ChatMessage;
  '/topic/busks': BusksMessage;
  '/user/queue/errors': ErrorMessage;
}

// ───────────── REST ─────────────

/** GET /api/busks?bbox=minLng,minLat,maxLng,maxLat · ?near=lat,lng&radius=m · ?tag=x → PublicBusk[] */
export interface BuskQuery {
  /** minLng, minLat, maxLng, maxLat */
  bbox?: [number, number, number, number];
  /** `radiusM` travels as the `radius` query parameter (metres; 5000 when absent). */
  near?: { lat: number; lng: number; radiusM: number };
  tag?: string;
}

/** GET /api/config */
export interface WebConfig {
  tileUrl: string;
  anonymousViewing: boolean;
  devTokens: boolean;
  stompPath?: string;
  chat?: { maxLength: number };
  nodeId?: string;
  /** HLS_ENABLED: new busks have a crowd tier; the studio sends H.264 when it can. */
  hls?: boolean;
}

/** POST /api/dev/token */
export interface DevTokenRequest { name: string; roles: string[]; ttlSeconds?: number }
export interface DevTokenResponse { token: string }

/** REST errors: the HTTP status plus this body. */
export interface RestError { code: ErrorCode | (string & {}); message: string }

// ───────────── between signaling nodes (the Bus's control channel) ─────────────

/** Events between the nodes' busk services. Not seen by clients; one more wire all the same. */
export type ControlMessage =
  /** The busk ended on its owner node: viewer legs elsewhere are gone with its pipeline. */
  | { type: 'busk-ended'; buskId: string }
  /** Another node adopted the busk (its presenter came back there). */
  | { type: 'busk-moved'; buskId: string; node: string; oldEndpointId: string | null }
  /** The media server lost the busk's objects: every viewer leg must be rebuilt. */
  | { type: 'busk-reset'; buskId: string }
  /** The presenter has a new endpoint: viewers whose legs were lost are asked to reoffer. */
  | { type: 'reoffer-viewers'; buskId: string };
