import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_CODES, SCOPE_PRESETS, run } from './index';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { scan, WRONG_SECRET } from './test/run-cli';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

function capture(): { stream: { write(s: string): boolean }; text(): string } {
  let out = '';
  return { stream: { write: (s: string) => ((out += s), true) }, text: () => out };
}

describe('run(argv, io): the programmatic API', () => {
  it('runs a command in this process with the given streams and environment', async () => {
    const c = credential(fx);
    const out = capture();
    const err = capture();
    const io = { stdout: out.stream, stderr: err.stream, stdin: Readable.from([]), env: c.env, cwd: c.dir };
    expect(await run(['token', '--json'], io)).toBe(EXIT_CODES.OK);
    const j = JSON.parse(out.text()) as { clientId: string; expiresIn: number };
    expect(j.clientId).toBe(c.clientId);
    scan({ code: 0, signal: null, stdout: out.text(), stderr: err.text() }, true);

    const bad = capture();
    const code = await run(['token', '--no-cache'], {
      ...io,
      stdout: capture().stream,
      stderr: bad.stream,
      env: { ...c.env, IMS_CLIENT_SECRET: WRONG_SECRET },
    });
    expect(code).toBe(EXIT_CODES.CREDENTIALS);
    expect(bad.text()).toMatch(/^ims-token: IMS_INVALID_CLIENT/);
    scan({ code, signal: null, stdout: '', stderr: bad.text() }, false);
  });

  it('exports the exit codes and scope presets', () => {
    expect(EXIT_CODES).toEqual({
      OK: 0,
      UNEXPECTED: 1,
      USAGE: 2,
      CREDENTIALS: 3,
      IMS_UNAVAILABLE: 4,
      DOCTOR_FAILED: 5,
      SECRETS_REFUSED: 6,
      ROTATION_FAILED: 7,
      CANCELLED: 130,
    });
    expect(SCOPE_PRESETS.firefly).toBe('openid,AdobeID,session,additional_info,read_organizations,firefly_api,ff_apis');
    expect(SCOPE_PRESETS['io-management'].split(',')).toContain('manage_client_secrets');
  });
});
