import { chmodSync, chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cacheKeyFor, normalizeImsUrl, normalizeScopes } from '@ims-token/core/cache';
import { SCOPES, credential, startFixture } from './test/fixture';
import type { Credential, Fixture } from './test/fixture';
import { reachableByOthers, runCli } from './test/run-cli';

// These tests run as root here: a chown to nobody (65534) makes a file or directory another user's.
const NOBODY = 65534;
const canChown = typeof process.getuid === 'function' && process.getuid() === 0;
const PLANTED = 'ATTACKER.CHOSEN.TOKEN';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

const keyOf = (c: Credential): string => cacheKeyFor(normalizeImsUrl(fx.emu.url), c.clientId, normalizeScopes(SCOPES));

/** The token file the CLI reads for this credential in `dir`. */
function tokenFile(c: Credential, dir: string): string {
  return join(dir, `${keyOf(c)}.json`);
}

/** Writes a well-formed, unexpired token file holding `PLANTED` for this credential. */
function plant(c: Credential, dir: string, overrides: Record<string, unknown> = {}): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const file = tokenFile(c, dir);
  const body = {
    key: keyOf(c),
    v: 1,
    accessToken: PLANTED,
    tokenType: 'bearer',
    issuedAt: now,
    expiresAt: now + 86_399_000,
    scopes: SCOPES.split(','),
    clientId: c.clientId,
  };
  writeFileSync(file, JSON.stringify({ ...body, ...overrides }), { mode: 0o600 });
  return file;
}

describe('the CLI refuses a token cache that is not yours (as ssh does)', () => {
  it.runIf(canChown)(
    'a cache directory owned by another user: token and token --force stop with IMS_CONFIG naming the path and the fix',
    async () => {
      const c = credential(fx);
      const file = plant(c, c.cacheDir);
      chownSync(file, NOBODY, NOBODY);
      chownSync(c.cacheDir, NOBODY, NOBODY);
      for (const args of [['token'], ['token', '--force'], ['token', '--json'], ['status'], ['inspect']]) {
        const r = await runCli(args, { env: c.env });
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stdout).not.toContain(PLANTED);
        expect(r.stderr).toContain('IMS_CONFIG');
        expect(r.stderr).toContain(`${c.cacheDir} is owned by uid ${NOBODY}`);
        expect(r.stderr).toContain(`chown ${process.getuid!()} '${c.cacheDir}'`);
      }
      expect(c.minted()).toBe(0);
    },
  );

  it.runIf(canChown)('a token file owned by another user in your own directory is refused too (fix: rm it)', async () => {
    const c = credential(fx);
    const file = plant(c, c.cacheDir);
    chownSync(file, NOBODY, NOBODY);
    const r = await runCli(['token'], { env: c.env });
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain(PLANTED);
    expect(r.stderr).toContain(`rm '${file}'`);
  });

  it('a cache directory writable by group or others is refused (fix: chmod 700)', async () => {
    const c = credential(fx);
    plant(c, c.cacheDir);
    chmodSync(c.cacheDir, 0o777);
    const r = await runCli(['token'], { env: c.env });
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain(PLANTED);
    expect(r.stderr).toContain(`chmod 700 '${c.cacheDir}'`);
  });

  it('a symbolic link as the cache directory or as the token file is never followed', async () => {
    const c = credential(fx);
    const real = join(c.dir, 'elsewhere');
    plant(c, real);
    mkdirSync(join(c.dir, 'cache'), { recursive: true });
    symlinkSync(real, c.cacheDir);
    const r = await runCli(['token'], { env: c.env });
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain(PLANTED);
    expect(r.stderr).toMatch(/symbolic link/);

    const d = credential(fx);
    const target = plant(d, join(d.dir, 'planted'));
    mkdirSync(d.cacheDir, { recursive: true, mode: 0o700 });
    symlinkSync(target, tokenFile(d, d.cacheDir));
    const viaFile = await runCli(['token'], { env: d.env });
    expect(viaFile.code).toBe(2);
    expect(viaFile.stdout).not.toContain(PLANTED);
  });

  it('a token file for other scopes, or with a lifetime IMS never gives, is not printed: a new token is minted', async () => {
    for (const overrides of [{ scopes: ['openid'] }, { expiresAt: Date.now() + 30 * 86_400_000 }]) {
      const c = credential(fx);
      plant(c, c.cacheDir, overrides);
      const r = await runCli(['token'], { env: c.env, printsToken: true });
      expect(r.code).toBe(0);
      expect(r.stdout).not.toContain(PLANTED);
      expect(c.minted()).toBe(1);
    }
  });

  it.runIf(canChown)('a cache write that fails is a warning naming the file, and the token is still printed', async () => {
    const c = credential(fx);
    chmodSync(fx.root, 0o755); // let another user reach its HOME
    mkdirSync(c.cacheDir, { recursive: true });
    chownSync(c.dir, NOBODY, NOBODY);
    chownSync(join(c.dir, 'cache'), NOBODY, NOBODY);
    chownSync(c.cacheDir, NOBODY, NOBODY);
    chmodSync(c.cacheDir, 0o500); // trusted (theirs, not writable by others), but not writable by them either
    const r = await reachableByOthers(() => runCli(['token'], { env: c.env, printsToken: true, uid: NOBODY }));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^eyJ/);
    expect(r.stderr).toContain(`warning: could not write the token cache file ${tokenFile(c, c.cacheDir)} (EACCES)`);
  });

  it('the warm-cache launcher and the full CLI follow one rule: IMS_TOKEN_CACHE_KEY with a file cache exits 2 either way', async () => {
    const c = credential(fx);
    expect((await runCli(['token'], { env: c.env, printsToken: true })).code).toBe(0); // warm the cache
    const env = { ...c.env, IMS_TOKEN_CACHE_KEY: 'k'.repeat(44) };
    const fast = await runCli(['token'], { env });
    const full = await runCli(['token', '--verbose'], { env });
    expect(full.code).toBe(2);
    expect(fast.code).toBe(2);
    expect(fast.stdout).toBe('');
    expect(readFileSync(tokenFile(c, c.cacheDir), 'utf8')).toContain(c.clientId);
  });
});
