export { BuskService } from './service';
export type { BrokerLike, BuskServiceOptions } from './service';
export { Busk } from './busk';
export { Presenter, Viewer } from './participant';
