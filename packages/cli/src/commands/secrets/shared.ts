import { ENV, ImsTokenError, secretsClientFromEnv } from '@ims-token/core';
import type { ClientSecretInfo, Logger, SecretsClient } from '@ims-token/core';
import type { OptionSpecs } from '../../args';
import { cliEnv, cliHint, cliLogger, readCurrentSecret, resolveSecretSource } from '../../config';
import type { Context } from '../../context';
import { relative } from '../../output';

/** Options of every `secrets` command, on top of the global ones. */
export const SECRETS_OPTIONS = {
  'org-id': {
    type: 'string',
    value: '<id>',
    help: 'the numeric org id: the number after /console/projects/ in the Developer Console URL (an …@AdobeOrg code is looked up); wins over IMS_ORG_ID',
  },
  'credential-id': {
    type: 'string',
    value: '<id>',
    help: 'credential ID: the number after /credentials/ in the Developer Console URL of the credential; wins over IMS_CREDENTIAL_ID',
  },
  'management-url': {
    type: 'string',
    value: '<url>',
    help: 'I/O Management API base URL (default https://api.adobe.io); wins over IMS_MANAGEMENT_URL',
  },
} as const satisfies OptionSpecs;

/** Where Developer Console shows the two IDs. */
const WHERE_IDS =
  'the numeric org id and the credential ID are the numbers in the Developer Console URL of the credential, …/console/projects/{orgId}/{projectId}/credentials/{credentialId}/details/oauthservertoserver';

/** What a `secrets` command connects with. `current` is the secret value: never print it. */
export interface SecretsConfig {
  client: SecretsClient;
  /** The secret this run authenticates with (the first one configured). */
  current: string;
  /** Where it came from, for messages: `IMS_CLIENT_SECRET`, `IMS_CLIENT_SECRET_FILE (path)`, `stdin`. */
  source: string;
  clientId: string;
  imsUrl: string;
}

/**
 * The secrets client of this run, configured as every command is (../../config.ts: flags, then the environment,
 * then `--env-file`; the secret from `--client-secret-stdin`, `IMS_CLIENT_SECRET_FILE` or `IMS_CLIENT_SECRET`, never
 * a flag). It authenticates with the current (first) secret. A missing org or credential ID is `IMS_CONFIG` naming
 * the variable.
 */
export async function resolveSecretsConfig(ctx: Context): Promise<SecretsConfig> {
  const { env, fromFile } = await cliEnv(ctx);
  const source = (await resolveSecretSource(ctx, env, fromFile)).first;
  const current = readCurrentSecret(ctx, env);
  const coreEnv = { ...env, [ENV.clientSecret]: current, [ENV.clientSecretFile]: undefined, [ENV.clientSecretNext]: undefined };
  const base = cliLogger(ctx, (msg) => msg.startsWith('ims-token rotation:'));
  const logger: Logger = {
    ...base,
    info: (obj, msg) => {
      const o = obj as { orgCode?: unknown; orgId?: unknown };
      if (typeof o.orgCode !== 'string' || typeof o.orgId !== 'string') return base.info?.(obj, msg);
      ctx.note(
        `ims-token: ${ENV.orgId} ${o.orgCode} is an IMS org code; the I/O Management API takes the numeric org id: using ${o.orgId}. Set ${ENV.orgId}=${o.orgId} (or --org-id ${o.orgId}) to skip this lookup.`,
      );
    },
  };
  let client: SecretsClient;
  try {
    client = secretsClientFromEnv(coreEnv, { logger });
  } catch (err) {
    throw cliHint(err);
  }
  try {
    await client.resolveOrgId(); // an …@AdobeOrg code: looked up now, so a wrong one stops the command before it starts
  } catch (err) {
    await client.close();
    if (ImsTokenError.is(err) && err.field === 'orgId') {
      throw new ImsTokenError(err.code, err.message, {
        field: ENV.orgId,
        hint: `Pass --org-id with the numeric org id, or set ${ENV.orgId} to it: ${WHERE_IDS}.`,
      });
    }
    throw err;
  }
  return { client, current: current!, source, clientId: client.clientId, imsUrl: client.imsUrl };
}

/**
 * The secrets, and which of them this run's secret is (core's `findCurrentClientSecret`: with two, the one
 * whose `last_used_at` moves when we mint). `current` is `undefined` when that does not single one out.
 */
export async function listWithCurrent(cfg: SecretsConfig): Promise<{ list: ClientSecretInfo[]; current: string | undefined }> {
  const { secrets, current } = await cfg.client.findCurrentClientSecret();
  return { list: secrets, current: current?.uuid };
}

/** `2025-11-28T18:40:03Z`. */
export function when(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** `2025-11-28T18:40:03Z (3m 2s ago)`, or `never`. */
export function whenRelative(ms: number | undefined, now = Date.now()): string {
  return ms === undefined ? 'never' : `${when(ms)} (${relative(ms - now)})`;
}

/** A uuid as the API prints them: safe to repeat in a message (a pasted secret is not echoed). */
export function safeId(value: string): string {
  return /^[0-9a-f][0-9a-f-]{7,63}$/i.test(value) ? value : '(the given uuid)';
}

/** One secret for a message: `uuid (created …, last used …)`. */
export function describeSecret(s: ClientSecretInfo, now = Date.now()): string {
  return `${s.uuid} (created ${when(s.createdAt)}, ${s.lastUsedAt === undefined ? 'never used' : `last used ${relative(s.lastUsedAt - now)}`})`;
}

/** Runs `fn` with the client, and closes it. */
export async function withClient<T>(cfg: SecretsConfig, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } finally {
    await cfg.client.close();
  }
}
