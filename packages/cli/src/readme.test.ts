import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exitCodeTable } from './exit-codes';

const README = new URL('../README.md', import.meta.url);
const MARK = '<!-- generated from src/exit-codes.ts (EXIT_CODE_DOCS); readme.test.ts checks it -->\n';

describe('README', () => {
  it('its exit-code table is the one generated from exit-codes.ts', () => {
    const text = readFileSync(README, 'utf8');
    const at = text.indexOf(MARK);
    expect(at, 'the generated-table marker under "## Exit codes"').toBeGreaterThan(0);
    const table = text.slice(at + MARK.length, text.indexOf('\n\n', at + MARK.length) + 1);
    expect(table).toBe(exitCodeTable('markdown'));
  });
});
