import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { rotateClientSecret, RotationError, secretsClientFromEnv } from './index';
import {
  captureLogger,
  clientFor,
  connection,
  expectNoSecrets,
  newClient,
  rejection,
  renderings,
  secretUuids as secretUuidsOf,
  service as serviceOf,
  stepNames,
  until,
  writeSecretFile,
} from './test/helpers';
import type { Client, Service } from './test/helpers';

let emu: Emulator;
let dir: string;
const log = captureLogger();
/** Every secret value the tests saw: none may appear in a log line, report, step or error. */
const seen: string[] = [];
/** Everything the rotation showed the world, scanned at the end. */
const shown: string[] = [];

beforeAll(async () => {
  emu = await startEmulator({ secretActivationDelayMs: 300 });
  dir = await mkdtemp(join(tmpdir(), 'ims-rotate-'));
});

afterAll(async () => {
  await emu.stop();
  await rm(dir, { recursive: true, force: true });
});

const SERVICE_SCOPES = 'openid,AdobeID,firefly_api';

function client(c: Client): Client {
  seen.push(c.clientSecret);
  return c;
}

const names = stepNames;

function keep(value: unknown): void {
  shown.push(renderings(value));
}

const secretUuids = (c: Client, secret = c.clientSecret): Promise<string[]> => secretUuidsOf(emu, c, secret);
const service = (c: Client, file: string): Service => serviceOf(emu, c, file, SERVICE_SCOPES, log);

