export { MediaPool } from './pool';
export { MediaServerClient } from './server-client';
export { Pipeline } from './pipeline';
export { Endpoint } from './endpoint';
export type { IceCandidate } from './endpoint';
export { MediaError } from './errors';
