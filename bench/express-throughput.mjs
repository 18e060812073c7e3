// Throughput of an Express app with imsAuth() whose handler calls `await req.ims.headers()`, against the
// same app without it and a hard-coded header object (target ≥ 0.95×). A third app with no ims-token code
// (a no-op middleware and an awaited resolved promise) shows what Express itself charges for that shape.
// All apps run in one child process (same V8 and JIT state), each on its own port; autocannon, in this
// process, loads one at a time, in alternating order (A B C, C B A, …).
//
//   pnpm --filter @ims-token/express build   # this script uses the built dist
//   node bench/express-throughput.mjs [--express 5|4] [--duration 2] [--warmup 2] [--rounds 10] [--connections 50]
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { parseArgs } from 'node:util';

const root = new URL('../packages/', import.meta.url);
const { values: args } = parseArgs({
  options: {
    serve: { type: 'string' },
    'ims-url': { type: 'string' },
    express: { type: 'string', default: '5' },
    duration: { type: 'string', default: '2' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
  },
});

if (args.serve) {
  // ---- child: both apps, in one process (same V8 state), each on its own port ----
  const expressDir = args.express === '4' ? 'express4' : 'express';
  const { default: express } = await import(new URL(`express/node_modules/${expressDir}/index.js`, root).href);
  const { createTokenProvider } = await import(new URL('core/dist/index.js', root).href);
  const { imsAuth } = await import(new URL('express/dist/index.js', root).href);
  const { DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET } = await import(new URL('emulator/dist/index.js', root).href);
  const provider = createTokenProvider({
    clientId: DEFAULT_CLIENT_ID,
    clientSecret: DEFAULT_CLIENT_SECRET,
    scopes: 'openid,AdobeID',
    imsUrl: args['ims-url'],
  });
  await provider.getToken(); // warm cache: this measures the per-request cost of the middleware

  const ims = express();
  ims.set('etag', false);
  ims.use(imsAuth({ provider }));
  ims.get('/', async (req, res) => {
    const h = await req.ims.headers();
    res.json({ apiKey: h['x-api-key'], bearer: h.authorization.length });
  });

  const HEADERS = Object.freeze({ ...(await provider.getAuthHeaders()) });
  const plain = express();
  plain.set('etag', false);
  plain.get('/', (_req, res) => {
    const h = HEADERS;
    res.json({ apiKey: h['x-api-key'], bearer: h.authorization.length });
  });

  // Reference: the same shape with no ims-token code at all: a no-op middleware and an awaited resolved promise.
  const ready = Promise.resolve(HEADERS);
  const reference = express();
  reference.set('etag', false);
  reference.use((_req, _res, next) => next());
  reference.get('/', async (_req, res) => {
    const h = await ready;
    res.json({ apiKey: h['x-api-key'], bearer: h.authorization.length });
  });

  const listen = (app) =>
    new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s.address().port));
    });
  process.send({ ims: await listen(ims), plain: await listen(plain), reference: await listen(reference) });
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send({ cpu: user + system });
  });
  process.on('disconnect', () => process.exit(0));
} else {
  // ---- parent: emulator, two servers, autocannon ----
  const { default: autocannon } = await import('autocannon');
  const { startEmulator } = await import(new URL('emulator/dist/index.js', root).href);
  const emu = await startEmulator();
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

  const child = fork(new URL(import.meta.url).pathname, ['--serve', 'both', '--ims-url', emu.url, '--express', args.express]);
  const [ports] = await once(child, 'message');
  const ims = { child, url: `http://127.0.0.1:${ports.ims}/` };
  const plain = { child, url: `http://127.0.0.1:${ports.plain}/` };
  const reference = { child, url: `http://127.0.0.1:${ports.reference}/` };
  async function cpuOf(server) {
    server.child.send('cpu');
    const [msg] = await once(server.child, 'message');
    return msg.cpu;
  }
  /** Requests per second, and the server's CPU µs per request (less sensitive to a busy machine). */
  async function rps(server, seconds) {
    const cpu0 = await cpuOf(server);
    const r = await autocannon({ url: server.url, connections: Number(args.connections), duration: seconds });
    const cpu = (await cpuOf(server)) - cpu0;
    if (r.errors || r.non2xx) throw new Error(`errors: ${r.errors}, non-2xx: ${r.non2xx}`);
    return { rps: r.requests.average, cpuPerRequest: cpu / r.requests.total };
  }

  const servers = { ims, plain, reference };
  for (const server of Object.values(servers)) await rps(server, Number(args.warmup));
  const runs = { ims: [], plain: [], reference: [] };
  const kinds = Object.keys(servers);
  for (let round = 0; round < Number(args.rounds); round++) {
    const order = round % 2 === 0 ? kinds : [...kinds].reverse();
    for (const kind of order) runs[kind].push(await rps(servers[kind], Number(args.duration)));
    const [x, y, z] = [runs.ims.at(-1), runs.plain.at(-1), runs.reference.at(-1)];
    console.log(
      `round ${round + 1}: imsAuth ${x.rps.toFixed(0)} req/s (${x.cpuPerRequest.toFixed(1)} µs CPU/req), ` +
        `hard-coded ${y.rps.toFixed(0)} req/s (${y.cpuPerRequest.toFixed(1)} µs), no-op middleware + await ${z.rps.toFixed(0)} req/s (${z.cpuPerRequest.toFixed(1)} µs) ` +
        `→ ${(x.rps / y.rps).toFixed(3)}×`,
    );
  }
  // Each round measures all three back to back, so the median of the per-round ratios cancels slow drifts of the machine.
  const ratio = (a, b, key) =>
    median(runs[a].map((x, i) => (key === 'rps' ? x.rps / runs[b][i].rps : runs[b][i].cpuPerRequest / x.cpuPerRequest)));
  const rpsOf = (kind) => median(runs[kind].map((x) => x.rps)).toFixed(0);
  console.log(
    `express ${args.express}: imsAuth + await req.ims.headers() ${rpsOf('ims')} req/s vs hard-coded header ${rpsOf('plain')} req/s ` +
      `→ ${ratio('ims', 'plain', 'rps').toFixed(3)}× throughput, ${ratio('ims', 'plain', 'cpu').toFixed(3)}× by server CPU per request (target ≥ 0.95×)`,
  );
  console.log(
    `  reference, no ims-token code (a no-op middleware + an awaited promise) ${rpsOf('reference')} req/s → ` +
      `${ratio('reference', 'plain', 'rps').toFixed(3)}× the hard-coded header; imsAuth vs that reference: ${ratio('ims', 'reference', 'rps').toFixed(3)}× ` +
      `(medians of per-round ratios; ${args.rounds} alternating rounds of ${args.duration} s, ${args.connections} connections)`,
  );
  child.disconnect();
  await emu.stop();
}
