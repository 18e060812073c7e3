/**
 * `@ims-token/express`: Express 4 and 5 middleware for services that call Adobe APIs with an OAuth
 * Server-to-Server credential: `req.ims`, a health handler, problem+json errors and a streaming proxy.
 *
 * @packageDocumentation
 */
export { imsAuth } from './auth';
export type { ImsAuthOptions, ImsRequestContext } from './auth';
export { imsHealth } from './health';
export type { ImsHealthOptions, ImsHealthBody } from './health';
export { imsErrorHandler } from './problem';
export type { ImsErrorHandlerOptions, ImsErrorLogger, ImsProblem } from './problem';
export { imsProxy } from './proxy';
export type { ImsProxyOptions } from './proxy';
