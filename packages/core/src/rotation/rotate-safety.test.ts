import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { createTokenProvider } from '../index';
import { DEFAULT_MIN_IDLE_MS, rotateClientSecret } from './index';
import type { ClientSecretInfo, RotationReport } from './index';
import { captureLogger, clientFor, connection, expectNoSecrets, newClient, rejection, renderings } from './test/helpers';
import type { Client } from './test/helpers';
import { startLossyProxy } from './test/lossy-proxy';
import type { LossyProxy } from './test/lossy-proxy';

// Issue 13: a rotation must never lose a working secret, whatever else happens at the same time.
// The emulator here activates new secrets at once, so no test waits on its behalf.

let emu: Emulator;
let proxy: LossyProxy;
const log = captureLogger();
const seen: string[] = [];
const shown: string[] = [];

beforeAll(async () => {
  emu = await startEmulator({ secretActivationDelayMs: 0 });
  proxy = await startLossyProxy(emu.url);
});

afterAll(async () => {
  await proxy.stop();
  await emu.stop();
});

const HOUR = 3_600_000;

function fresh(): Client {
  const c = newClient(emu);
  seen.push(c.clientSecret);
  return c;
}

/** The secrets of a client as the I/O Management API lists them (read with `secret`). */
async function listed(c: Client, secret = c.clientSecret): Promise<ClientSecretInfo[]> {
  const sc = clientFor(emu, { ...c, clientSecret: secret });
  try {
    return await sc.listClientSecrets();
  } finally {
    await sc.close();
  }
}

/** Whether `secret` mints a token right now. */
async function mints(c: Client, secret: string): Promise<boolean> {
  const p = createTokenProvider({ clientId: c.clientId, clientSecret: secret, scopes: 'openid', imsUrl: emu.url, maxRetries: 0 });
  try {
    await p.getToken();
    return true;
  } catch {
    return false;
  } finally {
    await p.close();
  }
}

function steps(r: RotationReport): string[] {
  return r.steps.map((s) => `${s.name}:${s.status}${s.reason ? `(${s.reason})` : ''}`);
}

/** A Developer-Console-style add: another party adds a secret through the API and keeps it. */
async function strangerAdds(c: Client): Promise<{ uuid: string; clientSecret: string }> {
  const sc = clientFor(emu, c);
  try {
    const added = await sc.addClientSecret();
    seen.push(added.clientSecret);
    return added;
  } finally {
    await sc.close();
  }
}

