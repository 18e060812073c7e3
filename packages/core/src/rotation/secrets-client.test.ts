import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { ImsTokenError } from '../index';
import { createSecretsClient, IO_MANAGEMENT_SCOPES, secretsClientFromEnv } from './index';
import { captureLogger, clientFor, connection, expectNoSecrets, newClient, rejection, renderings } from './test/helpers';

let emu: Emulator;
let dir: string;
const log = captureLogger();
const seen: string[] = [];

beforeAll(async () => {
  emu = await startEmulator({ secretActivationDelayMs: 300 });
  dir = await mkdtemp(join(tmpdir(), 'ims-secrets-'));
});

afterAll(async () => {
  await emu.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('createSecretsClient', () => {
  it('lists, adds (value shown once, redacted in inspect/JSON) and deletes secrets', async () => {
    const c = newClient(emu);
    seen.push(c.clientSecret);
    const client = clientFor(emu, c, log);
    try {
      const before = Date.now();
      const [only, ...rest] = await client.listClientSecrets();
      expect(rest).toEqual([]);
      expect(typeof only!.uuid).toBe('string');
      expect(only!.createdAt).toBeTypeOf('number');
      expect(only!.expiresAt).toBe('PERMANENT');
      // the management token was just minted with this secret
      expect(only!.lastUsedAt).toBeGreaterThanOrEqual(before - 1000);

      const added = await client.addClientSecret();
      seen.push(added.clientSecret);
      expect(added.clientSecret).toMatch(/^p8e-/);
      expect(added.createdAt).toBeGreaterThanOrEqual(only!.createdAt);
      expect(inspect(added)).not.toContain(added.clientSecret);
      expect(inspect(added)).toContain('[redacted]');
      expect(JSON.stringify(added)).not.toContain(added.clientSecret);
      expect(JSON.parse(JSON.stringify(added))).toEqual({ uuid: added.uuid, clientSecret: '[redacted]', createdAt: added.createdAt });

      const two = await client.listClientSecrets();
      expect(two.map((s) => s.uuid)).toEqual([only!.uuid, added.uuid]); // oldest first
      expect(two[1]!.lastUsedAt).toBeUndefined();

      const limit = await rejection(client.addClientSecret());
      expect(ImsTokenError.is(limit)).toBe(true);
      expect(limit.code).toBe('IMS_SECRET_LIMIT');
      expect(limit.debugId).toBeTypeOf('string');

      await client.deleteClientSecret(added.uuid);
      expect((await client.listClientSecrets()).map((s) => s.uuid)).toEqual([only!.uuid]);
      const gone = await rejection(client.deleteClientSecret(added.uuid));
      expect(gone.code).toBe('IMS_NOT_FOUND');
      expect(gone.message).toContain(added.uuid);
      expect(inspect(client)).not.toContain(c.clientSecret);
      expect(JSON.stringify(client)).not.toContain(c.clientSecret);
    } finally {
      await client.close();
    }
  });

  it('asks for the I/O Management API scopes with Bearer + x-api-key', async () => {
    expect(IO_MANAGEMENT_SCOPES).toEqual([
      'AdobeID',
      'openid',
      'read_organizations',
      'additional_info.projectedProductContext',
      'additional_info.roles',
      'adobeio_api',
      'read_client_secret',
      'manage_client_secrets',
    ]);
    expect(Object.isFrozen(IO_MANAGEMENT_SCOPES)).toBe(true);
    // a token missing manage_client_secrets gets the emulator's 403 on POST: proves the scopes are requested
    const c = newClient(emu);
    const client = clientFor(emu, c, log);
    try {
      await client.addClientSecret().then((s) => client.deleteClientSecret(s.uuid));
    } finally {
      await client.close();
    }
  });

  it('validates orgId, credentialId, uuid and managementUrl with IMS_CONFIG naming the field', async () => {
    const c = newClient(emu);
    const base = connection(emu, c);
    const bad = (o: Partial<typeof base>): ImsTokenError => {
      try {
        createSecretsClient({ ...base, ...o });
      } catch (err) {
        return err as ImsTokenError;
      }
      throw new Error('expected IMS_CONFIG');
    };
    expect(bad({ orgId: '' })).toMatchObject({ code: 'IMS_CONFIG', field: 'orgId' });
    expect(bad({ credentialId: 'a/b' })).toMatchObject({ code: 'IMS_CONFIG', field: 'credentialId' });
    expect(bad({ managementUrl: 'http://example.com' })).toMatchObject({
      code: 'IMS_CONFIG',
      field: 'managementUrl',
    });
    expect(bad({ clientSecret: '' })).toMatchObject({ code: 'IMS_CONFIG', field: 'clientSecret' });
    const client = createSecretsClient(base);
    try {
      const err = await rejection(client.deleteClientSecret('../x'));
      expect(err).toMatchObject({ code: 'IMS_CONFIG', field: 'uuid' });
      const empty = await rejection(client.deleteClientSecret(''));
      expect(empty.code).toBe('IMS_CONFIG');
    } finally {
      await client.close();
    }
  });

  it('maps a wrong org or credential to IMS_NOT_FOUND', async () => {
    const c = newClient(emu);
    const client = createSecretsClient({ ...connection(emu, c, log), orgId: '404404404' });
    try {
      const err = await rejection(client.listClientSecrets());
      expect(err.code).toBe('IMS_NOT_FOUND');
      expect(err.status).toBe(404);
      expect(err.message).toContain('404404404');
      expect(err.debugId).toBeTypeOf('string');
    } finally {
      await client.close();
    }
  });

  it('tells the admin to add the I/O Management API on a 403 and on invalid_scope', async () => {
    const c = newClient(emu);
    const client = clientFor(emu, c, log);
    try {
      emu.fault({ target: 'secrets', kind: 'response', status: 403, body: { error_code: '403027', message: 'Insufficient scope' } });
      const err = await rejection(client.listClientSecrets());
      expect(err.code).toBe('IMS_FORBIDDEN');
      expect(err.message).toContain('add the I/O Management API to the project');
      expect(err.debugId).toBeTypeOf('string');
      expect(err.imsError).toBe('403027');
    } finally {
      emu.clearFaults();
      await client.close();
    }
    const limited = newClient(emu, { allowedScopes: ['openid', 'AdobeID'] });
    const noApi = clientFor(emu, limited, log);
    try {
      const err = await rejection(noApi.listClientSecrets());
      expect(err.code).toBe('IMS_FORBIDDEN');
      expect(err.imsError).toBe('invalid_scope');
      expect(err.message).toContain('add the I/O Management API');
    } finally {
      await noApi.close();
    }
  });

  it('on 401 drops the management token and retries once', async () => {
    const c = newClient(emu);
    const client = clientFor(emu, c, log);
    try {
      await client.listClientSecrets();
      const minted = emu.stats.mintedByClient[c.clientId];
      emu.revokeTokens(c.clientId); // the gateway now answers 401 to the cached token
      await client.listClientSecrets();
      expect(emu.stats.mintedByClient[c.clientId]).toBe(minted! + 1);

      emu.fault({
        target: 'secrets',
        kind: 'response',
        status: 401,
        body: { error_code: '401013', message: 'Oauth token is not valid' },
        times: 2,
      });
      const err = await rejection(client.listClientSecrets());
      expect(err.code).toBe('IMS_UNAUTHORIZED_CLIENT');
      expect(err.status).toBe(401);
    } finally {
      emu.clearFaults();
      await client.close();
    }
  });

  it('retries 5xx and 429 with backoff, keeps x-debug-id, and never repeats an add that may have happened', async () => {
    const c = newClient(emu);
    const client = clientFor(emu, c, log, { maxRetries: 2 });
    try {
      emu.fault({ target: 'secrets', kind: 'status', status: 503, times: 2 });
      expect(await client.listClientSecrets()).toHaveLength(1);

      emu.fault({ target: 'secrets', kind: 'status', status: 500, times: Infinity });
      const err = await rejection(client.listClientSecrets());
      expect(err.code).toBe('IMS_SERVER_ERROR');
      expect(err.retryable).toBe(true);
      expect(err.debugId).toMatch(/[0-9a-f-]{36}/);
      emu.clearFaults();

      const requests = emu.stats.secretsRequests;
      emu.fault({ target: 'secrets', kind: 'status', status: 500 });
      const addErr = await rejection(client.addClientSecret());
      expect(addErr.code).toBe('IMS_SERVER_ERROR');
      expect(addErr.message).toContain('may or may not have been created');
      expect(emu.stats.secretsRequests).toBe(requests + 1);

      emu.fault({ target: 'secrets', kind: 'status', status: 429, retryAfter: 0 });
      const added = await client.addClientSecret();
      seen.push(added.clientSecret);
      expect((await client.listClientSecrets()).map((s) => s.uuid)).toContain(added.uuid);
    } finally {
      emu.clearFaults();
      await client.close();
    }
  });

  it('maps a malformed answer to IMS_BAD_RESPONSE', async () => {
    const c = newClient(emu);
    const client = clientFor(emu, c, log, { maxRetries: 0 });
    try {
      emu.fault({ target: 'secrets', kind: 'response', status: 200, body: '<html>hi</html>' });
      expect((await rejection(client.listClientSecrets())).code).toBe('IMS_BAD_RESPONSE');
      emu.fault({ target: 'secrets', kind: 'response', status: 200, body: { client_secrets: [{ created_at: '1' }] } });
      expect((await rejection(client.listClientSecrets())).code).toBe('IMS_BAD_RESPONSE');
    } finally {
      emu.clearFaults();
      await client.close();
    }
  });
});

describe('secretsClientFromEnv', () => {
  it('names the missing or wrong variable', () => {
    const c = newClient(emu);
    const env = {
      IMS_CLIENT_ID: c.clientId,
      IMS_CLIENT_SECRET: c.clientSecret,
      IMS_ORG_ID: c.orgId,
      IMS_CREDENTIAL_ID: c.credentialId,
      IMS_URL: emu.url,
      IMS_MANAGEMENT_URL: emu.url,
    };
    const fails = (patch: Record<string, string | undefined>): string => {
      try {
        secretsClientFromEnv({ ...env, ...patch });
      } catch (err) {
        expect((err as ImsTokenError).code).toBe('IMS_CONFIG');
        expectNoSecrets(renderings(err), [c.clientSecret]);
        return (err as Error).message;
      }
      throw new Error('expected IMS_CONFIG');
    };
    expect(fails({ IMS_CLIENT_ID: undefined })).toContain('IMS_CLIENT_ID');
    expect(fails({ IMS_CLIENT_SECRET: undefined })).toContain('IMS_CLIENT_SECRET');
    expect(fails({ IMS_ORG_ID: '' })).toContain('IMS_ORG_ID');
    expect(fails({ IMS_CREDENTIAL_ID: 'a/b' })).toContain('IMS_CREDENTIAL_ID');
    expect(fails({ IMS_MANAGEMENT_URL: 'http://api.example.com' })).toContain('IMS_MANAGEMENT_URL');
    expect(fails({ IMS_URL: 'not a url' })).toContain('IMS_URL');
    expect(fails({ IMS_CLIENT_SECRET_FILE: join(dir, 'x') })).toContain('IMS_CLIENT_SECRET_FILE');
    expect(fails({ IMS_CLIENT_SECRET: undefined, IMS_CLIENT_SECRET_FILE: join(dir, 'missing') })).toContain('IMS_CLIENT_SECRET_FILE');
  });

  it('reads the first secret line of IMS_CLIENT_SECRET_FILE', async () => {
    const c = newClient(emu);
    const file = join(dir, 'secret');
    await writeFile(file, `# rotated by ims-token\n${c.clientSecret}\nsome-older-secret\n`, { mode: 0o600 });
    const client = secretsClientFromEnv(
      {
        IMS_CLIENT_ID: c.clientId,
        IMS_CLIENT_SECRET_FILE: file,
        IMS_ORG_ID: c.orgId,
        IMS_CREDENTIAL_ID: c.credentialId,
        IMS_URL: emu.url,
        IMS_MANAGEMENT_URL: emu.url,
      },
      { retryBaseDelayMs: 1, logger: log },
    );
    try {
      expect(client.managementUrl).toBe(emu.url);
      expect(client.orgId).toBe(c.orgId);
      expect(await client.listClientSecrets()).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});

describe('secrecy', () => {
  it('never logged a secret value', () => {
    expect(log.lines.length).toBeGreaterThan(0);
    expectNoSecrets(log.lines.join('\n'), seen);
  });
});
