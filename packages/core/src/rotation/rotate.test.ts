import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { createTokenProvider, ImsTokenError } from '../index';
import { rotateClientSecret, RotationError } from './index';
import type { RotationStep } from './index';
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

/** The values the emulator holds for a client right now (to scan outputs for them). */
function remember(c: Client): void {
  seen.push(...(emu.client(c.clientId)?.clientSecrets ?? []));
}

const names = stepNames;

function keep(value: unknown): void {
  shown.push(renderings(value));
}

const secretUuids = (c: Client, secret = c.clientSecret): Promise<string[]> => secretUuidsOf(emu, c, secret);
const service = (c: Client, file: string): Service => serviceOf(emu, c, file, SERVICE_SCOPES, log);

describe('rotateClientSecret', () => {
  it('rotates under load: zero failed token requests, the old secret deleted only after the new one took over', async () => {
    const c = client(newClient(emu));
    const file = join(dir, `svc-${c.clientId}`);
    await writeSecretFile(file, [c.clientSecret]);
    const svc = service(c, file);
    const steps: RotationStep[] = [];
    let newSecret = '';
    let serviceAtDelete: { index: number; count: number } | undefined;
    let serviceMintsAtSwitch = 0;
    try {
      await until(() => svc.ok() > 3);
      const report = await rotateClientSecret({
        ...connection(emu, c, log),
        scopes: SERVICE_SCOPES,
        verifyDelayMs: 50,
        deleteOld: true,
        minIdleMs: 250,
        persist: async (secret, ctx) => {
          newSecret = secret;
          seen.push(secret);
          expect(ctx.oldSecretUuid).toBeTypeOf('string');
          await writeSecretFile(file, [secret, c.clientSecret]);
          // wait until the service re-read the file and minted with the new secret, then let the old one go idle
          await until(() => svc.provider.status().secret.count === 2);
          const mints = svc.provider.status().counters.mints;
          await until(() => svc.provider.status().counters.mints >= mints + 2); // whole mints with the new secret: none with the old in flight
          serviceMintsAtSwitch = svc.provider.status().counters.mints;
          emu.advance(400); // the old secret's last use is now minIdleMs (250) and more behind, on the emulator's clock and the rotation's
        },
        onStep: (s) => {
          steps.push(s);
          if (s.name === 'delete-old') serviceAtDelete = { ...svc.provider.status().secret };
        },
      });
      keep(report);
      keep(steps);
      expect(report.ok).toBe(true);
      expect(report.mode).toBe('rotate');
      expect(report.deletedOld).toBe(true);
      expect(names(report)).toEqual([
        'token:done',
        'list:done',
        'check-limit:done',
        'add:done',
        'verify:done',
        'persist:done',
        'delete-old:done',
      ]);
      expect(steps).toEqual(report.steps);
      expect(serviceAtDelete).toEqual({ source: 'file', index: 0, count: 2 }); // the service used the new secret (first line) when the old was deleted
      // keep serving a while after the deletion
      const after = svc.provider.status().counters.mints;
      await until(() => svc.provider.status().counters.mints >= after + 5);
      expect(svc.provider.status().counters.mints).toBeGreaterThan(serviceMintsAtSwitch);
      expect(svc.failed()).toBe(0);
      expect(svc.errors).toEqual([]);
      expect(svc.provider.status().secret).toEqual({ source: 'file', index: 0, count: 2 });
      expect(svc.provider.status().counters.failovers).toBe(0);
      expect(emu.client(c.clientId)!.clientSecrets).toEqual([newSecret]);
      expect(await secretUuids(c, newSecret)).toEqual([report.newSecretUuid]);
      expect(report.oldSecretUuid).not.toBe(report.newSecretUuid);
    } finally {
      await svc.stop();
    }
  });

  it('stops with IMS_SECRET_LIMIT naming the never-used secret left by a crash after add', async () => {
    const c = client(newClient(emu));
    const sc = clientFor(emu, c, log);
    try {
      const [current] = await sc.listClientSecrets();
      const orphan = await sc.addClientSecret(); // the crashed run added it and never persisted it
      seen.push(orphan.clientSecret);
      let persisted = false;
      const err = await rejection(
        rotateClientSecret({
          client: sc,
          persist: async () => {
            persisted = true;
          },
        }),
      );
      keep(err);
      expect(err).toBeInstanceOf(RotationError);
      expect(ImsTokenError.is(err)).toBe(true);
      expect(err.code).toBe('IMS_SECRET_LIMIT');
      expect(err.message).toContain(`${orphan.uuid} is not the secret this process authenticates with and was never used`);
      expect(err.reason).toBe('secret-limit');
      expect(err.report.steps.at(-1).uuid).toBe(orphan.uuid);
      expect(err.hint).toContain(`client.deleteClientSecret('${orphan.uuid}')`);
      expect(err.message).toMatch(new RegExp(`${current!.uuid} \\(created [^)]+, last used [^)]+\\) — this process authenticates with it`));
      expect(err.report.ok).toBe(false);
      expect(names(err.report)).toEqual(['token:done', 'list:done', 'check-limit:failed']);
      expect(persisted).toBe(false);
      expect(await secretUuids(c)).toEqual([current!.uuid, orphan.uuid]);
    } finally {
      await sc.close();
    }
  });

  it('still tells the current secret from a newer one that was verified but never persisted (crash after verify)', async () => {
    const c = client(newClient(emu));
    const sc = clientFor(emu, c, log);
    try {
      const orphan = await sc.addClientSecret();
      seen.push(orphan.clientSecret);
      emu.advance(300); // the activation delay
      const verifier = createTokenProvider({ clientId: c.clientId, clientSecret: orphan.clientSecret, scopes: 'openid', imsUrl: emu.url });
      await verifier.getToken(); // the crashed run's verify
      await verifier.close();
      emu.advance(5); // the rotation's own mint is then later than the orphan's last_used_at, never the same millisecond
      const err = await rejection(rotateClientSecret({ client: sc, persist: async () => {} }));
      keep(err);
      expect(err.code).toBe('IMS_SECRET_LIMIT');
      expect(err.message).toContain(`${orphan.uuid} is not the secret this process authenticates with; it was last used`);
    } finally {
      await sc.close();
    }
  });

  it('deletes the new secret again when it never starts working (IMS_ROTATION_FAILED)', async () => {
    const slow = await startEmulator({ secretActivationDelayMs: 3_600_000 });
    const c = client(newClient(slow));
    let persisted = false;
    try {
      const err = await rejection(
        rotateClientSecret({
          ...connection(slow, c, log),
          verifyAttempts: 3,
          verifyDelayMs: 10,
          deleteOld: true,
          persist: async () => {
            persisted = true;
          },
          onStep: (s) => {
            if (s.name === 'add') seen.push(...slow.client(c.clientId)!.clientSecrets);
          },
        }),
      );
      keep(err);
      expect(err).toBeInstanceOf(RotationError);
      expect(err.code).toBe('IMS_ROTATION_FAILED');
      expect(err.message).toContain('failed at verify');
      expect(err.message).toContain('was deleted again');
      expect(err.cause.code).toBe('IMS_INVALID_CLIENT');
      expect(names(err.report)).toEqual(['token:done', 'list:done', 'check-limit:done', 'add:done', 'verify:failed', 'rollback:done']);
      expect(err.report.steps[4].detail).toContain('3 tries');
      expect(persisted).toBe(false);
      expect(slow.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
      expect(JSON.parse(JSON.stringify(err)).report.newSecretUuid).toBe(err.report.newSecretUuid);
    } finally {
      await slow.stop();
    }
  });

  it('deletes the new secret again when IMS fails the verification', async () => {
    const c = client(newClient(emu));
    try {
      const err = await rejection(
        rotateClientSecret({
          ...connection(emu, c, log),
          maxRetries: 1,
          verifyAttempts: 2,
          verifyDelayMs: 10,
          persist: async () => {
            throw new Error('must not be called');
          },
          onStep: (s) => {
            if (s.name === 'add') {
              remember(c);
              emu.fault({ target: 'token', kind: 'status', status: 500, times: Infinity });
            }
          },
        }),
      );
      keep(err);
      expect(err.code).toBe('IMS_ROTATION_FAILED');
      expect(err.cause.code).toBe('IMS_SERVER_ERROR');
      expect(names(err.report)).toEqual(['token:done', 'list:done', 'check-limit:done', 'add:done', 'verify:failed', 'rollback:done']);
    } finally {
      emu.clearFaults();
    }
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });

  it('deletes the new secret again when persist throws, and keeps the secret out of the error', async () => {
    const c = client(newClient(emu));
    const err = await rejection(
      rotateClientSecret({
        ...connection(emu, c, log),
        verifyDelayMs: 50,
        persist: async (secret) => {
          seen.push(secret);
          throw new Error(`vault unavailable while storing ${secret}`);
        },
      }),
    );
    keep(err);
    expect(err.code).toBe('IMS_ROTATION_FAILED');
    expect(err.message).toContain('failed at persist');
    expect(err.message).toContain('vault unavailable while storing [redacted]');
    expect(err.cause.message).toBe('vault unavailable while storing [redacted]');
    expect(names(err.report)).toEqual([
      'token:done',
      'list:done',
      'check-limit:done',
      'add:done',
      'verify:done',
      'persist:failed',
      'rollback:done',
    ]);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
    // the current secret still works
    const current = createTokenProvider({ clientId: c.clientId, clientSecret: c.clientSecret, scopes: 'openid', imsUrl: emu.url });
    await current.getToken();
    await current.close();
  });

  it('never showed a secret value: logs, reports, steps and errors', () => {
    expect(seen.length).toBeGreaterThan(4);
    expect(shown.length).toBeGreaterThan(4);
    expectNoSecrets(log.lines.join('\n'), seen);
    expectNoSecrets(shown.join('\n'), seen);
  });
});