describe('a failed add', () => {
  it('refused for the 2-secret limit (a Developer Console add got there first) deletes nothing', async () => {
    const c = fresh();
    let stranger: { uuid: string; clientSecret: string } | undefined;
    proxy.loseNextAdd({
      mode: 'pass',
      hold: async () => {
        stranger = await strangerAdds(c);
      },
    });
    let persisted = false;
    const err = await rejection(
      rotateClientSecret({
        ...connection(emu, c, log),
        managementUrl: proxy.url,
        persist: async () => {
          persisted = true;
        },
      }),
    );
    shown.push(renderings(err));
    expect(err.code).toBe('IMS_SECRET_LIMIT');
    expect(err.reason).toBe('secret-limit');
    expect(steps(err.report)).toEqual(['token:done', 'list:done', 'check-limit:done', 'add:failed(secret-limit)']);
    expect(persisted).toBe(false);
    // The stranger's secret is still there, and works.
    expect((await listed(c)).map((s) => s.uuid)).toContain(stranger!.uuid);
    expect(await mints(c, stranger!.clientSecret)).toBe(true);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret, stranger!.clientSecret]);
  });

  it('whose answer was lost after the secret was created deletes that secret (created in its window, never used)', async () => {
    const c = fresh();
    let created: string | undefined;
    proxy.loseNextAdd({ mode: 'drop', onCreated: (b) => void (created = b.uuid) });
    const err = await rejection(rotateClientSecret({ ...connection(emu, c, log), managementUrl: proxy.url, persist: async () => {} }));
    shown.push(renderings(err));
    expect(created).toBeTypeOf('string');
    expect(err.code).toBe('IMS_ROTATION_FAILED');
    expect(err.reason).toBe('add-outcome-unknown');
    expect(steps(err.report)).toEqual(['token:done', 'list:done', 'check-limit:done', 'add:failed(add-outcome-unknown)', 'rollback:done']);
    expect(err.report.newSecretUuid).toBe(created);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });

  it('whose answer was a 5xx after the secret was created also cleans up only that secret', async () => {
    const c = fresh();
    let created: string | undefined;
    proxy.loseNextAdd({ mode: '502', onCreated: (b) => void (created = b.uuid) });
    const err = await rejection(rotateClientSecret({ ...connection(emu, c, log), managementUrl: proxy.url, persist: async () => {} }));
    expect(err.code).toBe('IMS_ROTATION_FAILED');
    expect(err.report.steps.at(-1)).toMatchObject({ name: 'rollback', status: 'done', uuid: created });
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });

  it('whose outcome is unknown keeps and reports a new secret that someone already used', async () => {
    const c = fresh();
    let created: { uuid: string; client_secret: string } | undefined;
    proxy.loseNextAdd({
      mode: 'drop',
      onCreated: async (b) => {
        created = b;
        seen.push(b.client_secret);
        expect(await mints(c, b.client_secret)).toBe(true); // somebody holds and uses it
      },
    });
    const err = await rejection(rotateClientSecret({ ...connection(emu, c, log), managementUrl: proxy.url, persist: async () => {} }));
    shown.push(renderings(err));
    expect(err.code).toBe('IMS_ROTATION_FAILED');
    expect(steps(err.report).at(-1)).toBe('rollback:skipped(orphan-kept)');
    expect(err.report.steps.at(-1).uuid).toBe(created!.uuid);
    expect(err.message).toContain(created!.uuid);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret, created!.client_secret]);
  });

  it('that never reached the API reports that nothing was created and deletes nothing', async () => {
    const c = fresh();
    proxy.loseNextAdd({ mode: 'before' });
    const err = await rejection(
      rotateClientSecret({ ...connection(emu, c, log), managementUrl: proxy.url, maxRetries: 0, persist: async () => {} }),
    );
    expect(err.code).toBe('IMS_NETWORK');
    expect(steps(err.report).slice(-2)).toEqual(['add:failed(add-outcome-unknown)', 'rollback:done']);
    expect(err.message).toMatch(/no new secret is listed/);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });
});

describe('two rotations of one credential at once', () => {
  it('the second one never deletes the secret the first one added and stored', async () => {
    const c = fresh();
    let firstPersisted!: () => void;
    const persistedA = new Promise<void>((r) => (firstPersisted = r));
    let storedA: string | undefined;
    // B lists before A adds, and its add reaches the API only after A stored its new secret.
    proxy.loseNextAdd({ mode: 'pass', hold: () => persistedA });
    const b = rotateClientSecret({ ...connection(emu, c, log), managementUrl: proxy.url, persist: async () => {} }).then(
      (r) => r,
      (e: unknown) => e,
    );
    const a = await rotateClientSecret({
      ...connection(emu, c, log),
      persist: async (secret) => {
        seen.push(secret);
        storedA = secret;
        firstPersisted();
      },
    });
    const errB = (await b) as { code: string; report: RotationReport };
    shown.push(renderings(a), renderings(errB));
    expect(a.ok).toBe(true);
    expect(errB.code).toBe('IMS_SECRET_LIMIT');
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret, storedA]);
    expect(await mints(c, storedA!)).toBe(true);
  });
});

