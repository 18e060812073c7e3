/**
 * `@ims-token/fetch`: an authorized `fetch` and an undici interceptor that add Adobe IMS credentials
 * (`Authorization: Bearer …`, `x-api-key`) only to the hosts where they belong.
 *
 * @packageDocumentation
 */
export { createImsFetch } from './fetch';
export type { FetchLike, ImsFetch, ImsFetchOptions } from './fetch';
export { imsInterceptor } from './interceptor';
export type { ImsInterceptorOptions } from './interceptor';
export { DEFAULT_ALLOWED_HOSTS } from './hosts';
export type { ImsCredentialSource } from './options';
