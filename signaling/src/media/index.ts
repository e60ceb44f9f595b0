export { MediaPool } from './pool';
export { MediaServer } from './server';
export { Pipeline } from './pipeline';
export { Endpoint } from './endpoint';
export type { IceCandidate } from './endpoint';
export { MediaError } from './errors';