describe('the idle rule', () => {
  /** A credential mid-rotation: the old secret was last used now, the new one is current. */
  async function midRotation(): Promise<{ c: Client; newSecret: string; oldUuid: string }> {
    const c = fresh();
    const added = await strangerAdds(c);
    const [old] = await listed(c); // uses the old secret now
    return { c, newSecret: added.clientSecret, oldUuid: old!.uuid };
  }

  it('by default keeps an old secret used within a token lifetime plus the refresh window (25 h)', async () => {
    expect(DEFAULT_MIN_IDLE_MS).toBe(25 * HOUR);
    const { c, newSecret, oldUuid } = await midRotation();
    const at =
      (offset: number): (() => number) =>
      () =>
        Date.now() + offset;
    const kept = await rotateClientSecret({
      ...connection(emu, c, log),
      clientSecret: newSecret,
      clock: at(2 * HOUR),
      deleteOld: true,
      persist: async () => {},
    });
    expect(kept.mode).toBe('finish');
    expect(kept.deletedOld).toBe(false);
    const last = kept.steps.at(-1)!;
    expect(last).toMatchObject({ name: 'delete-old', status: 'skipped', reason: 'not-idle', uuid: oldUuid });
    expect(last.retryAt! - Date.now()).toBeGreaterThan(22 * HOUR);
    expect(last.detail).toMatch(/last used 2 h ago/);
    expect(emu.client(c.clientId)!.clientSecrets).toHaveLength(2);

    const done = await rotateClientSecret({
      ...connection(emu, c, log),
      clientSecret: newSecret,
      clock: at(26 * HOUR),
      deleteOld: true,
      persist: async () => {},
    });
    expect(done.deletedOld).toBe(true);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([newSecret]);
  });

  it('a shorter minIdleMs is obeyed, with a warning that says what it risks', async () => {
    const { c, newSecret } = await midRotation();
    const warnings = captureLogger();
    const r = await rotateClientSecret({
      ...connection(emu, c, warnings),
      clientSecret: newSecret,
      clock: () => Date.now() + 2 * HOUR,
      deleteOld: true,
      minIdleMs: HOUR,
      persist: async () => {},
    });
    expect(r.deletedOld).toBe(true);
    const warning = warnings.lines.find((l) => l.startsWith('warn') && l.includes('minIdleMs'));
    expect(warning).toMatch(/shorter than a token lifetime plus the refresh window \(25 h\)/);
    expect(warning).toMatch(/still holds only the old secret .* fails at its next mint/);
  });
});

describe('persist', () => {
  it('that could not undo a partial write (keepNewSecret) keeps the new secret and says so', async () => {
    const c = fresh();
    let stored = '';
    const err = await rejection(
      rotateClientSecret({
        ...connection(emu, c, log),
        persist: async (secret) => {
          stored = secret;
          seen.push(secret);
          throw Object.assign(new Error('wrote one of two files and could not restore it'), { keepNewSecret: true });
        },
      }),
    );
    shown.push(renderings(err));
    expect(err.code).toBe('IMS_ROTATION_FAILED');
    expect(steps(err.report).slice(-2)).toEqual(['persist:failed(persist-failed)', 'rollback:skipped(new-secret-kept)']);
    expect(err.message).toContain(`kept the new secret ${err.report.newSecretUuid}`);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret, stored]);
  });

  it('that fails is rolled back with machine-readable reasons on every step that did not go through', async () => {
    const c = fresh();
    const err = await rejection(
      rotateClientSecret({
        ...connection(emu, c, log),
        persist: async () => {
          throw new Error('vault down');
        },
      }),
    );
    expect(err.reason).toBe('persist-failed');
    expect(steps(err.report)).toEqual([
      'token:done',
      'list:done',
      'check-limit:done',
      'add:done',
      'verify:done',
      'persist:failed(persist-failed)',
      'rollback:done',
    ]);
    expect(emu.client(c.clientId)!.clientSecrets).toEqual([c.clientSecret]);
  });
});

describe('secrecy', () => {
  it('never showed a secret value', () => {
    expect(shown.length).toBeGreaterThan(4);
    expectNoSecrets(log.lines.join('\n'), seen);
    expectNoSecrets(shown.join('\n'), seen);
  });
});
