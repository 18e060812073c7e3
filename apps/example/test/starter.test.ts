/** What a copy of this folder needs to stand on its own: links, problem type anchors, ignore files. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROBLEM_TYPE_BASE } from '../src/index';
import { APP_DIR } from './helpers';

const readme = readFileSync(join(APP_DIR, 'README.md'), 'utf8');
const anchors = new Set([
  ...[...readme.matchAll(/<a id="([^"]+)"><\/a>/g)].map((m) => m[1]!),
  // GitHub's heading slugs: lower case, spaces to dashes, punctuation dropped.
  ...[...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^\w\s-]/g, '')
      .replace(/\s/g, '-'),
  ),
]);

describe('the starter, copied out of the monorepo', () => {
  it('every link in README.md resolves inside this folder, or is absolute', () => {
    const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!);
    expect(links.length).toBeGreaterThan(5);
    for (const link of links) {
      if (/^https?:\/\//.test(link)) continue;
      if (link.startsWith('#')) expect(anchors, link).toContain(link.slice(1));
      else {
        expect(link, 'a relative link must not leave the folder').not.toMatch(/^\.\.\//);
        expect(existsSync(join(APP_DIR, link.split('#')[0]!)), link).toBe(true);
      }
    }
  });

  it('every problem `type` the app sends points at an anchor in this README', () => {
    expect(PROBLEM_TYPE_BASE).toMatch(/\/apps\/example\/README\.md#$/);
    const src = readdirSync(join(APP_DIR, 'src'))
      .map((f) => readFileSync(join(APP_DIR, 'src', f), 'utf8'))
      .join('\n');
    const codes = [...src.matchAll(/new AppError\(\s*(\d+),\s*'([A-Z_]+)'/g)].filter((m) => m[1] !== '499').map((m) => m[2]!);
    expect(codes).toContain('JOB_TIMEOUT');
    for (const code of codes) expect(anchors, code).toContain(code.toLowerCase());
  });

  it('keeps .env out of git and out of the Docker build context', () => {
    for (const file of ['.gitignore', '.dockerignore']) {
      const lines = readFileSync(join(APP_DIR, file), 'utf8').split('\n');
      expect(lines, file).toContain('.env');
      expect(lines, file).toContain('node_modules' + (file === '.gitignore' ? '/' : ''));
    }
  });

  it('the Dockerfile runs node itself on what `npm run build` makes', () => {
    const dockerfile = readFileSync(join(APP_DIR, 'Dockerfile'), 'utf8');
    expect(dockerfile).toContain('CMD ["node", "dist/main.js"]');
    expect(dockerfile).toMatch(/npm ci .*&& npm run build && npm prune --omit=dev/);
    const pkg = JSON.parse(readFileSync(join(APP_DIR, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
      dependencies: Record<string, string>;
    };
    expect(pkg.scripts['build']).toBe('tsup');
    // The emulator is a dev dependency: a production image has none of it.
    expect(Object.keys(pkg.dependencies)).not.toContain('@ims-token/emulator');
  });
});