describe('rotateClientSecret: reruns, checks and dry runs', () => {
  it('a rerun after a crash between persist and delete finishes the rotation', async () => {
    const c = client(newClient(emu));
    const file = join(dir, `svc-${c.clientId}`);
    await writeSecretFile(file, [c.clientSecret]);
    const svc = service(c, file);
    const env = {
      IMS_CLIENT_ID: c.clientId,
      IMS_CLIENT_SECRET_FILE: file,
      IMS_ORG_ID: c.orgId,
      IMS_CREDENTIAL_ID: c.credentialId,
      IMS_URL: emu.url,
      IMS_MANAGEMENT_URL: emu.url,
    };
    try {
      // First run: persist writes new-first/old-second, then the process "dies" (the signal stands in for the crash).
      const crash = new AbortController();
      const first = await rotateClientSecret({
        client: secretsClientFromEnv(env, { retryBaseDelayMs: 1, logger: log, clock: () => emu.now() }),
        verifyDelayMs: 50,
        deleteOld: true,
        signal: crash.signal,
        persist: async (secret) => {
          seen.push(secret);
          await writeSecretFile(file, [secret, c.clientSecret]);
          crash.abort();
        },
      });
      keep(first);
      expect(names(first).slice(-2)).toEqual(['persist:done', 'delete-old:skipped']);
      expect(first.deletedOld).toBe(false);
      expect(emu.client(c.clientId)!.clientSecrets).toHaveLength(2);

      // The service switches to the new secret (first line); the old one goes idle.
      await until(() => svc.provider.status().secret.count === 2);
      const mints = svc.provider.status().counters.mints;
      await until(() => svc.provider.status().counters.mints >= mints + 2); // whole mints with the new secret: none with the old in flight
      emu.advance(300); // the old secret's last use is now minIdleMs (200) and more behind
      const [newSecret] = (await readFile(file, 'utf8')).split('\n');

      // A rerun without deleteOld cannot add a third secret and says how to finish.
      const limit = await rejection(
        rotateClientSecret({
          client: secretsClientFromEnv(env, { retryBaseDelayMs: 1, logger: log, clock: () => emu.now() }),
          persist: async () => {},
        }),
      );
      keep(limit);
      expect(limit.code).toBe('IMS_SECRET_LIMIT');
      expect(limit.message).toContain(`An earlier rotation added and stored ${first.newSecretUuid}`);
      expect(limit.reason).toBe('finish-pending');
      expect(limit.hint).toContain('Rerun with deleteOld: true');

      // A dry run of the finish changes nothing.
      const dry = await rotateClientSecret({
        ...connection(emu, c, log),
        clientSecret: newSecret!,
        dryRun: true,
        deleteOld: true,
        minIdleMs: 200,
        persist: async () => {},
      });
      keep(dry);
      expect(dry.mode).toBe('finish');
      expect(names(dry)).toEqual([
        'token:done',
        'list:done',
        'check-limit:done',
        'add:skipped',
        'verify:skipped',
        'persist:skipped',
        'delete-old:planned',
      ]);
      expect(emu.client(c.clientId)!.clientSecrets).toHaveLength(2);

      // The rerun with deleteOld: true (the service's config now has the new secret first) finishes it.
      let persistCalled = false;
      const second = await rotateClientSecret({
        client: secretsClientFromEnv(env, { retryBaseDelayMs: 1, logger: log, clock: () => emu.now() }),
        deleteOld: true,
        minIdleMs: 200,
        persist: async () => {
          persistCalled = true;
        },
      });
      keep(second);
      expect(second.ok).toBe(true);
      expect(second.mode).toBe('finish');
      expect(second.deletedOld).toBe(true);
      expect(second.newSecretUuid).toBe(first.newSecretUuid);
      expect(second.oldSecretUuid).toBe(first.oldSecretUuid);
      expect(names(second)).toEqual([
        'token:done',
        'list:done',
        'check-limit:done',
        'add:skipped',
        'verify:skipped',
        'persist:skipped',
        'delete-old:done',
      ]);
      expect(persistCalled).toBe(false);
      expect(await secretUuids(c, newSecret)).toEqual([first.newSecretUuid]);
      expect(emu.client(c.clientId)!.clientSecrets).toEqual([newSecret]);
      const after = svc.provider.status().counters.mints;
      await until(() => svc.provider.status().counters.mints >= after + 3); // the service keeps minting after the deletion
      expect(svc.failed()).toBe(0);
    } finally {
      await svc.stop();
    }
  });

  it('keeps an old secret that is still in use unless forced', async () => {
    const c = client(newClient(emu));
    let newSecret = '';
    const first = await rotateClientSecret({
      ...connection(emu, c, log),
      verifyDelayMs: 50,
      deleteOld: true, // default minIdleMs: 25 h; this run's own management token just used the old secret
      persist: async (secret) => {
        newSecret = secret;
        seen.push(secret);
      },
    });
    keep(first);
    expect(first.ok).toBe(true);
    expect(first.deletedOld).toBe(false);
    const last = first.steps.at(-1)!;
    expect(last).toMatchObject({ name: 'delete-old', status: 'skipped', reason: 'not-idle', uuid: first.oldSecretUuid });
    expect(last.detail).toContain(`Kept the old secret ${first.oldSecretUuid}: last used`);
    expect(last.detail).toContain('deleted only after 25 h without use');
    expect(emu.client(c.clientId)!.clientSecrets).toHaveLength(2);

    // finishing with the new secret: still in use → kept; with force → deleted
    const kept = await rotateClientSecret({
      ...connection(emu, c, log),
      clientSecret: newSecret,
      deleteOld: true,
      persist: async () => {},
    });
    keep(kept);
    expect(kept.mode).toBe('finish');
    expect(kept.deletedOld).toBe(false);
    expect(kept.steps.at(-1)).toMatchObject({ name: 'delete-old', status: 'skipped' });
    const forced = await rotateClientSecret({
      ...connection(emu, c, log),
      clientSecret: newSecret,
      deleteOld: true,
      force: true,
      persist: async () => {},
    });
    keep(forced);
    expect(forced.deletedOld).toBe(true);
    expect(forced.steps.at(-1)!.detail).toContain('forced although it was used recently');
    expect(await secretUuids(c, newSecret)).toEqual([first.newSecretUuid]);
  });

  it('tells the admin to add the I/O Management API when the project lacks it', async () => {
    const c = client(newClient(emu, { allowedScopes: ['openid', 'AdobeID', 'firefly_api'] }));
    const err = await rejection(rotateClientSecret({ ...connection(emu, c, log), persist: async () => {} }));
    keep(err);
    expect(err).toBeInstanceOf(RotationError);
    expect(err.code).toBe('IMS_FORBIDDEN');
    expect(err.message).toContain('add the I/O Management API to the project in Adobe Developer Console');
    expect(names(err.report)).toEqual(['token:failed']);

    const d = client(newClient(emu));
    emu.fault({ target: 'secrets', kind: 'response', status: 403, body: { error_code: '403027', message: 'Api is not subscribed' } });
    try {
      const err2 = await rejection(rotateClientSecret({ ...connection(emu, d, log), persist: async () => {} }));
      keep(err2);
      expect(err2.code).toBe('IMS_FORBIDDEN');
      expect(err2.message).toContain('add the I/O Management API');
      expect(err2.debugId).toBeTypeOf('string');
      expect(names(err2.report)).toEqual(['token:done', 'list:failed']);
    } finally {
      emu.clearFaults();
    }
  });

  it('dryRun mints, lists and checks, and changes nothing', async () => {
    const c = client(newClient(emu));
    const before = await secretUuids(c);
    const secretsRequests = emu.stats.secretsRequests;
    const report = await rotateClientSecret({
      ...connection(emu, c, log),
      dryRun: true,
      deleteOld: true,
      persist: async () => {
        throw new Error('must not be called');
      },
    });
    keep(report);
    expect(report).toMatchObject({ ok: true, dryRun: true, mode: 'rotate', deletedOld: false, oldSecretUuid: before[0] });
    expect(report.newSecretUuid).toBeUndefined();
    expect(names(report)).toEqual([
      'token:done',
      'list:done',
      'check-limit:done',
      'add:planned',
      'verify:planned',
      'persist:planned',
      'delete-old:planned',
    ]);
    expect(emu.stats.secretsRequests).toBe(secretsRequests + 1); // one GET
    expect(await secretUuids(c)).toEqual(before);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });

  it('validates its options and honours an aborted signal', async () => {
    const c = client(newClient(emu));
    const conn = connection(emu, c, log);
    const fieldOf = async (o: Record<string, unknown>): Promise<string> => {
      const err = await rejection(rotateClientSecret(o as never));
      expect(err.code).toBe('IMS_CONFIG');
      expect(err.message).toMatch(new RegExp(`^${err.field} `)); // "<field> <problem>."
      return err.field as string;
    };
    expect(await fieldOf({ ...conn })).toBe('persist');
    expect(await fieldOf({ ...conn, persist: async () => {}, minIdleMs: -1 })).toBe('minIdleMs');
    expect(await fieldOf({ ...conn, persist: async () => {}, verifyAttempts: 0 })).toBe('verifyAttempts');
    expect(await fieldOf({ ...conn, persist: async () => {}, scopes: ' ' })).toBe('scopes');
    expect(await fieldOf({ ...conn, client: clientFor(emu, c), persist: async () => {} })).toBe('clientId');
    expect(await fieldOf({ client: {}, persist: async () => {} })).toBe('client');
    expect(await fieldOf({ ...conn, orgId: 'a/b', persist: async () => {} })).toBe('orgId');

    const ctrl = new AbortController();
    ctrl.abort();
    const err = await rejection(rotateClientSecret({ ...conn, signal: ctrl.signal, persist: async () => {} }));
    expect(err.code).toBe('IMS_ABORTED');
    expect(names(err.report)).toEqual(['token:skipped']);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });

  it('an onStep that throws does not break the rotation', async () => {
    const c = client(newClient(emu));
    const report = await rotateClientSecret({
      ...connection(emu, c, log),
      dryRun: true,
      persist: async () => {},
      onStep: () => {
        throw new Error('listener bug');
      },
    });
    expect(report.ok).toBe(true);
    expect(log.lines.some((l) => l.includes('the onStep callback threw'))).toBe(true);
  });

  it('never showed a secret value: logs, reports, steps and errors', () => {
    expect(seen.length).toBeGreaterThan(4);
    expect(shown.length).toBeGreaterThan(4);
    expectNoSecrets(log.lines.join('\n'), seen);
    expectNoSecrets(shown.join('\n'), seen);
  });
});
