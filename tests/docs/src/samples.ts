/**
 * Finds the TypeScript/JavaScript code blocks of the READMEs and docs. A block is type-checked; an HTML
 * comment on the line before its fence (blank lines between are fine) changes that:
 *
 *   <!-- docs-test: run -->                 also run it (as an ES module) against the emulator
 *   <!-- docs-test: fragment <why> -->      a piece of a larger program: not checked (keep these rare)
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

export interface Sample {
  /** Path from the repository root, e.g. `packages/core/README.md`. */
  file: string;
  /** Line of the opening fence. */
  line: number;
  lang: 'ts' | 'js';
  code: string;
  mode: 'check' | 'run' | 'fragment';
  /** Why a fragment is one. */
  reason?: string;
  /** A file-name-safe id from the file and the block's place in it: `packages_core_README_md_1` (the first). */
  id: string;
}

/** README.md, docs/*.md, packages/*\/README.md and apps/*\/README.md. */
export function docFiles(root = ROOT): string[] {
  const inDir = (dir: string, pick: (name: string) => string | undefined): string[] =>
    existsSync(join(root, dir))
      ? readdirSync(join(root, dir))
          .sort()
          .map(pick)
          .filter((p): p is string => p !== undefined && existsSync(join(root, p)))
      : [];
  return [
    'README.md',
    'CONTRIBUTING.md',
    ...inDir('docs', (n) => (n.endsWith('.md') ? `docs/${n}` : undefined)),
    ...inDir('packages', (n) => `packages/${n}/README.md`),
    ...inDir('apps', (n) => `apps/${n}/README.md`),
  ].filter((p) => existsSync(join(root, p)));
}

const FENCE = /^```(ts|typescript|js|javascript|mjs|mts)\s*$/;
const MARKER = /^<!--\s*docs-test:\s*(run|fragment)\b\s*(.*?)\s*-->$/;

export function extractSamples(file: string, text: string): Sample[] {
  const lines = text.split(/\r?\n/);
  const out: Sample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && !/^```\s*$/.test(lines[end]!)) end++;
    let j = i - 1;
    while (j >= 0 && lines[j]!.trim() === '') j--;
    const marker = j >= 0 ? MARKER.exec(lines[j]!.trim()) : null;
    const lang = open[1]!.startsWith('j') || open[1] === 'mjs' ? 'js' : 'ts';
    out.push({
      file,
      line: i + 1,
      lang,
      code: lines.slice(i + 1, end).join('\n'),
      mode: (marker?.[1] as Sample['mode'] | undefined) ?? 'check',
      ...(marker?.[1] === 'fragment' ? { reason: marker[2] || 'no reason given' } : {}),
      id: `${file.replace(/[^\w]/g, '_')}_${out.length + 1}`,
    });
    i = end;
  }
  return out;
}

export function allSamples(root = ROOT): Sample[] {
  return docFiles(root).flatMap((f) => extractSamples(f, readFileSync(join(root, f), 'utf8')));
}
