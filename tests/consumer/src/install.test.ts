/**
 * The consumer's view: every built package is packed (`pnpm pack`, as publishing would), then installed
 * with npm into fresh projects under os.tmpdir(), the way a user installs one adapter, and used from
 * CommonJS, ESM and TypeScript against an emulator. Installs run in parallel and share one npm cache.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorClient } from '@ims-token/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependencyClosure, kb, listInstalled, namesOf, summarize } from './footprint';
import type { Footprint } from './footprint';
import {
  BUILT,
  FIXTURES,
  PUBLISHED_DIRS,
  ROOT,
  cleanEnv,
  installConsumer,
  installGlobal,
  npmEnv,
  packAll,
  readJson,
  run,
  runOk,
} from './workspace';
import type { ConsumerSpec, PackageDir } from './workspace';

interface Spec extends ConsumerSpec {
  needs: readonly PackageDir[];
  fixtures?: readonly string[];
}

const SPECS = {
  core: { id: 'core', ours: ['@ims-token/core'], needs: ['core'], fixtures: ['core/check.cjs', 'core/check.mjs', 'core/no-redis.cjs'] },
  fetch: { id: 'fetch', ours: ['@ims-token/fetch'], needs: ['core', 'fetch'], fixtures: ['fetch/check.cjs', 'fetch/check.mjs'] },
  express4: {
    id: 'express4',
    ours: ['@ims-token/express'],
    thirdParty: { express: '^4.21.2' },
    needs: ['core', 'fetch', 'express'],
    fixtures: ['express/app.cjs', 'express/app.mjs'],
  },
  express5: {
    id: 'express5',
    ours: ['@ims-token/express'],
    thirdParty: { express: '^5.1.0' },
    needs: ['core', 'fetch', 'express'],
    fixtures: ['express/app.cjs', 'express/app.mjs'],
  },
  redis: {
    id: 'redis',
    ours: ['@ims-token/core', '@ims-token/redis'],
    needs: ['core', 'redis'],
    fixtures: ['redis/check.cjs', 'redis/check.mjs'],
  },
  emulator: { id: 'emulator', ours: ['@ims-token/emulator'], needs: ['emulator'], fixtures: ['emulator/check.cjs', 'emulator/check.mjs'] },
  types: {
    id: 'types',
    ours: PUBLISHED_DIRS.map((d) => `@ims-token/${d}`),
    thirdParty: { express: '^5.1.0', '@types/express': '^5.0.0', '@types/node': '^20.19.0' },
    needs: PUBLISHED_DIRS,
    fixtures: ['exports-parity.mjs', 'ts/example.ts', 'ts/require-style.cts', 'ts/tsconfig.node16.json', 'ts/tsconfig.bundler.json'],
  },
} satisfies Record<string, Spec>;
type SpecId = keyof typeof SPECS;

const ready = (needs: readonly PackageDir[]): boolean => needs.every((d) => BUILT.has(d));
const WORK = mkdtempSync(join(tmpdir(), 'ims-token-consumer-'));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const REDIS_URL = process.env.IMS_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const JWT = /ey[\w-]{10,}\.ey[\w-]{10,}\.[\w-]{10,}/;

interface FootprintRecord {
  install: string;
  /** The package and everything its `dependencies` bring (what choosing it costs). */
  closure: Omit<Footprint, 'list'> & { kib: Record<string, number> };
  /** Everything npm put in node_modules (for express: express itself too). */
  nodeModules: Omit<Footprint, 'list'>;
}
const footprints: Record<string, FootprintRecord> = {};
const installs = new Map<string, Promise<string>>();
let emu: Emulator;
let client: EmulatorClient & { clientSecret: string };
let tarballs: Map<string, string>;

function installed(id: SpecId | 'cli'): Promise<string> {
  const p = installs.get(id);
  if (!p) throw new Error(`install ${id} was not started`);
  return p;
}

