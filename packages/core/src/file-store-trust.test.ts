import { afterEach, describe, expect, it } from 'vitest';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStore } from './file-store';
import { ImsTokenError } from './errors';
import { readCachedTokenSync } from './cache';
import { setup, captureLogger } from './test/helpers';
import type { Env } from './test/helpers';

// Another user, as ssh would see one: these tests run as root here, so a chown to nobody (65534) plants a file
// that is not ours. Where chown is not allowed (not root), those cases are skipped.
const NOBODY = 65534;
const canChown = typeof process.getuid === 'function' && process.getuid() === 0;

let env: Env | undefined;
let root: string;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
  await rm(root, { recursive: true, force: true });
});

const PLANTED = 'ATTACKER.CHOSEN.TOKEN';

/** A token file as FileStore writes it, with `accessToken` chosen by whoever writes it. */
function fileText(o: { accessToken?: string; clientId: string; scopes: string[]; issuedAt?: number; expiresAt?: number }): string {
  const now = Date.now();
  return JSON.stringify({
    v: 1,
    accessToken: o.accessToken ?? PLANTED,
    tokenType: 'bearer',
    issuedAt: o.issuedAt ?? now,
    expiresAt: o.expiresAt ?? now + 86_399_000,
    scopes: o.scopes,
    clientId: o.clientId,
  });
}

async function plant(dir: string, key: string, text: string, owner?: number): Promise<string> {
  const file = join(dir, `${key}.json`);
  await writeFile(file, JSON.stringify({ key, ...(JSON.parse(text) as object) }), { mode: 0o600 }); // as FileStore writes it
  if (owner !== undefined) await chown(file, owner, owner);
  return file;
}

const SCOPES = ['openid', 'AdobeID', 'firefly_api'];

