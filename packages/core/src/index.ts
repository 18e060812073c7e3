export { createTokenProvider } from './provider';
export type {
  TokenProvider,
  GetTokenOptions,
  ImsAuthHeaders,
  TokenState,
  TokenProviderStatus,
  TokenProviderEvents,
  TokenEvent,
} from './provider-types';
export { DIAGNOSTICS_CHANNELS } from './diagnostics';
export type {
  CredentialFields,
  ProviderMessage,
  MintReason,
  MintContext,
  ImsRequestContext,
  StoreOp,
  StoreContext,
  InvalidateVerdict,
  InvalidateMessage,
  FailoverMessage,
  SecretReloadMessage,
  RefreshErrorMessage,
  StoreFallbackMessage,
} from './diagnostics';
export { fromEnv, cacheEntryFromEnv, ENV } from './env';
export type { CacheEntryEnv } from './env';
export { DEFAULT_IMS_URL, isLoopbackHost, normalizeScopes } from './config';
export type { TokenProviderOptions, ClientSecretInput, Logger } from './config';
export { ImsTokenError, ImsTokenErrorCode, configError } from './errors';
export type { ImsTokenErrorDetails } from './errors';
export { MemoryStore } from './store';
export type { TokenStore } from './store';
export { FileStore } from './file-store';
export { defaultCacheDir, serveUntil, DEFAULT_MIN_REMAINING_MS, parseSecretLines } from './cache';
export type { FileStoreOptions } from './file-store';
export { acquireFileLock } from './file-lock';
export type { FileLock, FileLockHolder, FileLockOptions } from './file-lock';
export { decodeImsToken, createImsToken, serializeImsToken, deserializeImsToken } from './token';
export type { ImsToken, ImsTokenClaims, SerializedImsToken } from './token';
export { redactToken } from './redact';
export type { SecretSourceKind } from './secret-source';
export {
  createSecretsClient,
  secretsClientFromEnv,
  currentClientSecret,
  IO_MANAGEMENT_SCOPES,
  DEFAULT_MANAGEMENT_URL,
  rotateClientSecret,
  RotationError,
  DEFAULT_MIN_IDLE_MS,
  findOrphanedSecret,
  ORPHAN_SKEW_MS,
} from './rotation';
export type {
  SecretsClient,
  SecretsClientOptions,
  SecretsCallOptions,
  ClientSecretInfo,
  NewClientSecret,
  RotateClientSecretOptions,
  RotationOptions,
  RotationReport,
  RotationStep,
  RotationStepName,
  RotationStepStatus,
  RotationReason,
  PersistContext,
  OrphanSearch,
} from './rotation';
