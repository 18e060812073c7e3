/**
 * `@ims-token/fetch`: an undici dispatcher, a `fetch` and an undici interceptor that add Adobe IMS credentials
 * (`Authorization: Bearer …`, `x-api-key`) only to the hosts where they belong: one credential path, three faces.
 *
 * @packageDocumentation
 */
export { createImsDispatcher } from './dispatcher';
export type { ImsDispatcherOptions } from './dispatcher';
export { createImsFetch } from './fetch';
export type { FetchLike, ImsFetch, ImsFetchOptions } from './fetch';
export { imsInterceptor } from './interceptor';
export type { ImsInterceptorOptions } from './interceptor';
export { DEFAULT_ALLOWED_HOSTS } from './hosts';
export type { ImsCredentialOptions, ImsCredentialSource } from './options';
