// Benchmarks of @ims-token/core. Every figure is a ratio measured in this one run.
//   1. cached getToken() against a floor: a closure returning a cached resolved promise (target ≥ 0.8×)
//   2. cold stampede: IMS requests for 10,000 concurrent callers on a cold cache (target 1)
//   3. import time of @ims-token/core (CJS and ESM) against `node -e 0` (target ≤ 1.25×)
// Run: pnpm bench   (after pnpm build)
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { createTokenProvider } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';

const require = createRequire(import.meta.url);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function opsPerSec(fn, ms = 400) {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 10_000; i++) await fn();
    n += 10_000;
  }
  return (n / ms) * 1000;
}

const emu = await startEmulator();
const client = emu.addClient();
const provider = createTokenProvider({
  clientId: client.clientId,
  clientSecret: client.clientSecret,
  scopes: 'openid,AdobeID',
  imsUrl: emu.url,
});
const cached = await provider.getToken();
const floorPromise = Promise.resolve(cached);
const floor = () => floorPromise;

// 1. hot path, alternating rounds so that both see the same machine state
const ours = [];
const bare = [];
for (let round = 0; round < 7; round++) {
  bare.push(await opsPerSec(floor));
  ours.push(await opsPerSec(() => provider.getToken()));
}
const oursHeaders = [];
for (let round = 0; round < 3; round++) oursHeaders.push(await opsPerSec(() => provider.getAuthHeaders()));
const hot = median(ours) / median(bare);
console.log(
  `cached getToken():      ${(median(ours) / 1e6).toFixed(2)} M ops/s, floor ${(median(bare) / 1e6).toFixed(2)} M ops/s → ${hot.toFixed(2)}× the floor (target ≥ 0.80×)`,
);
console.log(
  `cached getAuthHeaders(): ${(median(oursHeaders) / 1e6).toFixed(2)} M ops/s → ${(median(oursHeaders) / median(bare)).toFixed(2)}× the floor`,
);

// 2. cold stampede
emu.resetStats();
emu.fault({ kind: 'latency', latencyMs: 20 });
const cold = createTokenProvider({
  clientId: client.clientId,
  clientSecret: client.clientSecret,
  scopes: 'openid,AdobeID',
  imsUrl: emu.url,
});
const tokens = await Promise.all(Array.from({ length: 10_000 }, () => cold.getToken()));
const distinct = new Set(tokens.map((t) => t.accessToken)).size;
console.log(
  `cold stampede:          10,000 concurrent callers → ${emu.stats.tokenRequests} IMS request(s), ${distinct} distinct token(s) (target 1)`,
);
await cold.close();
await provider.close();
await emu.stop();

// 3. import time, alternating spawns
const corePath = require.resolve('@ims-token/core');
const coreEsm = new URL(import.meta.resolve('@ims-token/core')).href;
const time = (args) => {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed`);
  return Number(process.hrtime.bigint() - t) / 1e6;
};
const base = [];
const cjs = [];
const esm = [];
const esmBase = [];
for (let i = 0; i < 25; i++) {
  base.push(time(['-e', '0']));
  cjs.push(time(['-e', `require(${JSON.stringify(corePath)})`]));
  esmBase.push(time(['--input-type=module', '-e', 'await 0']));
  esm.push(time(['--input-type=module', '-e', `await import(${JSON.stringify(coreEsm)})`]));
}
console.log(
  `import time (CJS):      ${median(cjs).toFixed(1)} ms vs node -e 0 ${median(base).toFixed(1)} ms → ${(median(cjs) / median(base)).toFixed(2)}× (target ≤ 1.25×)`,
);
console.log(
  `import time (ESM):      ${median(esm).toFixed(1)} ms vs an empty ESM script ${median(esmBase).toFixed(1)} ms → ${(median(esm) / median(esmBase)).toFixed(2)}×`,
);
const ok = hot >= 0.8 && distinct === 1 && median(cjs) / median(base) <= 1.25;
console.log(ok ? 'core bench: all targets met' : 'core bench: a target was missed');
