import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { setup } from './test/helpers';
import type { Env } from './test/helpers';

// What a cold process pays for before its first token: require core, createTokenProvider, getToken() over
// plain http (the emulator). Node's built-ins that the default path never uses must not load on it:
// node:crypto (~5 ms: the cache key is hashed in JS), node:fs/promises (~3 ms), node:module (the ESM
// loader), node:https/tls; nor undici, nor rotation's chunk. Counted from process.moduleLoadList, which
// lists every built-in a process has loaded.

let env: Env;
let dir: string;
beforeAll(async () => {
  env = await setup();
  dir = mkdtempSync(join(tmpdir(), 'ims-cold-'));
});
afterAll(async () => {
  await env.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const dist = (file: string): string => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));

/** Runs `body` as a script file (which must end by writing JSON on stdout) after recording the built-ins loaded so far. */
async function cold<T extends Record<string, string[]>>(name: string, body: string): Promise<T> {
  const file = join(dir, name);
  writeFileSync(file, body);
  const { NODE_PATH: _np, NODE_OPTIONS: _no, HTTPS_PROXY: _a, HTTP_PROXY: _b, https_proxy: _c, http_proxy: _d, ...rest } = process.env;
  const { stdout } = await promisify(execFile)(process.execPath, [file], {
    env: { ...rest, IMS_CLIENT_ID: env.clientId, IMS_CLIENT_SECRET: env.secret, IMS_SCOPES: 'openid', IMS_URL: env.emu.url },
    encoding: 'utf8',
  });
  return JSON.parse(stdout) as T;
}

const PROBE = `
const seen = () => new Set(process.moduleLoadList);
const since = (before) => process.moduleLoadList.filter((m) => !before.has(m) && m.startsWith('NativeModule ')).map((m) => m.slice(13)).filter((m) => !m.startsWith('internal/'));
const files = () => Object.keys(require.cache).filter((f) => !f.endsWith('.cjs') || /undici|rotation/.test(f));`;

const HEAVY = ['crypto', 'fs/promises', 'module', 'https', 'tls', 'os'];

describe('a cold process (CommonJS)', () => {
  it('loads no built-in but diagnostics_channel at require and createTokenProvider time, and only node:http for the token', async () => {
    const out = await cold<{ required: string[]; created: string[]; token: string[]; files: string[] }>(
      'core.cjs',
      `${PROBE}
      const b0 = seen();
      const { createTokenProvider, fromEnv } = require(${JSON.stringify(dist('index.cjs'))});
      const required = since(b0);
      const b1 = seen();
      const p = createTokenProvider(fromEnv());
      const created = since(b1);
      const b2 = seen();
      p.getToken().then(async (t) => {
        const token = since(b2);
        await p.close();
        process.stdout.write(JSON.stringify({ required, created, token, files: files() }));
      });`,
    );
    // diagnostics_channel is the one built-in core needs at load (its channels, issue 17): about 0.4 ms, and
    // node:http loads it anyway for the token request, so a cold token costs nothing more for it.
    expect(out.required.filter((m) => m !== 'diagnostics_channel')).toEqual([]);
    expect(out.created).toEqual([]);
    expect(out.token).toContain('http');
    expect(out.token.filter((m) => HEAVY.includes(m))).toEqual([]);
    expect(out.files).toEqual([]); // nothing required beyond core's own file: no undici, no rotation chunk
  });

  it('mints through a file cache (lock, read, write) without node:fs/promises or node:crypto', async () => {
    const cache = join(dir, 'file-cache');
    const out = await cold<{ token: string[]; written: string[] }>(
      'core-file.cjs',
      `${PROBE}
      process.env.IMS_TOKEN_CACHE = ${JSON.stringify(`file:${cache}`)};
      const { createTokenProvider, fromEnv } = require(${JSON.stringify(dist('index.cjs'))});
      const p = createTokenProvider(fromEnv());
      const b0 = seen();
      p.getToken().then(async () => {
        const token = since(b0);
        await p.close();
        const written = require('node:fs').readdirSync(${JSON.stringify(cache)});
        process.stdout.write(JSON.stringify({ token, written }));
      });`,
    );
    // Its ~15 file calls are synchronous ones of node:fs (loaded at start-up): a cold run spares the ~3 ms
    // that loading node:fs/promises costs and a thread-pool round trip per call. os: the lock names its host.
    expect(out.token.filter((m) => HEAVY.includes(m) && m !== 'os')).toEqual([]);
    expect(out.written.filter((f) => f.endsWith('.json'))).toHaveLength(1); // the token file; the lock is gone
    expect(out.written.filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  it('the cache entry reads a token file with built-ins that are already loaded', async () => {
    const out = await cold<{ loaded: string[] }>(
      'cache.cjs',
      `${PROBE}
      const b0 = seen();
      const { cacheKeyFor, readCachedTokenSync, defaultCacheDir } = require(${JSON.stringify(dist('cache.cjs'))});
      readCachedTokenSync(defaultCacheDir(), cacheKeyFor('https://ims-na1.adobelogin.com', 'abc', ['openid']));
      const loaded = since(b0); // before process.stdout, which loads net for a pipe
      process.stdout.write(JSON.stringify({ loaded }));`,
    );
    expect(out.loaded).toEqual([]);
  });
});

describe('a cold process (ESM)', () => {
  it('gets its token without loading node:crypto, node:fs/promises, node:os or node:https', async () => {
    const out = await cold<{ loaded: string[] }>(
      'core.mjs',
      `const before = new Set(process.moduleLoadList);
      const { createTokenProvider, fromEnv } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)});
      const p = createTokenProvider(fromEnv());
      await p.getToken();
      await p.close();
      const loaded = process.moduleLoadList.filter((m) => !before.has(m)).map((m) => m.replace(/^NativeModule /, ''));
      process.stdout.write(JSON.stringify({ loaded }));`,
    );
    // What Node itself loads for an ESM import of node:http (Node 24 loads os, crypto … with its ESM loader)
    // is not ours to avoid: only what core adds counts.
    const floor = await cold<{ loaded: string[] }>(
      'http-floor.mjs',
      `const before = new Set(process.moduleLoadList);
      await import('node:http');
      const loaded = process.moduleLoadList.filter((m) => !before.has(m)).map((m) => m.replace(/^NativeModule /, ''));
      process.stdout.write(JSON.stringify({ loaded }));`,
    );
    expect(out.loaded.filter((m) => HEAVY.includes(m) && !floor.loaded.includes(m))).toEqual([]);
  });
});
