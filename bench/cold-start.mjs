#!/usr/bin/env node
// The first token of a cold process: `node` + require + createTokenProvider + getToken() + exit, against
// the floor, a script that does the same POST with node:http alone. Also the CLI's cold `ims-token token`
// (an empty cache): as users run it (the bin, through its `#!/usr/bin/env sh` line), and as
// `node dist/cli.cjs` (the same without env and sh). Interleaved runs, so all commands see the same machine
// load; wall time from spawn to exit, and the moment each child reports its token (performance.now(), from
// its own start).
//
//   node bench/cold-start.mjs [--runs 30] [--check]
//   node bench/cold-start.mjs --instructions [--runs 3]
//
// --instructions counts the CPU instructions of each command instead (valgrind's callgrind; about 10 s a run),
// a figure that other load on the machine does not move: it leaves out waiting (thread pool, network, the
// kernel's own work), so it is a complement to wall time, not a replacement. V8 draws a random hash seed at
// start-up and tests random numbers for primality until one is prime (4-13 M instructions, at random): that
// function's share is taken out of every count. Needs valgrind (apt-get install valgrind).
//
// Every command runs with the same scrubbed environment (no NODE_OPTIONS, no NODE_EXTRA_CA_CERTS). The
// IMS is the emulator on loopback, in this process. Needs packages/core, cli and emulator built.
// --check exits 1 when the core ratio of medians is above 1.25. The last line gives the same ratios taken round
// by round (median and quartiles), which a drifting machine load disturbs less.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bin, cli, cliWorld, root } from './cli-world.mjs';

const TARGET = 1.25;
const args = process.argv.slice(2);
const at = args.indexOf('--runs');
const runs = at >= 0 && Number(args[at + 1]) > 0 ? Number(args[at + 1]) : 30;
const check = args.includes('--check');
const instructions = args.includes('--instructions');

const here = fileURLToPath(new URL('.', import.meta.url));
const { home, env, close } = await cliWorld('ims-cold-bench-', {
  needs: [[join(root, 'packages/core/dist/index.cjs'), '@ims-token/core']],
});

const node = process.execPath;
let cacheRuns = 0;
const commands = [
  { name: 'node:http POST (the floor)', args: [join(here, 'cold', 'floor.cjs')] },
  { name: 'core: require + create + getToken', args: [join(here, 'cold', 'core.cjs')] },
  // An empty cache directory every run: the CLI must mint.
  { name: 'ims-token token (the bin)', file: bin, args: ['token'], env: () => ({ XDG_CACHE_HOME: join(home, `c${cacheRuns++}`) }) },
  { name: 'node dist/cli.cjs token', args: [cli, 'token'], env: () => ({ XDG_CACHE_HOME: join(home, `c${cacheRuns++}`) }) },
];

/** { wall, token }: ms from spawn to exit, and the child's own report of when it had the token. */
function once(c) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(c.file ?? node, c.args, { cwd: here, env: { ...env, ...c.env?.() }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) return reject(new Error(`${c.name} exited ${code}: ${stderr}`));
      const m = /token-at ([\d.]+)/.exec(stderr);
      resolve({ wall, token: m ? Number(m[1]) : undefined });
    });
  });
}

