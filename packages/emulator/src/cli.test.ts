import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cli = fileURLToPath(new URL('../dist/cli.cjs', import.meta.url));

function start(args: string[]): Promise<{ lines: string[]; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('credential id:')) resolve({ lines: out.trim().split('\n'), child });
    });
    child.on('error', reject);
    child.on('exit', (code) => reject(new Error(`exited ${code}`)));
  });
}

function exited(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((resolve) => child.on('exit', (code) => resolve(code)));
}

describe('ims-emulator bin', () => {
  it('is built (run `pnpm build` first)', () => {
    expect(existsSync(cli)).toBe(true);
  });

  it('prints help, and exits 2 on a bad flag', async () => {
    const run = (args: string[]): Promise<{ code: number | null; out: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr.on('data', (d: Buffer) => (out += d.toString()));
        child.on('exit', (code) => resolve({ code, out }));
      });
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--token-lifetime');
    expect((await run(['--bogus'])).code).toBe(2);
    const orgCodeAsId = await run(['--org-id', 'ABCDEF0123456789ABCDEF01@AdobeOrg']);
    expect(orgCodeAsId.code).toBe(2);
    expect(orgCodeAsId.out).toContain('--org-code');
  });

  it('starts, answers a token request, and stops on SIGTERM', async () => {
    const { lines, child } = await start(['--port', '0']);
    try {
      const m = /^ims-emulator listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(lines[0]!);
      expect(m).not.toBeNull();
      expect(lines.join('\n')).toContain('ims-emulator-client');
      expect(lines.join('\n')).toContain('ims-emulator-secret');
      expect(lines).toContain('org id:        23294');
      expect(lines).toContain('org code:      E0E0E0E0E0E0E0E0E0E0E0E0@AdobeOrg');
      const res = await fetch(`${m![1]}/ims/token/v3`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: 'ims-emulator-client',
          client_secret: 'ims-emulator-secret',
          scope: 'openid',
        }),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as Record<string, unknown>)['token_type']).toBe('bearer');
    } finally {
      const done = exited(child);
      child.kill('SIGTERM');
      expect(await done).toBe(0);
    }
  });

  it('does not print a secret it was given, and prints one it generated', async () => {
    const given = await start(['--client-id', 'my-client', '--client-secret', 'top-secret-value', '--token-lifetime', '30']);
    expect(given.lines.join('\n')).not.toContain('top-secret-value');
    expect(given.lines.join('\n')).toContain('my-client');
    const url = /listening on (\S+)/.exec(given.lines[0]!)![1]!;
    const res = await fetch(`${url}/ims/token/v3`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: 'my-client', client_secret: 'top-secret-value' }),
    });
    expect(((await res.json()) as Record<string, unknown>)['expires_in']).toBe(30);
    const d1 = exited(given.child);
    given.child.kill('SIGINT');
    expect(await d1).toBe(0);

    const generated = await start(['--client-id', 'gen-client']);
    expect(generated.lines.join('\n')).toMatch(/client secret: p8e-\S+/);
    const d2 = exited(generated.child);
    generated.child.kill('SIGTERM');
    await d2;
  });
});
