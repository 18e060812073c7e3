// Overhead of @ims-token/fetch on a local HTTP server (requests/second, same server, same run).
//
//   pnpm --filter @ims-token/fetch build   # this script uses the built dist
//   node bench/fetch-overhead.mjs [--duration 3000] [--warmup 1000] [--concurrency 10] [--rounds 7]
//
// Groups, each measured in alternating order (A B, B A, …) with `concurrency` requests in flight; the ratio
// is the median of the per-round ratios (each round runs both back to back), with its spread (min–max):
//   1. undici fetch() with the two headers set by hand   vs createImsFetch({ fetch: undici.fetch })      (target ≥ 0.97)
//   2. Agent request()                                    vs request() through createImsDispatcher()      (target ≥ 0.97)
//   3. Agent.compose(no-op interceptor) request()         vs Agent.compose(imsInterceptor()) request()    (target ≥ 0.95)
// References, not targets: bare fetch without the headers (what carrying a ~1 KB token costs at all), the
// Agent with the headers by hand, and the bare Agent against compose (what undici's compose() costs by
// itself: it converts between its two handler APIs on every request).
// The token comes from the emulator once (warm cache), so this measures the per-request cost of the adapters.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';

const root = new URL('../packages/', import.meta.url);
const { createImsDispatcher, createImsFetch, imsInterceptor } = await import(new URL('fetch/dist/index.js', root).href);
const { createTokenProvider } = await import(new URL('core/dist/index.js', root).href);
const { startEmulator, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } = await import(new URL('emulator/dist/index.js', root).href);
const undici = await import(new URL('fetch/node_modules/undici/index.js', root).href);

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '7' },
  },
});
const DURATION = Number(values.duration);
const WARMUP = Number(values.warmup);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);

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

/** Runs `fn` with `CONCURRENCY` in flight for `ms`; returns requests/second and client CPU µs per request. */
async function run(fn, ms) {
  let done = 0;
  const until = performance.now() + ms;
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        await fn();
        done++;
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { rps: done / ((performance.now() - start) / 1000), cpuUs: (cpu.user + cpu.system) / done };
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

// Each group: [baseline, adapter, target, ...references]; the ratio is adapter / baseline.
const pairs = [
  ['undici fetch + headers by hand', 'createImsFetch', 0.97, 'undici fetch'],
  ['Agent request', 'createImsDispatcher request', 0.97, 'Agent request + headers by hand'],
  ['Agent.compose(no-op) request', 'Agent.compose(imsInterceptor) request', 0.95],
];
const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
const members = (group) => group.filter((x) => typeof x === 'string');
for (const group of pairs) for (const name of members(group)) await run(variants[name], WARMUP);
for (let r = 0; r < ROUNDS; r++) {
  for (const group of pairs) {
    const order = r % 2 === 0 ? members(group) : [...members(group)].reverse();
    for (const name of order) results[name].push(await run(variants[name], DURATION));
  }
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US').padStart(7);
console.log(
  `node ${process.version}, concurrency ${CONCURRENCY}, ${ROUNDS} alternating runs × ${DURATION} ms per variant, warm-up ${WARMUP} ms\n`,
);
const rps = (name) => results[name].map((r) => r.rps);
const cpu = (name) => results[name].map((r) => r.cpuUs);
const paired = (a, b) => rps(a).map((x, i) => x / rps(b)[i]);
const spread = (xs) => `${Math.min(...xs).toFixed(3)}–${Math.max(...xs).toFixed(3)}`;
const summary = [];
for (const [base, adapter, target, ...refs] of pairs) {
  for (const name of [base, adapter, ...refs]) {
    console.log(
      `${name.padEnd(40)} median ${fmt(median(rps(name)))} req/s  ${median(cpu(name)).toFixed(1).padStart(5)} µs CPU/req   runs:${rps(name).map(fmt).join('')}`,
    );
  }
  const ratios = paired(adapter, base);
  const ratio = median(ratios);
  // Client CPU per request, inverted (base / adapter): far less sensitive than req/s to other load on the machine.
  const cpuRatios = cpu(base).map((x, i) => x / cpu(adapter)[i]);
  summary.push(
    `${adapter} / ${base}: ${ratio.toFixed(3)}× req/s (spread ${spread(ratios)}), ` +
      `${median(cpuRatios).toFixed(3)}× by CPU per request (spread ${spread(cpuRatios)}); target ≥ ${target}: ` +
      `${ratio >= target ? 'met' : 'NOT met'} by req/s, ${median(cpuRatios) >= target ? 'met' : 'NOT met'} by CPU`,
  );
  console.log(
    `${'ratio'.padEnd(40)} ${ratio.toFixed(3)}× median of paired runs (spread ${spread(ratios)}), ${(median(rps(adapter)) / median(rps(base))).toFixed(3)}× of medians (target ≥ ${target})`,
  );
  for (const ref of refs) {
    const r = paired(adapter, ref);
    console.log(`${`ratio to ${ref}`.padEnd(40)} ${median(r).toFixed(3)}× median of paired runs (spread ${spread(r)})`);
  }
  console.log('');
}
const composeCost = median(rps('Agent.compose(no-op) request')) / median(rps('Agent request'));
console.log(`undici's compose() by itself (no-op interceptor / bare Agent, medians): ${composeCost.toFixed(3)}×\n`);
console.log(summary.join('\n'));

await provider.close();
await agent.close();
await emu.stop();
child.kill();
