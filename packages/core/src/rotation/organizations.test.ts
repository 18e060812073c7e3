import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { rotateClientSecret } from './index';
import { captureLogger, clientFor, expectNoSecrets, newClient, rejection } from './test/helpers';

// Issue 14: the secrets API takes the numeric AMS org id (Adobe's example 23294, the number in the Developer
// Console URL …/console/projects/{orgId}/…), not the …@AdobeOrg IMS org code.

let emu: Emulator;
const seen: string[] = [];

beforeAll(async () => {
  emu = await startEmulator({ secretActivationDelayMs: 0 });
});

afterAll(async () => {
  await emu.stop();
});

const lookups = (): number => emu.stats.routes['GET /console/organizations'] ?? 0;

describe('the org ID', () => {
  it('is used as it is when it is the numeric AMS org id: no lookup', async () => {
    const c = newClient(emu);
    expect(c.orgId).toMatch(/^\d+$/);
    const sc = clientFor(emu, c);
    const before = lookups();
    try {
      expect(await sc.listClientSecrets()).toHaveLength(1);
      expect(await sc.resolveOrgId()).toBe(c.orgId);
    } finally {
      await sc.close();
    }
    expect(lookups()).toBe(before);
  });

  it('given as the …@AdobeOrg IMS org code, is resolved with GET /console/organizations once, and said so once', async () => {
    const c = newClient(emu);
    seen.push(c.clientSecret);
    const log = captureLogger();
    const sc = clientFor(emu, c, log, { orgId: c.orgCode });
    const before = lookups();
    try {
      expect(sc.orgId).toBe(c.orgCode);
      expect(await sc.listClientSecrets()).toHaveLength(1);
      const added = await sc.addClientSecret();
      seen.push(added.clientSecret);
      await sc.deleteClientSecret(added.uuid);
      expect(await sc.resolveOrgId()).toBe(c.orgId);
    } finally {
      await sc.close();
    }
    expect(lookups() - before).toBe(1);
    const said = log.lines.filter((l) => l.includes('numeric org id'));
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/^info /);
    expect(said[0]).toContain(`IMS org code ${c.orgCode}`);
    expect(said[0]).toContain(`numeric org id ${c.orgId}`);
    expectNoSecrets(log.lines.join('\n'), seen);
  });

  it('an org code this credential cannot see → IMS_CONFIG (field orgId) naming both kinds of ID and where the numeric one is', async () => {
    const c = newClient(emu);
    const sc = clientFor(emu, c, undefined, { orgId: '0123456789ABCDEF01234567@AdobeOrg' });
    try {
      const err = await rejection(sc.listClientSecrets());
      expect(err.code).toBe('IMS_CONFIG');
      expect(err.field).toBe('orgId');
      expect(err.message).toContain('0123456789ABCDEF01234567@AdobeOrg');
      expect(err.message).toContain(c.orgCode); // what the credential can see
      expect(err.message).toMatch(/numeric org id/);
      expect(err.hint).toMatch(/\/console\/projects\/\{orgId\}\//);
    } finally {
      await sc.close();
    }
  });

  it('a wrong numeric org id → IMS_NOT_FOUND whose hint says where the numeric org id is read', async () => {
    const c = newClient(emu);
    const sc = clientFor(emu, c, undefined, { orgId: '999999999' });
    try {
      const err = await rejection(sc.listClientSecrets());
      expect(err.code).toBe('IMS_NOT_FOUND');
      expect(err.hint).toMatch(/numeric org id/);
      expect(err.hint).toMatch(/\/console\/projects\/\{orgId\}\/\{projectId\}\/credentials\/\{credentialId\}/);
      expect(err.hint).not.toMatch(/…@AdobeOrg\)/);
    } finally {
      await sc.close();
    }
  });

  it('rotateClientSecret works with either form', async () => {
    const c = newClient(emu);
    seen.push(c.clientSecret);
    const report = await rotateClientSecret({
      client: clientFor(emu, c, undefined, { orgId: c.orgCode }),
      persist: async (s) => void seen.push(s),
    });
    expect(report.ok).toBe(true);
    expect(emu.client(c.clientId)!.clientSecrets).toHaveLength(2);
  });
});

describe('findCurrentClientSecret', () => {
  it('still tells which secret is ours when last_used_at lags behind the mint', async () => {
    const lagging = await startEmulator({ secretActivationDelayMs: 0, lastUsedLagMs: 300 });
    try {
      const c = newClient(lagging);
      const sc = clientFor(lagging, c);
      try {
        const [original] = await sc.listClientSecrets();
        const other = await sc.addClientSecret();
        seen.push(c.clientSecret, other.clientSecret);
        const { secrets, current } = await sc.findCurrentClientSecret();
        expect(secrets).toHaveLength(2);
        expect(current?.uuid).toBe(original!.uuid);
      } finally {
        await sc.close();
      }
    } finally {
      await lagging.stop();
    }
  });
});
