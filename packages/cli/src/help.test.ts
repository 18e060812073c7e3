import { describe, expect, it } from 'vitest';
import { exitCodeTable } from './exit-codes';
import { runCli } from './test/run-cli';

const env = { HOME: '/nonexistent', NO_COLOR: '1' };

describe('help and mistakes', () => {
  it('-v is an unknown option that points to --version and --verbose, not the whole help', async () => {
    const r = await runCli(['-v'], { env });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'ims-token: IMS_CONFIG: Unknown option -v. Fix: Did you mean --version or --verbose? Run "ims-token --help" for the commands and options.\n',
    );
    expect(r.stdout).toBe('');
  });

  it('a mistyped command or option gets a "did you mean"', async () => {
    expect((await runCli(['tokn'], { env })).stderr).toContain('Unknown command "tokn". Fix: Did you mean "ims-token token"?');
    expect((await runCli(['cache', 'clr'], { env })).stderr).toContain('Did you mean "ims-token cache clear"?');
    expect((await runCli(['token', '--jsn'], { env })).stderr).toContain(
      'Unknown option --jsn for "ims-token token". Fix: Did you mean --json?',
    );
    expect((await runCli(['zzzzzz'], { env })).stderr).not.toContain('Did you mean');
  });

  it("a command's --help shows only the options that apply and points to the exit-code table", async () => {
    const status = await runCli(['status', '--help'], { env });
    expect(status.code).toBe(0);
    expect(status.stdout).not.toContain('--client-secret-stdin');
    expect(status.stdout).toContain('--cache-dir');
    expect(status.stdout).toContain('ims-token help exit-codes');
    expect(status.stdout).not.toContain('130');
    const token = await runCli(['token', '--help'], { env });
    expect(token.stdout).toContain('--client-secret-stdin');
    expect(token.stdout).not.toContain('--org-id');
    // an option a command does not use is refused, not silently ignored
    const refused = await runCli(['status', '--client-secret-stdin'], { env });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('Unknown option --client-secret-stdin for "ims-token status"');
  });

  it('ims-token help exit-codes prints the table generated from exit-codes.ts', async () => {
    const r = await runCli(['help', 'exit-codes'], { env });
    expect(r).toMatchObject({ code: 0, stdout: exitCodeTable('text') });
    expect(r.stdout).toMatch(/^ {2}130 {6}cancelled/m);
  });
});
