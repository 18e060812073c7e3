#!/usr/bin/env node
// Start-up cost of the `ims-token` CLI: wall time of `ims-token token` with a warm file cache, run as users
// run it (the bin, through its `#!/usr/bin/env sh` line: env, sh, then `exec node`), against `node -e 0` (the
// floor any Node CLI pays). A second row runs `node dist/cli.cjs token`: the same without env and sh.
// Interleaved runs, so all commands see the same machine load. Standard output is a pipe, read to its end,
// as in `TOKEN=$(ims-token token)`.
//
//   node bench/cli-startup.mjs [--runs 30] [--check]
//
// Every command runs with the same scrubbed environment (no NODE_OPTIONS, no NODE_EXTRA_CA_CERTS: the
// latter alone adds ~35 ms to every Node start on machines that set it, which would flatter the ratio).
//
// Needs packages/cli and packages/emulator built. The goal is ≤ 1.15× for the bin; --check exits 1 when its
// ratio of medians is above 1.5 (a loose bound that a loaded CI machine still meets).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { bin, cli, cliWorld } from './cli-world.mjs';

const GOAL = 1.15;
const CHECK = 1.5;
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) > 0 && args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 30;
const check = args.includes('--check');

const world = await cliWorld('ims-cli-bench-');
const { emu, client, home, close } = world;
const env = { ...world.env, XDG_CACHE_HOME: join(home, 'cache') };

const node = process.execPath;
const commands = [
  { name: 'node -e 0', file: node, args: ['-e', '0'] },
  { name: 'ims-token token (the bin)', file: bin, args: ['token'] },
  { name: 'node dist/cli.cjs token', file: node, args: [cli, 'token'] },
];

/** Wall time of one run, from spawn to exit. (Async: the emulator answers from this same process.) */
function once(c) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(c.file, c.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    // 'close': the process has exited and its output is read, as a `$(…)` waits for both
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) reject(new Error(`${c.name} exited ${code}: ${stderr}`));
      else resolve(ms);
    });
  });
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const loadBefore = load();
try {
  await once(commands[1]); // mint once: every measured run below reads the cached token
  for (let i = 0; i < 3; i++) for (const c of commands) await once(c); // warm the OS page cache
  const times = commands.map(() => []);
  for (let i = 0; i < runs; i++) {
    // Reverse the order every other round, so no command always runs right after the same one.
    const order = commands.map((_, j) => j);
    if (i % 2) order.reverse();
    for (const j of order) times[j].push(await once(commands[j]));
  }
  const stats = (a) => {
    const s = [...a].sort((x, y) => x - y);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { median: q(0.5), p10: q(0.1), p90: q(0.9), min: s[0] };
  };
  const s = times.map(stats);
  const ratio = s[1].median / s[0].median;
  const minted = emu.stats.mintedByClient[client.clientId] ?? 0;
  console.log(
    `node ${process.version}, ${runs} runs each, interleaved; wall time per process (median [p10–p90]); load average ${loadBefore} → ${load()}`,
  );
  commands.forEach((c, j) => {
    const r = j === 0 ? '' : `  ${(s[j].median / s[0].median).toFixed(2)}× (minimums ${(s[j].min / s[0].min).toFixed(2)}×)`;
    console.log(`  ${c.name.padEnd(30)} ${s[j].median.toFixed(1).padStart(6)} ms  [${s[j].p10.toFixed(1)}–${s[j].p90.toFixed(1)}]${r}`);
  });
  console.log(`  the bin / node -e 0, medians: ${ratio.toFixed(2)}×  (goal ≤ ${GOAL}×: ${ratio <= GOAL ? 'met' : 'NOT met'})`);
  console.log(`  IMS token requests during the benchmark: ${minted} (1 = every measured run was served from the cache)`);
  console.log(
    `  command: IMS_URL=<emulator> IMS_CLIENT_ID=… IMS_CLIENT_SECRET=… IMS_SCOPES=openid,AdobeID,firefly_api XDG_CACHE_HOME=<tmp> packages/cli/bin/ims-token.cjs token`,
  );
  if (minted !== 1) throw new Error(`expected exactly one mint, got ${minted}`);
  if (check && ratio > CHECK) process.exitCode = 1;
} finally {
  await close();
}