/** Millions of instructions of one run of `c` (every process it starts), less V8's hash-seed prime search. */
function instructionsOf(c) {
  const dir = mkdtempSync(join(tmpdir(), 'ims-cold-cg-'));
  const file = c.file ?? node;
  const argv = ['--tool=callgrind', '--trace-children=yes', `--callgrind-out-file=${join(dir, 'cg.%p')}`, file, ...c.args];
  return new Promise((resolve, reject) => {
    const child = spawn('valgrind', argv, { cwd: here, env: { ...env, ...c.env?.() }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new Error(`valgrind: ${err.message} (apt-get install valgrind)`)));
    child.on('exit', (code) => {
      try {
        if (code !== 0) throw new Error(`${c.name} under valgrind exited ${code}: ${stderr.slice(-500)}`);
        let total = 0;
        for (const f of readdirSync(dir)) {
          const out = execFileSync('callgrind_annotate', ['--inclusive=yes', join(dir, f)], { encoding: 'utf8', maxBuffer: 64 << 20 });
          const count = (re) => Number(re.exec(out)?.[1]?.replaceAll(',', '') ?? 0);
          total += count(/^\s*([\d,]+) .*PROGRAM TOTALS/m) - count(/^\s*([\d,]+) .*HashSeed::InitializeRoots/m);
        }
        resolve(total / 1e6);
      } catch (err) {
        reject(err);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

async function countInstructions(n) {
  const counts = commands.map(() => []);
  for (let i = 0; i < n; i++) for (const [j, c] of commands.entries()) counts[j].push(await instructionsOf(c));
  const med = (a) => stats(a).median;
  console.log(`node ${process.version}, instructions (millions, callgrind, hash-seed search taken out), median of ${n} runs each`);
  commands.forEach((c, j) =>
    console.log(
      `  ${c.name.padEnd(36)} ${med(counts[j]).toFixed(1).padStart(7)} M  (${(med(counts[j]) / med(counts[0])).toFixed(2)}× the floor)`,
    ),
  );
}

const stats = (a) => {
  const s = a.filter((v) => v !== undefined).sort((x, y) => x - y);
  if (s.length === 0) return undefined;
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { median: q(0.5), p10: q(0.1), p25: q(0.25), p75: q(0.75), p90: q(0.9) };
};
const fmt = (s) => (s ? `${s.median.toFixed(1).padStart(6)} ms [${s.p10.toFixed(0)}–${s.p90.toFixed(0)}]` : '      —');

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();
try {
  if (instructions) await countInstructions(at >= 0 ? runs : 3);
  else await wallTimes();
} finally {
  await close();
}

async function wallTimes() {
  for (let i = 0; i < 3; i++) for (const c of commands) await once(c); // warm the OS page cache
  const walls = commands.map(() => []);
  const tokens = commands.map(() => []);
  for (let i = 0; i < runs; i++) {
    const order = commands.map((_, j) => j);
    if (i % 2) order.reverse(); // neither command always runs right after the same one
    for (const j of order) {
      const r = await once(commands[j]);
      walls[j].push(r.wall);
      tokens[j].push(r.token);
    }
  }
  const w = walls.map(stats);
  const t = tokens.map(stats);
  console.log(`node ${process.version}, ${runs} runs each, interleaved; median [p10–p90]; load average ${loadBefore} → ${load()}`);
  console.log(`  ${'command'.padEnd(36)} ${'token in hand'.padEnd(24)} exit`);
  commands.forEach((c, j) => console.log(`  ${c.name.padEnd(36)} ${fmt(t[j]).padEnd(24)} ${fmt(w[j])}`));
  const ratio = w[1].median / w[0].median;
  console.log(`  core / floor, whole run:   ${ratio.toFixed(2)}×  (target ≤ ${TARGET}×: ${ratio <= TARGET ? 'met' : 'NOT met'})`);
  console.log(`  core / floor, token:       ${(t[1].median / t[0].median).toFixed(2)}×`);
  console.log(
    `  CLI / floor, whole run:    ${(w[2].median / w[0].median).toFixed(2)}× (the bin), ${(w[3].median / w[0].median).toFixed(2)}× (node dist/cli.cjs)`,
  );
  // The same ratios taken round by round (each round runs every command back to back, so both sides of a ratio
  // see the same machine): steadier than a ratio of medians when the load drifts. Median [p25-p75].
  const paired = (j) => {
    const r = stats(walls[j].map((v, i) => v / walls[0][i]));
    return `${r.median.toFixed(2)}× [${r.p25.toFixed(2)}–${r.p75.toFixed(2)}]`;
  };
  console.log(`  paired by round, whole run: core ${paired(1)}; CLI ${paired(2)} (the bin), ${paired(3)} (node dist/cli.cjs)`);
  if (check && ratio > TARGET) process.exitCode = 1;
}
