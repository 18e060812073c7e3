export { createSecretsClient, secretsClientFromEnv, IO_MANAGEMENT_SCOPES, DEFAULT_MANAGEMENT_URL } from './secrets-client';
export type { SecretsClient, SecretsClientOptions, SecretsCallOptions, ClientSecretInfo, NewClientSecret } from './secrets-client';
export { rotateClientSecret, RotationError } from './rotate';
export type {
  RotateClientSecretOptions,
  RotationOptions,
  RotationReport,
  RotationStep,
  RotationStepName,
  RotationStepStatus,
  PersistContext,
} from './rotate';