function record(label: string, install: string, top: string, names: readonly string[]): Footprint {
  const packages = dependencyClosure(top, names).packages;
  const closure = summarize(packages);
  const all = summarize(listInstalled(join(top, 'node_modules')));
  const kib = Object.fromEntries(packages.map((p) => [`${p.name}@${p.version}`, Math.round(p.bytes / 1024)]));
  footprints[label] = {
    install,
    closure: { packages: closure.packages, bytes: closure.bytes, kib },
    nodeModules: { packages: all.packages, bytes: all.bytes },
  };
  return closure;
}

/** Runs a fixture with node in `cwd`; returns its last stdout line parsed; fails on a leaked secret or token. */
async function node(cwd: string, file: string): Promise<Record<string, unknown>> {
  const r = await run(process.execPath, [file], {
    cwd,
    env: cleanEnv({ IMS_URL: emu.url, IMS_CLIENT_ID: client.clientId, IMS_CLIENT_SECRET: client.clientSecret, REDIS_URL }),
    timeoutMs: 60_000,
  });
  const output = r.stdout + r.stderr;
  expect(output).not.toContain(client.clientSecret);
  expect(output).not.toMatch(JWT);
  if (r.code !== 0) throw new Error(`node ${file} exited ${r.code ?? r.signal}\n${output}`);
  const last = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(last) as Record<string, unknown>;
  } catch {
    throw new Error(`node ${file} printed no JSON line\n${output}`);
  }
}

function redisReachable(): Promise<boolean> {
  const { hostname, port } = new URL(REDIS_URL);
  return new Promise((resolve) => {
    const s = connect({ host: hostname, port: Number(port || 6379) });
    s.setTimeout(1000);
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
    s.once('timeout', () => done(false));
  });
}

beforeAll(async () => {
  emu = await startEmulator();
  client = emu.addClient({ allowedScopes: ['openid', 'AdobeID'] });
  const t0 = Date.now();
  tarballs = await packAll([...BUILT], join(WORK, 'tarballs'));
  console.log(`consumer: packed ${tarballs.size} tarballs in ${Date.now() - t0} ms (${[...BUILT].join(', ')}); work dir ${WORK}`);
  for (const spec of Object.values(SPECS) as Spec[]) {
    if (!ready(spec.needs)) continue;
    const p = installConsumer(WORK, spec, tarballs).then((dir) => {
      for (const f of spec.fixtures ?? []) copyFileSync(join(FIXTURES, f), join(dir, f.split('/').pop()!));
      return dir;
    });
    installs.set(spec.id, p);
  }
  if (ready(['core', 'cli'])) installs.set('cli', installGlobal(join(WORK, 'global'), ['@ims-token/cli', '@ims-token/core'], tarballs));
  // Each test awaits its own install; keep a failed one from being reported as unhandled before then.
  for (const p of installs.values()) p.catch(() => undefined);
  const settled = await Promise.allSettled(installs.values());
  console.log(
    `consumer: ${installs.size} npm installs in parallel took ${Date.now() - t0} ms (${settled.filter((s) => s.status === 'rejected').length} failed)`,
  );
});

afterAll(async () => {
  await emu?.stop();
  if (Object.keys(footprints).length > 0) {
    const report = { node: process.version, built: [...BUILT], footprints };
    mkdirSync(join(ROOT, '.reports'), { recursive: true });
    writeFileSync(join(ROOT, '.reports', 'footprint.json'), `${JSON.stringify(report, null, 2)}\n`);
    const rows = Object.entries(footprints).map(
      ([label, f]) =>
        `  ${label.padEnd(32)} ${String(f.closure.packages).padStart(3)} pkgs ${kb(f.closure.bytes).padStart(9)}   node_modules: ${String(f.nodeModules.packages).padStart(3)} pkgs ${kb(f.nodeModules.bytes).padStart(9)}`,
    );
    console.log(
      `consumer footprint (the package and what it brings | everything npm installed):\n${rows.join('\n')}\n  → .reports/footprint.json`,
    );
  }
  if (!process.env.IMS_KEEP_CONSUMER_WORK) rmSync(WORK, { recursive: true, force: true });
});

