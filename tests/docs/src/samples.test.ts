/**
 * Every TypeScript/JavaScript block of every README and doc (see ./samples.ts for the markers): each one is
 * type-checked as its own ES module under strict settings against the built packages, and the ones marked
 * `run` are run with node against an emulator (IMS_* point at it; the CLI's cache goes to a temp folder).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allSamples, ROOT } from './samples';
import type { Sample } from './samples';

/**
 * Samples in READMEs this project's docs owner does not edit, known to fail, with why. They are reported
 * as skipped (so a fix made elsewhere never turns this red); remove the entry once its README is fixed.
 */
const KNOWN_BROKEN: Record<string, string> = {};

const DIR = join(ROOT, 'tests', 'docs', '.samples');
const samples = allSamples();
const fileOf = (s: Sample): string => join(DIR, `${s.id}.${s.lang === 'ts' ? 'ts' : 'mjs'}`);
let diagnostics = new Map<string, string[]>();
let emu: Emulator | undefined;
let cache: string | undefined;

beforeAll(() => {
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  writeFileSync(join(DIR, 'package.json'), '{ "type": "module" }\n');
  writeFileSync(
    join(DIR, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2023'],
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        strict: true,
        noUncheckedIndexedAccess: true,
        noImplicitReturns: true,
        noImplicitOverride: true,
        noFallthroughCasesInSwitch: true,
        esModuleInterop: true,
        allowJs: true,
        checkJs: true,
        skipLibCheck: true,
        noEmit: true,
      },
      include: ['*.ts', '*.mjs'],
    }),
  );
  // `export {}` keeps each block a module of its own, so two samples may use the same names.
  for (const s of samples) if (s.mode !== 'fragment') writeFileSync(fileOf(s), `${s.code}\nexport {};\n`);
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', DIR, '--pretty', 'false'], {
    encoding: 'utf8',
  });
  diagnostics = new Map();
  for (const line of `${tsc.stdout}${tsc.stderr}`.split('\n')) {
    const m = /^(.+?)\((\d+),\d+\): (error .*)$/.exec(line);
    if (!m) continue;
    const key = m[1]!.replace(/^.*[\\/]/, '').replace(/\.(ts|mjs)$/, '');
    diagnostics.set(key, [...(diagnostics.get(key) ?? []), `line ${m[2]}: ${m[3]}`]);
  }
}, 120_000);

afterAll(async () => {
  await emu?.stop();
  if (cache) rmSync(cache, { recursive: true, force: true });
});

describe('README and doc samples', () => {
  it('finds the samples', () => {
    expect(samples.length).toBeGreaterThan(10);
    expect(samples.filter((s) => s.mode === 'fragment').length).toBeLessThanOrEqual(3); // keep exceptions rare
  });

  for (const s of samples) {
    const name = `${s.file}:${s.line} type-checks`;
    if (s.mode === 'fragment') it.skip(`${name} (fragment: ${s.reason})`, () => undefined);
    else if (KNOWN_BROKEN[s.id]) it.skip(`${name} (known broken: ${KNOWN_BROKEN[s.id]})`, () => undefined);
    else it(name, () => expect(diagnostics.get(s.id) ?? [], `${s.file}:${s.line}`).toEqual([]));
  }

  it("a package README's install line names every package its samples import", () => {
    for (const file of new Set(samples.filter((x) => x.file.startsWith('packages/')).map((x) => x.file))) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      // `name`, `name@range` and, until the first release, a packed `./ims-token-<pkg>-<version>.tgz` all name a package.
      const installed = new Set(
        [...text.matchAll(/^npm install([^\n#]*)/gm)]
          .flatMap((m) => m[1]!.trim().split(/\s+/))
          .map((arg) => {
            const packed = /ims-token-([a-z]+)-\d[^/]*\.tgz$/.exec(arg)?.[1];
            return packed ? `@ims-token/${packed}` : arg.replace(/(.)@[^/]*$/, '$1');
          }),
      );
      const imported = samples
        .filter((x) => x.file === file)
        .flatMap((x) => [...x.code.matchAll(/from '([^'.][^']*)'/g)].map((m) => m[1]!))
        .filter((spec) => !spec.startsWith('node:'))
        .map((spec) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!));
      for (const name of new Set(imported)) expect(installed, `${file} imports ${name} but no npm install line names it`).toContain(name);
    }
  });

  for (const s of samples.filter((x) => x.mode === 'run' && !KNOWN_BROKEN[x.id])) {
    it(`${s.file}:${s.line} runs against the emulator`, async () => {
      emu ??= await startEmulator();
      cache ??= mkdtempSync(join(tmpdir(), 'ims-docs-cache-'));
      const js = ts.transpileModule(s.code, {
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      const file = join(DIR, `${s.id}.run.mjs`);
      writeFileSync(file, js);
      const r = spawnSync(process.execPath, [file], {
        cwd: DIR,
        encoding: 'utf8',
        timeout: 30_000,
        env: {
          PATH: process.env['PATH'],
          HOME: cache,
          XDG_CACHE_HOME: cache,
          IMS_CLIENT_ID: DEFAULT_CLIENT_ID,
          IMS_CLIENT_SECRET: DEFAULT_CLIENT_SECRET,
          IMS_SCOPES: 'openid,AdobeID,firefly_api',
          IMS_URL: emu.url,
          IMS_MANAGEMENT_URL: emu.url,
        },
      });
      expect(r.status, `${s.file}:${s.line}\n${r.stdout}\n${r.stderr}`).toBe(0);
    });
  }
});
