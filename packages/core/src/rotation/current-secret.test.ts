import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { currentClientSecret } from './index';
import { configErrorOf } from '../test/helpers';

// What a rotation tool (the CLI's `secrets rotate`) reads as the secret it holds now: the same rule as the
// secrets client's own, with a relative IMS_CLIENT_SECRET_FILE taken from the caller's directory.

const dir = mkdtempSync(join(tmpdir(), 'ims-current-secret-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base = { IMS_CLIENT_ID: 'abc123' };

describe('currentClientSecret', () => {
  it('IMS_CLIENT_SECRET, the first of two (IMS_CLIENT_SECRET_NEXT is the next one, not the current)', () => {
    expect(currentClientSecret({ ...base, IMS_CLIENT_SECRET: ' s-old ', IMS_CLIENT_SECRET_NEXT: 's-new' })).toBe('s-old');
  });

  it("the first secret line of a file, a relative path read from the caller's directory", () => {
    writeFileSync(join(dir, 'secret.txt'), '# rotated 2026-11-30\n\ns-first\ns-second\n');
    expect(currentClientSecret({ ...base, IMS_CLIENT_SECRET_FILE: 'secret.txt' }, { cwd: dir })).toBe('s-first');
  });

  it('names the variable at fault, never the secret', () => {
    writeFileSync(join(dir, 'empty.txt'), '# nothing yet\n');
    const empty = configErrorOf(() => currentClientSecret({ ...base, IMS_CLIENT_SECRET_FILE: join(dir, 'empty.txt') }));
    expect([empty.code, empty.field]).toEqual(['IMS_CONFIG', 'IMS_CLIENT_SECRET_FILE']);
    const missing = configErrorOf(() => currentClientSecret({ ...base, IMS_CLIENT_SECRET_FILE: 'nope.txt' }, { cwd: dir }));
    expect([missing.code, missing.field]).toEqual(['IMS_CONFIG', 'IMS_CLIENT_SECRET_FILE']);
    expect(missing.message).toContain('ENOENT');
    const both = configErrorOf(() => currentClientSecret({ ...base, IMS_CLIENT_SECRET: 's-secret', IMS_CLIENT_SECRET_FILE: 'x' }));
    expect([both.code, both.field]).toEqual(['IMS_CONFIG', 'IMS_CLIENT_SECRET_FILE']);
    expect(JSON.stringify(both) + both.message).not.toContain('s-secret');
    const none = configErrorOf(() => currentClientSecret(base));
    expect([none.code, none.field]).toEqual(['IMS_CONFIG', 'IMS_CLIENT_SECRET']);
  });
});