// The suites below skip a package that is not built (handy while one is being written); this makes such a skip
// a failure, so a missing build can never pass unnoticed.
it('every published package is built, so no consumer suite below is skipped', () => {
  expect([...PUBLISHED_DIRS].filter((d) => !BUILT.has(d))).toEqual([]);
});

describe.skipIf(!ready(SPECS.core.needs))('npm install @ims-token/core', () => {
  it('installs core and undici only (no zod: options are checked by hand)', async () => {
    const dir = await installed('core');
    const closure = record('@ims-token/core', 'npm install @ims-token/core', dir, ['@ims-token/core']);
    expect(closure.list.map((s) => s.replace(/@[^@]+$/, ''))).toEqual(['@ims-token/core', 'undici']);
    expect(namesOf(listInstalled(join(dir, 'node_modules')))).toEqual(['@ims-token/core', 'undici']);
    expect(existsSync(join(dir, 'node_modules', 'zod'))).toBe(false);
    const manifest = readJson(join(dir, 'node_modules', '@ims-token', 'core', 'package.json'));
    expect(Object.keys((manifest['dependencies'] as Record<string, string>) ?? {})).toEqual(['undici']);
  });

  it('require() and import both work and get a token from the emulator', async () => {
    const dir = await installed('core');
    const cjs = await node(dir, 'check.cjs');
    expect(cjs).toEqual({ format: 'cjs', tokenType: 'bearer', clientId: client.clientId, cached: true, mints: 1, branded: true });
    const esm = await node(dir, 'check.mjs');
    // Two copies of core in one process (a CJS and an ESM graph) still recognize each other's errors.
    expect(esm).toEqual({ format: 'esm', tokenType: 'bearer', clientId: client.clientId, mints: 1, twoCopies: true, crossCopyIs: true });
  });

  it('IMS_TOKEN_CACHE=redis://… without @ims-token/redis is an IMS_CONFIG error that says to install it', async () => {
    const dir = await installed('core');
    const before = emu.stats.tokenRequests;
    const out = await node(dir, 'no-redis.cjs');
    expect(out).toMatchObject({ ok: false, code: 'IMS_CONFIG', message: expect.stringContaining('@ims-token/redis') });
    expect(out['hint']).toContain('npm install @ims-token/redis');
    expect(emu.stats.tokenRequests).toBe(before);
  });
});

describe.skipIf(!ready(SPECS.fetch.needs))('npm install @ims-token/fetch', () => {
  it('installs exactly core and undici besides itself', async () => {
    const dir = await installed('fetch');
    record('@ims-token/fetch', 'npm install @ims-token/fetch', dir, ['@ims-token/fetch']);
    expect(namesOf(listInstalled(join(dir, 'node_modules')))).toEqual(['@ims-token/core', '@ims-token/fetch', 'undici']);
    // One copy of each: npm deduped undici between core and fetch.
    expect(listInstalled(join(dir, 'node_modules'))).toHaveLength(3);
  });

  it('require() and import both work: createImsFetch and imsInterceptor call the sample API with a token', async () => {
    const dir = await installed('fetch');
    expect(await node(dir, 'check.cjs')).toEqual({ format: 'cjs', status: 200, clientId: client.clientId });
    expect(await node(dir, 'check.mjs')).toEqual({
      format: 'esm',
      status: 200,
      clientId: client.clientId,
      interceptorStatus: 200,
      interceptorClientId: client.clientId,
      mints: 1,
    });
  });
});

