/**
 * `@ims-token/emulator`: a local Adobe IMS (OAuth Server-to-Server token endpoint), I/O Management API
 * (organizations and secrets endpoints) and a small protected sample Adobe API, with fault injection, for tests and CI.
 *
 * @packageDocumentation
 */
export { startEmulator } from './emulator';
export { normalizeFaultRule } from './faults';
export {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_CREDENTIAL_ID,
  DEFAULT_ORG_CODE,
  DEFAULT_ORG_ID,
  DEFAULT_ORG_NAME,
} from './state';
export type {
  Emulator,
  EmulatorClient,
  EmulatorClientInput,
  EmulatorOptions,
  EmulatorStats,
  FaultKind,
  FaultRule,
  FaultTarget,
} from './types';
