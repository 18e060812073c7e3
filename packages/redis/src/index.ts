export { RedisStore } from './store';
export type { RedisStoreOptions } from './options';
export type { RedisClientLike } from './connection';
