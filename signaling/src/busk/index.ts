export { BuskService } from './service';
export type { BrokerLike, BuskServiceOptions, PeerChannel } from './context';
export { Busk, Presenter } from './busk';
export { Viewer } from './audience';
