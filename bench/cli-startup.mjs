#!/usr/bin/env node
// Start-up cost of the `ims-token` CLI: wall time of `ims-token token` with a warm file cache,
// against `node -e 0` (the floor any Node CLI pays), run alternately so both see the same machine load.
//
//   node bench/cli-startup.mjs [--runs 30] [--check]
//
// Both commands run with the same scrubbed environment (no NODE_OPTIONS, no NODE_EXTRA_CA_CERTS: the
// latter alone adds ~35 ms to every Node start on machines that set it, which would flatter the ratio).
//
// Needs packages/cli and packages/emulator built. --check exits 1 when the ratio of medians is above 1.5.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cli, cliWorld } from './cli-world.mjs';

const TARGET = 1.5;
const args = process.argv.slice(2);
const runs = Number(args[args.indexOf('--runs') + 1]) > 0 && args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 30;
const check = args.includes('--check');

const world = await cliWorld('ims-cli-bench-');
const { emu, client, home, close } = world;
const env = { ...world.env, XDG_CACHE_HOME: join(home, 'cache') };

const node = process.execPath;
const commands = [
  { name: 'node -e 0', file: node, args: ['-e', '0'] },
  { name: 'ims-token token (warm cache)', file: node, args: [cli, 'token'] },
];

/** Wall time of one run, from spawn to exit. (Async: the emulator answers from this same process.) */
function once(c) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(c.file, c.args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) reject(new Error(`${c.name} exited ${code}: ${stderr}`));
      else resolve(ms);
    });
  });
}

try {
  await once(commands[1]); // mint once: every measured run below reads the cached token
  for (let i = 0; i < 3; i++) for (const c of commands) await once(c); // warm the OS page cache
  const times = commands.map(() => []);
  for (let i = 0; i < runs; i++) {
    // Alternate the order too, so neither command always runs right after the other.
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const j of order) times[j].push(await once(commands[j]));
  }
  const stats = (a) => {
    const s = [...a].sort((x, y) => x - y);
    const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
    return { median: q(0.5), p10: q(0.1), p90: q(0.9), min: s[0] };
  };
  const [base, cliStats] = times.map(stats);
  const ratio = cliStats.median / base.median;
  const minted = emu.stats.mintedByClient[client.clientId] ?? 0;
  console.log(`node ${process.version}, ${runs} runs each, alternating; wall time per process (median [p10–p90])`);
  commands.forEach((c, j) => {
    const s = j === 0 ? base : cliStats;
    console.log(`  ${c.name.padEnd(30)} ${s.median.toFixed(1).padStart(6)} ms  [${s.p10.toFixed(1)}–${s.p90.toFixed(1)}]`);
  });
  console.log(`  ratio of medians               ${ratio.toFixed(2)}×  (target ≤ ${TARGET}×: ${ratio <= TARGET ? 'met' : 'NOT met'})`);
  console.log(`  ratio of minimums              ${(cliStats.min / base.min).toFixed(2)}×  (less sensitive to a busy machine)`);
  console.log(`  IMS token requests during the benchmark: ${minted} (1 = every measured run was served from the cache)`);
  console.log(
    `  command: IMS_URL=<emulator> IMS_CLIENT_ID=… IMS_CLIENT_SECRET=… IMS_SCOPES=openid,AdobeID,firefly_api XDG_CACHE_HOME=<tmp> node packages/cli/dist/cli.cjs token`,
  );
  if (minted !== 1) throw new Error(`expected exactly one mint, got ${minted}`);
  if (check && ratio > TARGET) process.exitCode = 1;
} finally {
  await close();
}
