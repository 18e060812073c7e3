import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

// Keeps a file that holds a client secret out of git: `init` writes `.env`, and a repository without a
// `.gitignore` (or with one that does not cover it) would commit the secret with the next `git add .`.

/** What {@link keepOutOfGit} found or did. */
export type GitStatus =
  | { readonly state: 'no-repo' | 'ignored' }
  | { readonly state: 'added'; readonly gitignore: string; readonly pattern: string }
  | { readonly state: 'not-ignored' | 'tracked'; readonly pattern: string };

/** The work tree that holds `dir`: the nearest directory with a `.git` (directory or file), up to `GIT_CEILING_DIRECTORIES`. */
function workTree(dir: string, env: Record<string, string | undefined>): string | undefined {
  const ceilings = (env.GIT_CEILING_DIRECTORIES ?? '').split(':').filter(Boolean);
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return d;
    if (ceilings.includes(d) || dirname(d) === d) return undefined;
  }
}

function git(root: string, args: string[], env: Record<string, string | undefined>): number | undefined {
  const r = spawnSync('git', ['-C', root, ...args], { stdio: 'ignore', env: { ...env, GIT_OPTIONAL_LOCKS: '0' } as NodeJS.ProcessEnv });
  return r.error ? undefined : (r.status ?? undefined);
}

/** Without git installed: whether a root `.gitignore` line names the file (exactly, or `*.env` / `.env*` style). */
function coveredByRootIgnore(root: string, rel: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(root, '.gitignore'), 'utf8');
  } catch {
    return false;
  }
  const name = rel.split('/').pop()!;
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .some(
      (p) =>
        p === rel ||
        p === `/${rel}` ||
        p === name ||
        p === '*' ||
        (p === '*.env' && name.endsWith('.env')) ||
        (p === '.env*' && name.startsWith('.env')),
    );
}

/**
 * When `file` lies in a git work tree and git does not ignore it, appends `/<path>` to the work tree's root
 * `.gitignore` (creating it) — unless `add` is false. A file git already tracks cannot be fixed that way: it is
 * reported as `tracked`. Asks git itself (`check-ignore`, `ls-files`), so every ignore rule counts; reads the
 * root `.gitignore` when git is not installed.
 */
export function keepOutOfGit(file: string, { add, env }: { add: boolean; env: Record<string, string | undefined> }): GitStatus {
  const root = workTree(dirname(file), env);
  if (!root) return { state: 'no-repo' };
  const rel = relative(root, file).split(sep).join('/');
  const pattern = `/${rel}`;
  if (git(root, ['ls-files', '--error-unmatch', '--', rel], env) === 0) return { state: 'tracked', pattern };
  const check = git(root, ['check-ignore', '-q', '--', rel], env);
  const ignored = check === 0 || ((check === undefined || check > 1) && coveredByRootIgnore(root, rel));
  if (ignored) return { state: 'ignored' };
  if (!add) return { state: 'not-ignored', pattern };
  const gitignore = join(root, '.gitignore');
  let before = '';
  try {
    before = readFileSync(gitignore, 'utf8');
  } catch {
    // a new .gitignore
  }
  const eol = before.includes('\r\n') ? '\r\n' : '\n';
  const sep0 = before === '' || before.endsWith('\n') ? '' : eol;
  writeFileSync(gitignore, `${before}${sep0}# ims-token init: the client secret must never be committed${eol}${pattern}${eol}`);
  return { state: 'added', gitignore, pattern };
}
