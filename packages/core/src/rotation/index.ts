export { createSecretsClient, secretsClientFromEnv, IO_MANAGEMENT_SCOPES, DEFAULT_MANAGEMENT_URL } from './secrets-client';
export type { SecretsClient, SecretsClientOptions, SecretsCallOptions, ClientSecretInfo, NewClientSecret } from './secrets-client';
export { rotateClientSecret } from './rotate';
export { RotationError } from './report';
export type { RotationReport, RotationStep, RotationStepName, RotationStepStatus, RotationReason } from './report';
export { DEFAULT_MIN_IDLE_MS } from './options';
export type { RotateClientSecretOptions, RotationOptions, PersistContext } from './options';
export { findOrphanedSecret, ORPHAN_SKEW_MS } from './orphan';
export type { OrphanSearch } from './orphan';
