export { RedisStore } from './store';
export type { RedisStoreOptions } from './store';
export type { RedisClientLike } from './connection';
