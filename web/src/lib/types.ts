// The shapes of PROTOCOL.md, as the browser sees them.

export interface LatLng { lat: number; lng: number; accuracy?: number }

export type MediaState = 'connecting' | 'flowing' | 'stalled';

export interface Busk {
  id: string;
  owner: { id: string; name: string };
  title: string;
  description: string;
  hashtags: string[];
  location: LatLng | null;
  startedAt: string | number;
  viewers: number;
  media: MediaState;
}

/** `/topic/busks`: the live map's feed. */
export type BusksEvent =
  | { type: 'live'; busk: Busk }
  | { type: 'updated'; busk: Busk }
  | { type: 'ended'; buskId: string };

/** `/topic/busk.{id}`: what everyone watching one busk hears. */
export type BuskEvent =
  | { type: 'viewers'; count: number }
  | { type: 'media'; state: MediaState }
  | { type: 'ended'; reason?: string };

/** `/user/queue/busk.{id}`: negotiation replies for this session only. */
export type PeerEvent =
  | { type: 'answer'; sdpAnswer: string }
  | { type: 'ice'; candidate: RTCIceCandidateInit }
  | { type: 'reoffer'; reason?: string };

export interface ChatMessage {
  id: string;
  from: { id: string; name: string; anonymous: boolean };
  text: string;
  at: string | number;
}

export interface ServiceError { code: string; message: string; destination?: string; receipt?: string }

export interface WebConfig { tileUrl: string; anonymousViewing: boolean; devTokens: boolean; chat?: { maxLength: number } }
