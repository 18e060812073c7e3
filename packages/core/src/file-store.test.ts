import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile, chmod, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { FileStore } from './file-store';
import { defaultCacheDir } from './cache';
import { createImsToken } from './token';
import { setup } from './test/helpers';
import type { Env } from './test/helpers';

let env: Env | undefined;
let dir: string;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
  await rm(dir, { recursive: true, force: true });
});

const token = (expiresAt = Date.now() + 3_600_000) =>
  createImsToken({
    accessToken: 'eyJhbGciOi.file-store-test-token.sig',
    expiresAt,
    issuedAt: Date.now(),
    scopes: ['openid'],
    clientId: 'c',
  });

describe('FileStore', () => {
  it('creates its directory 0700 and files 0600, and round-trips a token', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const store = new FileStore({ dir: join(dir, 'cache') });
    await store.set('k1', token());
    expect((await stat(join(dir, 'cache'))).mode & 0o777).toBe(0o700);
    expect((await stat(store.pathFor('k1'))).mode & 0o777).toBe(0o600);
    expect((await store.get('k1'))?.accessToken).toBe(token().accessToken);
    expect(await readdir(join(dir, 'cache'))).toEqual(['k1.json']); // no temp files left behind
  });

  it('tightens a directory that is too open', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const cache = join(dir, 'cache');
    await mkdir(cache, { mode: 0o755 });
    await chmod(cache, 0o755);
    await new FileStore({ dir: cache }).set('k', token());
    expect((await stat(cache)).mode & 0o777).toBe(0o700);
  });

  it('treats a corrupt or foreign file as a miss and replaces it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const store = new FileStore({ dir });
    await store.set('k', token());
    for (const junk of ['{"v":1,"accessToken":', 'null', '{"v":99}', '']) {
      await writeFile(store.pathFor('k'), junk);
      expect(await store.get('k')).toBeUndefined();
    }
    await store.set('k', token());
    expect(await store.get('k')).toBeDefined();
  });

  it('never returns an expired token', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const store = new FileStore({ dir });
    await store.set('k', token(Date.now() - 1));
    expect(await store.get('k')).toBeUndefined();
  });

  it('deletes only the token it is told to, and clears all', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const store = new FileStore({ dir });
    await store.set('k', token());
    await store.delete('k', 'some-other-token');
    expect(await store.get('k')).toBeDefined();
    await store.delete('k', token().accessToken);
    expect(await store.get('k')).toBeUndefined();
    await store.set('a', token());
    await store.set('b', token());
    expect(await store.clear()).toBe(2);
  });

  it('writes atomically: concurrent writers never leave a torn file', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const store = new FileStore({ dir });
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.set('k', token(Date.now() + 3_600_000 + i))));
    JSON.parse(await readFile(store.pathFor('k'), 'utf8'));
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('takes over a lock whose holder died', async () => {
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const store = new FileStore({ dir });
    await writeFile(`${store.pathFor('k')}.lock`, '999999999\n');
    await expect(store.withLock('k', async () => 'ran')).resolves.toBe('ran');
  });

  it('defaults to $XDG_CACHE_HOME/ims-token or ~/.cache/ims-token', () => {
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/ims-token');
    expect(defaultCacheDir({})).toMatch(/\.cache\/ims-token$/);
  });

  it('a provider with a FileStore keeps the token file private and reuses it', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const a = env.make({ store: new FileStore({ dir }) });
    const t = await a.getToken();
    const file = new FileStore({ dir }).pathFor(a.cacheKey);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, 'utf8')).not.toContain(env.secret);
    const b = env.make({ store: new FileStore({ dir }) });
    expect((await b.getToken()).accessToken).toBe(t.accessToken);
    expect(env.emu.stats.tokensMinted).toBe(1);
  });
});

describe('FileStore across processes', () => {
  it('two (and eight) processes starting at once on a cold cache mint once', async () => {
    env = await setup();
    env.emu.fault({ kind: 'latency', latencyMs: 300 });
    dir = await mkdtemp(join(tmpdir(), 'ims-fs-'));
    const dist = pathToFileURL(fileURLToPath(new URL('../dist/index.js', import.meta.url))).href;
    const script = `import { createTokenProvider, FileStore } from ${JSON.stringify(dist)};
      const p = createTokenProvider({ clientId: process.env.CID, clientSecret: process.env.SEC, scopes: 'openid', imsUrl: process.env.URL, store: new FileStore({ dir: process.env.DIR }) });
      const t = await p.getToken(); await p.close();
      const { createHash } = await import('node:crypto');
      console.log(createHash('sha256').update(t.accessToken).digest('hex'));`;
    const run = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
          env: { PATH: process.env.PATH, CID: env!.clientId, SEC: env!.secret, URL: env!.emu.url, DIR: dir },
        });
        let out = '';
        let err = '';
        child.stdout.on('data', (c: Buffer) => (out += c));
        child.stderr.on('data', (c: Buffer) => (err += c));
        child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`exit ${code}: ${err}`))));
      });
    const hashes = await Promise.all(Array.from({ length: 8 }, run));
    expect(new Set(hashes).size).toBe(1);
    expect(env.emu.stats.tokensMinted).toBe(1);
  });
});
