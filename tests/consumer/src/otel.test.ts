/**
 * The consumer's view of @ims-token/otel: packed like a release, installed with npm into a fresh project with
 * @opentelemetry/api as the peer the user brings (and the SDK they record with), and run from CommonJS and ESM
 * against the emulator: a mint is recorded, and nothing of the token or the secret is.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorClient } from '@ims-token/emulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependencyClosure, summarize } from './footprint';
import { BUILT, cleanEnv, installConsumer, npmEnv, packAll, readJson, run } from './workspace';

const WORK = mkdtempSync(join(tmpdir(), 'ims-token-consumer-otel-'));
const JWT = /ey[\w-]{10,}\.ey[\w-]{10,}\.[\w-]{10,}/;
const ready = BUILT.has('core') && BUILT.has('otel');
let emu: Emulator;
let client: EmulatorClient & { clientSecret: string };
let dir: string;

/** What the user writes: their SDK, one instrumentImsToken() call, a provider; the script prints what it collected. */
const script = (format: 'cjs' | 'esm'): string => {
  const load =
    format === 'cjs'
      ? `const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics');
const { instrumentImsToken } = require('@ims-token/otel');
const { createTokenProvider } = require('@ims-token/core');
const { metrics } = require('@opentelemetry/api');
(async () => {`
      : `import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { createRequire } from 'node:module';
import { createTokenProvider } from '@ims-token/core';
import { metrics } from '@opentelemetry/api';
// otel's CommonJS build beside core's ESM one: the channels are process-wide, so it still sees the provider.
const { instrumentImsToken } = createRequire(import.meta.url)('@ims-token/otel');
{`;
  return `${load}
  class Reader extends MetricReader { onForceFlush() { return Promise.resolve(); } onShutdown() { return Promise.resolve(); } }
  const reader = new Reader();
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  const otel = instrumentImsToken();
  const provider = createTokenProvider({
    clientId: process.env.IMS_CLIENT_ID,
    clientSecret: process.env.IMS_CLIENT_SECRET,
    scopes: 'openid,AdobeID',
    imsUrl: process.env.IMS_URL,
    retryBaseDelayMs: 1,
  });
  await provider.getToken();
  await provider.getToken();
  const { resourceMetrics } = await reader.collect();
  const all = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  const points = (name) => all.find((m) => m.descriptor.name === name)?.dataPoints ?? [];
  const mint = points('ims_token.mints')[0];
  const hits = points('ims_token.get_token.calls').find((p) => p.attributes['ims_token.cache.result'] === 'hit');
  console.error(JSON.stringify(all)); // everything recorded, scanned by the test for the token and the secret
  console.log(JSON.stringify({
    format: '${format}',
    scope: resourceMetrics.scopeMetrics[0]?.scope.name,
    mints: mint?.value,
    outcome: mint?.attributes['ims_token.outcome'],
    clientId: mint?.attributes['ims_token.client.id'],
    hits: hits?.value,
  }));
  otel.disable();
  await provider.close();
}${format === 'cjs' ? ')().catch((e) => { console.error(e); process.exit(1); });' : ''}
`;
};

beforeAll(async () => {
  emu = await startEmulator();
  client = emu.addClient({ allowedScopes: ['openid', 'AdobeID'] });
  if (!ready) return;
  const tarballs = await packAll(['core', 'otel'], join(WORK, 'tarballs'));
  dir = await installConsumer(
    WORK,
    { id: 'otel', ours: ['@ims-token/otel'], thirdParty: { '@opentelemetry/api': '^1.9.0', '@opentelemetry/sdk-metrics': '^2.0.0' } },
    tarballs,
  );
  writeFileSync(join(dir, 'check.cjs'), script('cjs'));
  writeFileSync(join(dir, 'check.mjs'), script('esm'));
});

afterAll(async () => {
  await emu?.stop();
  if (!process.env.IMS_KEEP_CONSUMER_WORK) rmSync(WORK, { recursive: true, force: true });
});

describe.skipIf(!ready)('npm install @ims-token/otel @opentelemetry/api', () => {
  it('brings only core and undici of its own; the API is the peer the user installed, and npm ls finds no problem', async () => {
    const closure = summarize(dependencyClosure(dir, ['@ims-token/otel']).packages).list.map((s) => s.replace(/@[^@]+$/, ''));
    expect(closure).toEqual(['@ims-token/core', '@ims-token/otel', 'undici']);
    const manifest = readJson(join(dir, 'node_modules', '@ims-token', 'otel', 'package.json'));
    expect(manifest['peerDependencies']).toEqual({ '@opentelemetry/api': expect.any(String) });
    const ls = await run('npm', ['ls', '--all'], { cwd: dir, env: npmEnv() });
    expect(ls.code, ls.stdout + ls.stderr).toBe(0);
  });

  it.each(['check.cjs', 'check.mjs'])('%s records a mint and getToken hits through the global MeterProvider', async (file) => {
    const r = await run(process.execPath, [file], {
      cwd: dir,
      env: cleanEnv({ IMS_URL: emu.url, IMS_CLIENT_ID: client.clientId, IMS_CLIENT_SECRET: client.clientSecret }),
      timeoutMs: 60_000,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(client.clientSecret);
    expect(r.stdout + r.stderr).not.toMatch(JWT);
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({
      format: file.endsWith('.cjs') ? 'cjs' : 'esm',
      scope: '@ims-token/otel',
      mints: 1,
      outcome: 'success',
      clientId: client.clientId,
      hits: 1,
    });
  });
});