describe('FileStore trusts only a cache that is yours, as ssh does', () => {
  it.runIf(canChown)(
    'a directory owned by another user: the planted token is ignored (a miss, a warning), nothing is written there',
    async () => {
      env = await setup();
      root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
      const dir = join(root, 'shared');
      await mkdir(dir, { mode: 0o700 });
      const log = captureLogger();
      const probe = env.make({ store: new FileStore({ dir }) });
      await plant(dir, probe.cacheKey, fileText({ clientId: env.clientId, scopes: SCOPES }), NOBODY);
      await chown(dir, NOBODY, NOBODY);
      const p = env.make({ store: new FileStore({ dir, logger: log }) });
      const t = await p.getToken();
      expect(t.accessToken).not.toBe(PLANTED);
      expect(env.emu.stats.tokensMinted).toBe(1);
      expect(log.lines.join('\n')).toContain(`${dir} is owned by uid ${NOBODY}`);
      expect(log.lines.join('\n')).toContain('chown');
      expect(await readFile(join(dir, `${p.cacheKey}.json`), 'utf8')).toContain(PLANTED); // not replaced: we write nothing there
      expect(readCachedTokenSync(dir, p.cacheKey, Date.now(), { clientId: env.clientId, scopes: SCOPES })).toBeUndefined();
    },
  );

  it.runIf(canChown)("onUntrusted: 'error' rejects with IMS_CONFIG naming the path and the fix", async () => {
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    await chown(root, NOBODY, NOBODY);
    const store = new FileStore({ dir: root, onUntrusted: 'error' });
    const err = await store.get('k').catch((e: unknown) => e);
    expect(ImsTokenError.is(err) && err.code).toBe('IMS_CONFIG');
    expect((err as ImsTokenError).message).toContain(root);
    expect((err as ImsTokenError).hint).toContain(`chown ${process.getuid!()}`);
    await expect(store.withLock('k', async () => 'ran')).rejects.toMatchObject({ code: 'IMS_CONFIG' });
  });

  it('a directory writable by group or others is not trusted (fix: chmod 700)', async () => {
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    await chmod(root, 0o777);
    await plant(root, 'k', fileText({ clientId: 'c', scopes: ['openid'] }));
    const log = captureLogger();
    expect(await new FileStore({ dir: root, logger: log }).get('k')).toBeUndefined();
    expect(log.lines.join('\n')).toContain(`chmod 700 '${root}'`);
    await chmod(root, 0o770);
    await expect(new FileStore({ dir: root, onUntrusted: 'error' }).get('k')).rejects.toMatchObject({ code: 'IMS_CONFIG' });
    await chmod(root, 0o700);
    expect((await new FileStore({ dir: root }).get('k'))?.accessToken).toBe(PLANTED); // our own file in our own directory
  });

  it('a symbolic link to the directory, or as the token file, is never followed', async () => {
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    const real = join(root, 'real');
    await mkdir(real, { mode: 0o700 });
    await plant(real, 'k', fileText({ clientId: 'c', scopes: ['openid'] }));
    await symlink(real, join(root, 'link'));
    const log = captureLogger();
    expect(await new FileStore({ dir: join(root, 'link'), logger: log }).get('k')).toBeUndefined();
    expect(log.lines.join('\n')).toContain('symbolic link');
    await symlink(join(real, 'k.json'), join(real, 'other.json'));
    expect(await new FileStore({ dir: real, logger: log }).get('other')).toBeUndefined();
    expect(readCachedTokenSync(real, 'other')).toBeUndefined();
    await expect(new FileStore({ dir: real, onUntrusted: 'error' }).get('other')).rejects.toMatchObject({ code: 'IMS_CONFIG' });
  });

  it.runIf(canChown)('a token file owned by another user in our directory is ignored, and the next write replaces it', async () => {
    env = await setup();
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    const probe = env.make();
    await plant(root, probe.cacheKey, fileText({ clientId: env.clientId, scopes: SCOPES }), NOBODY);
    const log = captureLogger();
    const p = env.make({ store: new FileStore({ dir: root, logger: log }) });
    expect((await p.getToken()).accessToken).not.toBe(PLANTED);
    expect(log.lines.join('\n')).toContain(`owned by uid ${NOBODY}`);
    expect(await readFile(join(root, `${p.cacheKey}.json`), 'utf8')).not.toContain(PLANTED);
  });

  it('checks what it reads: times IMS would give, and the key the file was written for', async () => {
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    const store = new FileStore({ dir: root });
    const now = Date.now();
    const cases = [
      fileText({ clientId: 'c', scopes: ['openid'], issuedAt: now, expiresAt: now + 48 * 3_600_000 }), // longer than IMS gives
      fileText({ clientId: 'c', scopes: ['openid'], issuedAt: now + 3_600_000, expiresAt: now + 1_800_000 }), // issued after expiry
      JSON.stringify({ ...JSON.parse(fileText({ clientId: 'c', scopes: ['openid'] })), key: 'other-key' }), // copied from another key
    ];
    for (const text of cases) {
      await plant(root, 'k', text);
      expect(await store.get('k')).toBeUndefined();
    }
    await writeFile(join(root, 'k.json'), fileText({ clientId: 'c', scopes: ['openid'] })); // no key recorded: not written by FileStore
    expect(await store.get('k')).toBeUndefined();
    // the launcher's reader also checks the client and the scopes
    await plant(root, 'k', fileText({ clientId: 'c', scopes: ['openid'] }));
    expect(readCachedTokenSync(root, 'k', now, { clientId: 'c', scopes: ['openid'] })?.accessToken).toBe(PLANTED);
    expect(readCachedTokenSync(root, 'k', now, { clientId: 'd', scopes: ['openid'] })).toBeUndefined();
    expect(readCachedTokenSync(root, 'k', now, { clientId: 'c', scopes: ['openid', 'AdobeID'] })).toBeUndefined();
  });

  it('a write that fails is reported with its path, not silent', async () => {
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    const log = captureLogger();
    const s = new FileStore({ dir: root, logger: log });
    await mkdir(join(root, 'k.json', 'blocker'), { recursive: true }); // a directory where the file should go
    const now = Date.now();
    const token = (await import('./token')).createImsToken({
      accessToken: 'eyJabc.def.ghi',
      issuedAt: now,
      expiresAt: now + 3_600_000,
      scopes: ['openid'],
      clientId: 'c',
    });
    await expect(s.set('k', token)).rejects.toBeDefined();
    expect(log.lines.join('\n')).toContain(`could not write the token cache file ${join(root, 'k.json')}`);
  });
});

describe('FileStore with a logger that throws', () => {
  it('an untrusted directory is still a miss, and nothing is written there', async () => {
    root = await mkdtemp(join(tmpdir(), 'ims-trust-'));
    const dir = join(root, 'open');
    await mkdir(dir);
    await chmod(dir, 0o777); // writable by others: untrusted
    const throwing = {
      warn: (): never => {
        throw new Error('logger transport closed');
      },
    };
    const store = new FileStore({ dir, logger: throwing });
    await plant(dir, 'k', fileText({ clientId: 'c', scopes: SCOPES }));
    expect(await store.get('k')).toBeUndefined();
    const now = Date.now();
    const token = { accessToken: 'a.b.c', tokenType: 'bearer', issuedAt: now, expiresAt: now + 3_600_000, scopes: SCOPES, clientId: 'c' };
    await expect(store.set('other', token as never)).resolves.toBeUndefined();
    await expect(readFile(join(dir, 'other.json'), 'utf8')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
