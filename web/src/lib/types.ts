// The shapes of PROTOCOL.md, as the browser names them. They are the service's own types
// (signaling/src/protocol): a type-only import, erased by esbuild, so the bundle carries nothing.
import type {
  BuskMessage, BusksMessage, ErrorMessage, Location, PeerMessage, PublicBusk,
} from '../../../signaling/src/protocol';

export type { BuskQuery, ChatMessage, MediaState, WebConfig } from '../../../signaling/src/protocol';

export type LatLng = Location;
export type Busk = PublicBusk;
/** `/topic/busks`: the live map's feed. */
export type BusksEvent = BusksMessage;
/** `/topic/busk.{id}`: what everyone watching one busk hears. */
export type BuskEvent = BuskMessage;
/** `/user/queue/busk.{id}`: negotiation replies for this session only. */
export type PeerEvent = PeerMessage;
export type ServiceError = ErrorMessage;
