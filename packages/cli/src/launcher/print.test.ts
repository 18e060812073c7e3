import { spawn } from 'node:child_process';
import { writeSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from '../test/fixture';
import type { Fixture } from '../test/fixture';
import { assertBuilt, BIN, runCli } from '../test/run-cli';
import { print } from './print';

// The warm path writes the token with one write(2) on fd 1 instead of making process.stdout. These run the
// built bin (through its #! line) with standard output as a user's script gives it, and compare with the
// full CLI's bytes.

let fx: Fixture;
beforeAll(async () => {
  assertBuilt();
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

describe('the warm token on standard output', () => {
  it('is byte for byte what the full CLI prints, in each format', async () => {
    const c = credential(fx);
    for (const args of [['token'], ['token', '--json'], ['token', '--header']]) {
      // --verbose is not the launcher's: that run is the full CLI's, reading the same cached token
      const full = await runCli([...args, '--verbose'], { env: c.env, printsToken: true });
      const warm = await runCli(args, { env: c.env, printsToken: true, wrap: (argv) => [BIN, argv.slice(1)] });
      expect(warm.code, args.join(' ')).toBe(0);
      expect(warm.stderr).toBe('');
      // `--json`'s expiresIn counts down: compare without it
      const same = (s: string): string => s.replace(/"expiresIn": \d+/, '"expiresIn": N');
      expect(same(warm.stdout), args.join(' ')).toBe(same(full.stdout));
    }
    expect(c.minted()).toBe(1);
  });

  it('a closed standard output ends as it does for the full CLI', async () => {
    const c = credential(fx);
    const closed = (argv: string[]): [string, string[]] => ['sh', ['-c', 'exec "$0" "$@" >&-', BIN, ...argv.slice(1)]];
    const full = await runCli(['token', '--verbose'], { env: c.env, wrap: closed });
    const warm = await runCli(['token'], { env: c.env, wrap: closed });
    expect(c.minted()).toBe(1);
    expect({ code: warm.code, stdout: warm.stdout, stderr: warm.stderr }).toEqual({ code: full.code, stdout: '', stderr: '' });
  });
});

describe('print, when fd 1 does not take it all', () => {
  // A Node parent makes its children's stdio blocking, but another parent may hand over a non-blocking pipe
  // (EAGAIN when it is full): the pipe here is a real one, the write end of a child's stdin (non-blocking).
  it('a full non-blocking pipe: what write(2) did not take goes to the stream, in order', async () => {
    const child = spawn('sleep', ['5'], { stdio: ['pipe', 'ignore', 'ignore'] });
    const fd = (child.stdin as unknown as { _handle: { fd: number } })._handle.fd;
    try {
      let filled = 0;
      for (;;) {
        try {
          filled += writeSync(fd, Buffer.alloc(4096, '#'));
        } catch (err) {
          expect((err as NodeJS.ErrnoException).code).toBe('EAGAIN');
          break;
        }
      }
      expect(filled).toBeGreaterThan(0);
      const later: Buffer[] = [];
      print('eyJ-the-token\n', fd, () => ({ write: (b: Uint8Array) => later.push(Buffer.from(b)) }));
      expect(Buffer.concat(later).toString()).toBe('eyJ-the-token\n');
    } finally {
      child.kill();
    }
  });

  it('a closed fd: all of it goes to the stream', () => {
    const later: Buffer[] = [];
    print('eyJ-the-token\n', 987654, () => ({ write: (b: Uint8Array) => later.push(Buffer.from(b)) }));
    expect(Buffer.concat(later).toString()).toBe('eyJ-the-token\n');
  });
});