describe.skipIf(!ready(SPECS.express4.needs))('@ims-token/express', () => {
  describe.each([
    { major: 4, id: 'express4' as const },
    { major: 5, id: 'express5' as const },
  ])('npm install @ims-token/express express@$major', ({ major, id }) => {
    it('brings only our packages and undici on top of express; npm ls finds no problem (peer range met)', async () => {
      const dir = await installed(id);
      const closure = record(`@ims-token/express (express ${major})`, `npm install @ims-token/express express@${major}`, dir, [
        '@ims-token/express',
      ]);
      expect(closure.list.map((s) => s.replace(/@[^@]+$/, ''))).toEqual([
        '@ims-token/core',
        '@ims-token/express',
        '@ims-token/fetch',
        'undici',
      ]);
      expect(readJson(join(dir, 'node_modules', 'express', 'package.json')).version.split('.')[0]).toBe(String(major));
      const ls = await run('npm', ['ls', '--all'], { cwd: dir, env: npmEnv() });
      expect(ls.code, ls.stdout + ls.stderr).toBe(0);
    });

    it('a tiny app serves req.ims.headers() and calls the sample API with them, from CommonJS and from ESM', async () => {
      const dir = await installed(id);
      for (const [file, format] of [
        ['app.cjs', 'cjs'],
        ['app.mjs', 'esm'],
      ] as const) {
        const out = await node(dir, file);
        expect(out).toEqual({
          format,
          express: expect.stringMatching(new RegExp(`^${major}\\.`)),
          status: 200,
          authorization: 'Bearer <6 chars>…', // JSON of the headers never shows the whole token
          apiKey: client.clientId,
          whoami: 200, // the headers themselves, spread into a request, carry it
          clientId: client.clientId,
          mints: 1,
        });
      }
    });
  });
});

describe.skipIf(!ready(['core', 'cli']))('npm install -g @ims-token/cli', () => {
  const prefix = join(WORK, 'global');
  const bin = join(prefix, 'bin');
  const cliEnv = (): NodeJS.ProcessEnv =>
    cleanEnv({
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      HOME: join(WORK, 'home'),
      XDG_CACHE_HOME: join(WORK, 'xdg-cache'),
      IMS_URL: emu.url,
      IMS_CLIENT_ID: client.clientId,
      IMS_CLIENT_SECRET: client.clientSecret,
      IMS_SCOPES: 'openid,AdobeID',
    });

  it('puts ims-token on the PATH; --version prints the package version', async () => {
    await installed('cli');
    const lib = join(prefix, 'lib');
    record('@ims-token/cli (global)', 'npm install -g @ims-token/cli', lib, ['@ims-token/cli']);
    const r = await runOk('ims-token', ['--version'], { cwd: WORK, env: cliEnv() });
    expect(r.stdout.trim()).toBe(readJson(join(ROOT, 'packages', 'cli', 'package.json')).version);
  });

  it('ims-token token prints a token from the emulator and nothing else; a second run uses the file cache', async () => {
    await installed('cli');
    const before = emu.stats.tokenRequests;
    const first = await runOk('ims-token', ['token'], { cwd: WORK, env: cliEnv() });
    const token = first.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    expect(first.stdout).toBe(`${token}\n`);
    expect(first.stderr).not.toContain(client.clientSecret);
    const second = await runOk('ims-token', ['token'], { cwd: WORK, env: cliEnv() });
    expect(second.stdout).toBe(first.stdout);
    expect(emu.stats.tokenRequests - before).toBe(1);
  });
});

describe.skipIf(!ready(SPECS.redis.needs))('npm install @ims-token/core @ims-token/redis', () => {
  it('brings the redis client; IMS_TOKEN_CACHE=redis:// finds @ims-token/redis and a second provider takes the stored token', async () => {
    const dir = await installed('redis');
    const closure = record('@ims-token/redis', 'npm install @ims-token/core @ims-token/redis', dir, ['@ims-token/redis']);
    // node-redis's client alone: not the `redis` meta-package with its search/JSON/bloom/time-series modules
    expect(closure.list.some((s) => s.startsWith('@redis/client@'))).toBe(true);
    expect(closure.list.some((s) => s.startsWith('redis@') || s.startsWith('@redis/search@'))).toBe(false);
    expect(await redisReachable(), `Redis is not reachable at ${REDIS_URL} (start redis-server, see CONTRIBUTING.md)`).toBe(true);
    expect(await node(dir, 'check.cjs')).toEqual({
      format: 'cjs',
      redisStore: 'function',
      same: true,
      firstMints: 1,
      secondMints: 0,
      secondStoreHits: 1,
    });
    expect(await node(dir, 'check.mjs')).toEqual({ format: 'esm', stored: true });
  });
});

