// Overhead of @ims-token/fetch on a local HTTP server (requests/second, same server, same run).
//
//   pnpm --filter @ims-token/fetch build   # this script uses the built dist
//   node bench/fetch-overhead.mjs [--rounds 200] [--requests 200] [--swaps 3] [--warmup 3] [--concurrency 10] [--only dispatcher]
//
// Three comparisons, each a baseline A against an adapter B, measured in many short interleaved rounds so
// that a 3 % difference shows through this VM's noise (single seconds range 10-20k req/s):
//   1. undici fetch() with the two headers set by hand   vs createImsFetch({ fetch: undici.fetch })      (goal >= 0.97)
//   2. Agent request()                                    vs request() through createImsDispatcher()      (goal >= 0.97)
//   3. Agent.compose(no-op interceptor) request()         vs Agent.compose(imsInterceptor()) request()    (goal >= 0.95)
// A round runs each comparison as A B A B A B (`swaps` times; B A B A B A in every other round, so neither side
// always goes first; with a reference R the rounds go through all six orders of A, B and R), after one lead-in
// slice that is discarded, each slice `requests` requests with `concurrency` in flight (a fixed amount of work, so a
// slice that other load on the machine slows down still holds as many requests); the round's ratio is B's
// req/s over A's across its slices. The first `warmup` rounds are run and discarded. Reported: the median of
// the paired per-round ratios, its p25-p75, and a bootstrap 95 % interval of that median. A goal is "met" when
// the median reaches it and "shown" when the whole interval does ("NOT met, shown" when the interval lies
// below it). The same for client CPU per request (A's over B's).
// References, not goals, run in the same rounds: bare fetch without the headers (what carrying a ~1 KB
// token costs at all) and the Agent with the headers by hand; and the bare Agent against compose (what
// undici's compose() costs by itself: it converts between its two handler APIs on every request).
// The server runs in a child process (as a remote API would), so it does not take the client's CPU.
// The token comes from the emulator once (warm cache), so this measures the per-request cost of the adapters.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const root = new URL('../packages/', import.meta.url);
const { createImsDispatcher, createImsFetch, imsInterceptor } = await import(new URL('fetch/dist/index.js', root).href);
const { createTokenProvider } = await import(new URL('core/dist/index.js', root).href);
const { startEmulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } = await import(new URL('emulator/dist/index.js', root).href);
const undici = await import(new URL('fetch/node_modules/undici/index.js', root).href);
const undiciVersion = JSON.parse(readFileSync(new URL('fetch/node_modules/undici/package.json', root), 'utf8')).version;

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '200' },
    requests: { type: 'string', default: '200' },
    swaps: { type: 'string', default: '3' }, // A B pairs a round
    warmup: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '10' },
    only: { type: 'string' }, // fetch | dispatcher | interceptor: run one comparison
  },
});
const ROUNDS = Number(values.rounds);
const REQUESTS = Number(values.requests);
const SWAPS = Number(values.swaps);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);

// The target: a tiny keep-alive server on 127.0.0.1, in its own process (as a remote API would be),
// that counts the requests carrying credentials.
const serverSource = `
  const http = require('node:http');
  let authorized = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/authorized') { res.end(String(authorized)); authorized = 0; return; }
    if (req.headers.authorization && req.headers['x-api-key']) authorized++;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
    res.end('ok');
  });
  server.keepAliveTimeout = 60000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;
const child = spawn(process.execPath, ['-e', serverSource], { stdio: ['ignore', 'pipe', 'inherit'] });
const [portLine] = await once(child.stdout, 'data');
const origin = `http://127.0.0.1:${String(portLine).trim()}`;
const url = `${origin}/api/v1/thing`;

const emu = await startEmulator();
const provider = createTokenProvider({
  clientId: DEFAULT_CLIENT_ID,
  clientSecret: DEFAULT_CLIENT_SECRET,
  scopes: 'openid,AdobeID',
  imsUrl: emu.url,
});
await provider.getToken(); // warm cache: the bench measures the adapters, not IMS

const agent = new undici.Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 60_000 });
undici.setGlobalDispatcher(agent); // undici.fetch uses it, for both fetch variants
const composed = agent.compose(imsInterceptor({ provider, allowedHosts: ['127.0.0.1'] }));
// Reference: what undici's compose() costs by itself (it wraps/unwraps handlers between its two handler APIs).
const noopComposed = agent.compose((dispatch) => (opts, handler) => dispatch(opts, handler));
const imsFetch = createImsFetch({ provider, fetch: undici.fetch, allowedHosts: ['127.0.0.1'] });
const imsDispatcher = createImsDispatcher({ provider, dispatcher: agent, allowedHosts: ['127.0.0.1'] });

