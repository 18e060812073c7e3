// Every subject is wrapped the same way (an async function returning the token string), so the speed column
// compares the libraries, not the wrappers.
// Side by side, in one run, against the same emulator: ims-token, a ten-line hand-written closure, and
// Adobe's Firefly Services SDK token provider (@adobe/firefly-services-common-apis ServerToServerTokenProvider).
// Peers are installed on demand into bench/peers (outside the workspace).
// Run: pnpm --filter @ims-token/bench bench:peers
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { createTokenProvider } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';

const peersDir = fileURLToPath(new URL('./peers/', import.meta.url));
if (!existsSync(`${peersDir}node_modules/@adobe/firefly-services-common-apis`)) {
  console.log('installing peers into bench/peers …');
  execFileSync('npm', ['install', '--no-audit', '--no-fund', '--silent'], { cwd: peersDir, stdio: 'inherit' });
}
const peerRequire = createRequire(`${peersDir}package.json`);
const { ServerToServerTokenProvider } = peerRequire('@adobe/firefly-services-common-apis');

const emu = await startEmulator();
const client = emu.addClient();
const creds = { clientId: client.clientId, clientSecret: client.clientSecret, scopes: 'openid,AdobeID' };

/** The ten-line closure a careful team writes by hand: cache the promise, refresh 60 s (here 10 %) before expiry. */
function closure({ clientId, clientSecret, scopes, imsUrl }) {
  let cached;
  return () => {
    if (cached && Date.now() < cached.refreshAt) return cached.promise;
    const promise = fetch(`${imsUrl}/ims/token/v3`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: scopes }),
    })
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`IMS answered ${r.status}`))))
      .then(
        (j) => {
          entry.refreshAt = Date.now() + j.expires_in * 900;
          return j.access_token;
        },
        (e) => {
          cached = undefined;
          throw e;
        },
      );
    const entry = (cached = { promise, refreshAt: Infinity });
    return promise;
  };
}

const subjects = {
  'ims-token': () => {
    const p = createTokenProvider({ ...creds, imsUrl: emu.url, retryBaseDelayMs: 50 });
    return { get: async () => (await p.getToken()).accessToken, close: () => p.close() };
  },
  'ten-line closure': () => {
    const get = closure({ ...creds, imsUrl: emu.url });
    return { get: async () => await get(), close: async () => {} };
  },
  'firefly-services-common-apis': () => {
    const p = new ServerToServerTokenProvider(creds, { autoRefresh: true });
    p._baseUrlMap = new Map([['production', emu.url]]); // it hard-codes IMS production; point it at the emulator
    return { get: () => p.getToken(), close: async () => {} };
  },
};

const valid = async (token) =>
  (await fetch(`${emu.url}/api/v1/whoami`, { headers: { authorization: `Bearer ${token}`, 'x-api-key': creds.clientId } })).status === 200;
async function opsPerSec(fn, ms = 300) {
  let n = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    for (let i = 0; i < 2_000; i++) await fn();
    n += 2_000;
  }
  return (n / ms) * 1000;
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const quiet = console.error;

const rows = [];
for (const [name, make] of Object.entries(subjects)) {
  console.error = () => {}; // the Firefly SDK console.errors every failure
  const row = { name };
  // 1. cold stampede (24 h tokens)
  emu.setTokenLifetime(86_399);
  emu.resetStats();
  emu.fault({ kind: 'latency', latencyMs: 20 });
  let s = make();
  await Promise.all(Array.from({ length: 1_000 }, () => s.get()));
  row.stampede = emu.stats.tokenRequests;
  // 2. cached speed
  row.opsPerSec = await opsPerSec(s.get);
  await s.close();
  // 3. after the first token expired (3 s lifetime): is what it hands out still valid?
  emu.setTokenLifetime(3);
  s = make();
  await s.get();
  await sleep(3_200);
  row.afterExpiry = (await valid(await s.get())) ? 'valid' : 'EXPIRED token';
  await s.close();
  emu.setTokenLifetime(86_399);
  // 4. one 503 from IMS on a cold start
  s = make();
  emu.fault({ kind: 'status', status: 503 });
  row.after503 = await s.get().then(
    async (t) => ((await valid(t)) ? 'recovered' : 'bad token'),
    (e) => `failed (${String(e.message ?? e).slice(0, 40)})`,
  );
  await s.close();
  console.error = quiet;
  rows.push(row);
}
await emu.stop();

const floor = rows.find((r) => r.name === 'ten-line closure').opsPerSec;
console.log(
  '\n| library | IMS requests for 1,000 cold callers | cached ops/s vs closure | token after expiry | one IMS 503 on cold start |',
);
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.name} | ${r.stampede} | ${(r.opsPerSec / floor).toFixed(2)}× | ${r.afterExpiry} | ${r.after503} |`);
