export * from './types';
export { MemoryState } from './memory';
export { RedisState, connectRedis } from './redis';
export type { RedisClient } from './redis';
export { LocalBus, RedisBus } from './bus';
export type { Bus, ControlMessage, BusTarget } from './bus';