// Reference: the same two headers written by hand (what carrying a ~1 KB token costs by itself).
const auth = await provider.getAuthHeaders();
const staticHeaders = { authorization: auth.authorization, 'x-api-key': auth['x-api-key'] };

const variants = {
  'undici fetch + headers by hand': async () => {
    const res = await undici.fetch(url, { headers: staticHeaders });
    await res.arrayBuffer();
  },
  'Agent request + headers by hand': async () => {
    const res = await undici.request(url, { dispatcher: agent, headers: staticHeaders });
    await res.body.dump();
  },
  'undici fetch': async () => {
    const res = await undici.fetch(url);
    await res.arrayBuffer();
  },
  createImsFetch: async () => {
    const res = await imsFetch(url);
    await res.arrayBuffer();
  },
  'Agent request': async () => {
    const res = await undici.request(url, { dispatcher: agent });
    await res.body.dump();
  },
  'Agent.compose(no-op) request': async () => {
    const res = await undici.request(url, { dispatcher: noopComposed });
    await res.body.dump();
  },
  'Agent.compose(imsInterceptor) request': async () => {
    const res = await undici.request(url, { dispatcher: composed });
    await res.body.dump();
  },
  'createImsDispatcher request': async () => {
    const res = await undici.request(url, { dispatcher: imsDispatcher });
    await res.body.dump();
  },
};