describe.skipIf(!ready(SPECS.emulator.needs))('npm install @ims-token/emulator', () => {
  it('has no dependencies; require(), import and the ims-emulator bin work', async () => {
    const dir = await installed('emulator');
    record('@ims-token/emulator', 'npm install @ims-token/emulator', dir, ['@ims-token/emulator']);
    expect(namesOf(listInstalled(join(dir, 'node_modules')))).toEqual(['@ims-token/emulator']);
    for (const [file, format] of [
      ['check.cjs', 'cjs'],
      ['check.mjs', 'esm'],
    ] as const) {
      expect(await node(dir, file)).toEqual({ format, status: 200, tokenType: 'bearer', minted: 1 });
    }
    const help = await runOk(join(dir, 'node_modules', '.bin', 'ims-emulator'), ['--help'], { cwd: dir, env: cleanEnv() });
    expect(help.stdout).toContain('Usage: ims-emulator');
  });
});

describe.skipIf(!ready(SPECS.types.needs))('a TypeScript consumer of every package', () => {
  async function typesDir(): Promise<string> {
    const dir = await installed('types');
    for (const ext of ['cts', 'mts']) copyFileSync(join(dir, 'example.ts'), join(dir, `example.${ext}`));
    return dir;
  }

  it.each(['node16', 'bundler'])('type-checks the example (and our .d.ts, skipLibCheck off) under moduleResolution %s', async (mode) => {
    const dir = await typesDir();
    const r = await run(process.execPath, [TSC, '-p', join(dir, `tsconfig.${mode}.json`)], { cwd: dir, env: cleanEnv() });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('require() and import give every package the same named exports', async () => {
    const dir = await typesDir();
    const names = PUBLISHED_DIRS.map((d) => `@ims-token/${d}`);
    const r = await runOk(process.execPath, ['exports-parity.mjs', ...names], { cwd: dir, env: cleanEnv() });
    const parity = JSON.parse(r.stdout) as Record<string, { cjs: string[]; esm: string[] }>;
    for (const name of names) {
      expect(parity[name]!.esm, name).toEqual(parity[name]!.cjs);
      expect(parity[name]!.esm.length, `${name} exports something`).toBeGreaterThan(0);
    }
  });
});

it('every published package is built (CI builds first; locally the missing ones are skipped above)', () => {
  const missing = PUBLISHED_DIRS.filter((d) => !BUILT.has(d));
  if (missing.length > 0 && !process.env.CI) {
    console.warn(`consumer: not built, skipped: ${missing.join(', ')} (run pnpm build)`);
    return;
  }
  expect(missing).toEqual([]);
});

// The tarballs hold what `files` lists, and the install shows each package's README and LICENSE to npm.
describe('the tarballs', () => {
  it('hold dist (and a bin launcher), package.json, README.md and LICENSE, and no sources or tests', async () => {
    await Promise.allSettled(installs.values());
    for (const [name, file] of tarballs) {
      const r = await runOk('tar', ['-tzf', file], { cwd: WORK });
      const entries = r.stdout
        .trim()
        .split('\n')
        .map((e) => e.replace(/^package\//, ''));
      expect(entries, name).toContain('package.json');
      expect(entries, name).toContain('LICENSE');
      expect(entries, `${name} has a README.md`).toContain('README.md');
      expect(
        entries.filter(
          (e) => !/^(dist\/|bin\/[\w-]+\.cjs$|package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$|THIRD_PARTY_NOTICES\.md$)/.test(e),
        ),
        name,
      ).toEqual([]);
      expect(
        entries.filter((e) => /\.test\.|\/test\//.test(e)),
        name,
      ).toEqual([]);
      const manifest = JSON.parse(readFileSync(join(ROOT, 'packages', name.split('/')[1]!, 'package.json'), 'utf8')) as { version: string };
      expect(file.endsWith(`-${manifest.version}.tgz`)).toBe(true);
    }
  });
});
