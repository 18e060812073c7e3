import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { normalizeImsUrl } from '../config';
import { ENV, readCredentialEnv, readEnvVar } from '../env';
import type { CredentialEnv } from '../env';
import { parseSecretLines } from '../cache';
import { configError } from '../errors';
import { checkId, createSecretsClient } from './secrets-client';
import type { SecretsClient, SecretsClientOptions } from './secrets-types';

/** The first secret of `cred`: the value, or the first secret line of the file (read now, relative to `cwd`). */
function currentSecretOf(cred: CredentialEnv, cwd: string): string {
  if (!('file' in cred.secret)) return cred.secret.values[0];
  let text: string;
  try {
    text = readFileSync(resolve(cwd, cred.secret.file), 'utf8');
  } catch (err) {
    throw configError(ENV.clientSecretFile, `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const first = parseSecretLines(text)[0];
  if (!first) throw configError(ENV.clientSecretFile, 'names a file without a client secret line');
  return first;
}

/**
 * The current client secret of `env`, as {@link secretsClientFromEnv} authenticates with it: `IMS_CLIENT_SECRET`,
 * or the first secret line of `IMS_CLIENT_SECRET_FILE`, read now (a relative path from `cwd`, by default the
 * process's). For a tool that must write the current secret back (a rotation keeps it as the old one). Throws
 * `IMS_CONFIG` naming the variable that is missing or wrong (never its value).
 *
 * @example
 * ```ts
 * const old = currentClientSecret(process.env)
 * ```
 */
export function currentClientSecret(env: Record<string, string | undefined> = process.env, options: { cwd?: string } = {}): string {
  return currentSecretOf(readCredentialEnv(env), options.cwd ?? process.cwd());
}

/**
 * Builds a {@link SecretsClient} from `IMS_CLIENT_ID`, the current secret (`IMS_CLIENT_SECRET`, or the first secret
 * line of `IMS_CLIENT_SECRET_FILE`, read now; a second secret is not used: the secrets commands act as the current
 * one), `IMS_ORG_ID` (the numeric org id, or an `…@AdobeOrg` code that is looked up), `IMS_CREDENTIAL_ID`, `IMS_URL`
 * and `IMS_MANAGEMENT_URL`. The credential variables are read by the same rules as `fromEnv`'s. Throws `IMS_CONFIG`
 * naming the variable that is missing or wrong (never its value).
 *
 * @example
 * ```ts
 * const secrets = secretsClientFromEnv(process.env, { logger: pino() })
 * console.log(await secrets.listClientSecrets())
 * ```
 */
export function secretsClientFromEnv(
  env: Record<string, string | undefined> = process.env,
  overrides: Partial<SecretsClientOptions> = {},
): SecretsClient {
  const cred = readCredentialEnv(env);
  const clientSecret = currentSecretOf(cred, process.cwd());
  const ids: Record<'orgId' | 'credentialId', string> = { orgId: '', credentialId: '' };
  for (const [key, name, what] of [
    ['orgId', ENV.orgId, 'the numeric org id: the number after /console/projects/ in the Developer Console URL of the project'],
    ['credentialId', ENV.credentialId, 'the number after /credentials/ in the Developer Console URL of the credential'],
  ] as const) {
    const v = readEnvVar(env, name);
    if (!v) throw configError(name, `is not set (${what}; needed for the I/O Management API)`);
    try {
      ids[key] = checkId(key, v);
    } catch {
      throw configError(name, 'must not contain slashes, spaces, "?", "#" or "%"');
    }
  }
  const managementRaw = readEnvVar(env, ENV.managementUrl);
  return createSecretsClient({
    clientId: cred.clientId,
    clientSecret,
    orgId: ids.orgId,
    credentialId: ids.credentialId,
    ...(cred.imsUrl ? { imsUrl: cred.imsUrl } : {}),
    ...(managementRaw ? { managementUrl: normalizeImsUrl(managementRaw, ENV.managementUrl) } : {}),
    ...overrides,
  });
}