/** Runs `n` requests of `fn`, `CONCURRENCY` in flight; returns the requests done, the wall ms and the client CPU us. */
async function run(fn, n) {
  let started = 0;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (started < n) {
        started++;
        await fn();
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { done: n, ms: performance.now() - start, cpuUs: cpu.user + cpu.system };
}

/** Sums slices into one measurement: requests/second and client CPU us per request. */
function total(slices) {
  let done = 0;
  let ms = 0;
  let cpuUs = 0;
  for (const s of slices) {
    done += s.done;
    ms += s.ms;
    cpuUs += s.cpuUs;
  }
  return { rps: done / (ms / 1000), cpuUs: cpuUs / done };
}

// Sanity: the adapters really add the headers, the bare clients do not.
await (await undici.fetch(`${origin}/authorized`)).text();
await variants.createImsFetch();
await variants['Agent.compose(imsInterceptor) request']();
await variants['createImsDispatcher request']();
await variants['undici fetch']();
await variants['Agent request']();
const authorized = Number(await (await undici.fetch(`${origin}/authorized`)).text());
if (authorized !== 3) throw new Error(`expected exactly the 3 adapter requests to be authorized, saw ${authorized}`);

// Each comparison: [baseline, adapter, goal, ...references]; the ratio is adapter / baseline.
const comparisons = {
  fetch: ['undici fetch + headers by hand', 'createImsFetch', 0.97, 'undici fetch'],
  dispatcher: ['Agent request', 'createImsDispatcher request', 0.97, 'Agent request + headers by hand'],
  interceptor: ['Agent.compose(no-op) request', 'Agent.compose(imsInterceptor) request', 0.95],
};
if (values.only !== undefined && !(values.only in comparisons)) throw new Error(`--only: one of ${Object.keys(comparisons).join(', ')}`);
const pairs = values.only === undefined ? Object.values(comparisons) : [comparisons[values.only]];
/** Per variant, one { rps, cpuUs } per kept round. */
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
/** Every order of xs: the rounds go through them, so each variant runs before and after each other one equally often. */
const permutations = (xs) =>
  xs.length <= 1 ? [xs] : xs.flatMap((x, i) => permutations(xs.filter((_, j) => j !== i)).map((p) => [x, ...p]));
for (let r = 0; r < WARMUP + ROUNDS; r++) {
  for (const [base, adapter, , ...refs] of pairs) {
    const orders = permutations([base, adapter, ...refs]);
    const order = orders[r % orders.length];
    const slices = Object.fromEntries(order.map((name) => [name, []]));
    // A lead-in slice, discarded: the first slice after another comparison runs measurably slower.
    await run(variants[order[order.length - 1]], REQUESTS);
    for (let k = 0; k < SWAPS; k++) for (const name of order) slices[name].push(await run(variants[name], REQUESTS));
    if (r < WARMUP) continue;
    for (const name in slices) results[name].push(total(slices[name]));
  }
}

/** The q-quantile of xs (linear between order statistics). */
const quantile = (xs, q) => {
  const s = [...xs].sort((x, y) => x - y);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (i - lo);
};
const median = (xs) => quantile(xs, 0.5);
/** A seeded PRNG (mulberry32), so the interval of a given run is reproducible. */
const rng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
/** Percentile bootstrap 95 % interval of the median of xs. */
const bootstrap = (xs, n = 4000) => {
  const rand = rng(16);
  const medians = [];
  for (let i = 0; i < n; i++) medians.push(median(Array.from(xs, () => xs[Math.floor(rand() * xs.length)])));
  return [quantile(medians, 0.025), quantile(medians, 0.975)];
};
const verdict = (xs, goal) => {
  const [lo, hi] = bootstrap(xs);
  if (lo >= goal) return 'met, shown';
  if (median(xs) >= goal) return 'met, not shown';
  return hi < goal ? 'NOT met, shown' : 'NOT met, not shown';
};
const f3 = (n) => n.toFixed(3);
const describe = (xs) => {
  const [lo, hi] = bootstrap(xs);
  return `${f3(median(xs))}x (p25-p75 ${f3(quantile(xs, 0.25))}-${f3(quantile(xs, 0.75))}, 95 % CI ${f3(lo)}-${f3(hi)})`;
};

const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(7);
console.log(
  `node ${process.version}, undici ${undiciVersion}, concurrency ${CONCURRENCY}, ${ROUNDS} rounds (+${WARMUP} discarded) of ` +
    `${'A B '.repeat(SWAPS).trim()} / ${'B A '.repeat(SWAPS).trim()} (+ a lead-in slice), ${REQUESTS} requests a slice\n`,
);
const rps = (name) => results[name].map((x) => x.rps);
const cpu = (name) => results[name].map((x) => x.cpuUs);
const summary = [];
for (const [base, adapter, goal, ...refs] of pairs) {
  for (const name of [base, adapter, ...refs]) {
    const xs = rps(name);
    console.log(
      `${name.padEnd(40)} median ${fmt(median(xs))} req/s (p25-p75 ${fmt(quantile(xs, 0.25)).trim()}-${fmt(quantile(xs, 0.75)).trim()})  ` +
        `${median(cpu(name)).toFixed(1).padStart(5)} us CPU/req`,
    );
  }
  const ratios = rps(adapter).map((x, i) => x / rps(base)[i]);
  // Client CPU per request, inverted (base / adapter): far less sensitive than req/s to other load on the machine.
  const cpuRatios = cpu(base).map((x, i) => x / cpu(adapter)[i]);
  console.log(`${'ratio by req/s'.padEnd(40)} ${describe(ratios)}, goal >= ${goal}: ${verdict(ratios, goal)}`);
  console.log(`${'ratio by CPU per request'.padEnd(40)} ${describe(cpuRatios)}, goal >= ${goal}: ${verdict(cpuRatios, goal)}`);
  for (const ref of refs) {
    const r = rps(adapter).map((x, i) => x / rps(ref)[i]);
    console.log(`${`ratio to ${ref}`.padEnd(40)} ${describe(r)}`);
    const c = rps(ref).map((x, i) => x / rps(base)[i]);
    console.log(`${`${ref} / ${base}`.padEnd(40)} ${describe(c)}`);
  }
  console.log('');
  summary.push(
    `${adapter} / ${base}: ${f3(median(ratios))}x req/s [${f3(quantile(ratios, 0.25))}-${f3(quantile(ratios, 0.75))}] ` +
      `${verdict(ratios, goal)}; ${f3(median(cpuRatios))}x by CPU [${f3(quantile(cpuRatios, 0.25))}-${f3(quantile(cpuRatios, 0.75))}] ` +
      `${verdict(cpuRatios, goal)} (goal >= ${goal})`,
  );
}
if (values.only === undefined) {
  const composeCost = median(rps('Agent.compose(no-op) request')) / median(rps('Agent request'));
  console.log(`undici's compose() by itself (no-op interceptor / bare Agent, medians): ${f3(composeCost)}x\n`);
}
console.log(summary.join('\n'));

await provider.close();
await agent.close();
await emu.stop();
child.kill();
