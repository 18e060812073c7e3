import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseEnv } from 'node:util';
import { ENV } from '@ims-token/core';
import { usageError } from '../../args';
import { quoteEnvValue } from '../init';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `15m`, `2h`, `1d`, `1h30m`, `0` → milliseconds; `undefined` when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (t === '0') return 0;
  if (!/^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/.test(t)) return undefined;
  let ms = 0;
  for (const [, n, unit] of t.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) ms += Number(n) * UNITS[unit!]!;
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** What a write target looks like before the rotation starts. */
export interface Target {
  path: string;
  /** The file's text before the rotation (`undefined`: it does not exist yet). */
  before: string | undefined;
  /** Mode to write it with. */
  mode: number;
}

function fsError(what: string, path: string, err: unknown): Error {
  return new Error(`Cannot ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
}

/** Checks a target before anything is changed at Adobe: its directory is writable, an existing file readable. */
export async function checkTarget(
  path: string,
  flag: string,
  { mustExist, keepMode }: { mustExist: boolean; keepMode: boolean },
): Promise<Target> {
  let before: string | undefined;
  let mode = 0o600;
  try {
    before = await readFile(path, 'utf8');
    if (keepMode) mode = (await stat(path)).mode & 0o777;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT')
      throw usageError(
        `${flag} ${path} cannot be read (${code ?? 'error'}).`,
        `Check the path and its permissions, or pass another ${flag}.`,
      );
    if (mustExist)
      throw usageError(
        `${flag} ${path} does not exist.`,
        `${flag} updates an existing dotenv file; check the path (it is relative to the current directory).`,
      );
  }
  try {
    await access(dirname(path), constants.W_OK);
  } catch (err) {
    throw usageError(
      `${flag} ${path}: its directory is not writable (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      `Create the directory or fix its permissions, or pass another ${flag}.`,
    );
  }
  return { path, before, mode };
}

/** Writes `text` to `path` atomically (temp file in the same directory, fsync, rename) with `mode`. */
export async function writeAtomic(path: string, text: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  let fh;
  try {
    fh = await open(tmp, 'wx', mode);
  } catch (err) {
    throw fsError('write', path, err);
  }
  try {
    await fh.writeFile(text);
    await fh.chmod(mode);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw fsError('write', path, err);
  }
  await fh.close();
  try {
    await rename(tmp, path);
    await chmod(path, mode);
  } catch (err) {
    await rm(tmp, { force: true });
    throw fsError('write', path, err);
  }
}

/** Puts a target back as it was (or removes it if it did not exist). Best effort. */
export async function restore(t: Target): Promise<void> {
  if (t.before === undefined) await rm(t.path, { force: true });
  else await writeAtomic(t.path, t.before, t.mode);
}

/** The secret file's text: one secret per line, the one to use first. */
export function secretFileText(secrets: readonly string[]): string {
  return `${secrets.join('\n')}\n`;
}

const KEY_LINE = /^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_]*)([ \t]*=[ \t]*)(.*?)(\r?)$/;

/** The part of a value after its end: a ` # comment` of an unquoted value, or what follows a closing quote. */
function trailing(value: string): string {
  const q = value[0];
  if (q === '"' || q === "'" || q === '`') {
    const end = value.indexOf(q, 1);
    return end === -1 ? '' : value.slice(end + 1);
  }
  const hash = value.search(/\s+#/);
  return hash === -1 ? '' : value.slice(hash);
}

/** Keys of a dotenv text, as Node's parser reads it. */
export function envKeys(text: string): Record<string, string> {
  return parseEnv(text) as Record<string, string>;
}

/**
 * `text` with each key of `values` set in place, keeping every other line, comment, `export` prefix and
 * trailing comment; a key that is not there is appended. Line endings are kept.
 */
export function setEnvValues(text: string | undefined, values: ReadonlyArray<readonly [string, string]>): string {
  const want = new Map(values);
  const seen = new Set<string>();
  const lines = text === undefined || text === '' ? [] : text.split('\n');
  const endsWithNewline = text !== undefined && text.endsWith('\n');
  if (endsWithNewline) lines.pop();
  const eol = text?.includes('\r\n') ? '\r\n' : '\n';
  const out = lines.map((line) => {
    const m = KEY_LINE.exec(line);
    if (!m || !want.has(m[2]!)) return line;
    const [, prefix, key, eq, value, cr] = m;
    seen.add(key!);
    return `${prefix}${key}${eq}${quoteEnvValue(want.get(key!)!)}${trailing(value!)}${cr}`;
  });
  const missing = values.filter(([k]) => !seen.has(k));
  for (const [k, v] of missing) out.push(`${k}=${quoteEnvValue(v)}${eol === '\r\n' ? '\r' : ''}`);
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Checks an env file `--write-env-file` may update: it must not point at a secret file instead. */
export function checkEnvFile(t: Target, flag: string): void {
  const keys = envKeys(t.before ?? '');
  if (keys[ENV.clientSecretFile]?.trim()) {
    throw usageError(
      `${flag} ${t.path} sets IMS_CLIENT_SECRET_FILE: the services read their secret from that file, not from IMS_CLIENT_SECRET.`,
      `Pass --write-secret-file ${keys[ENV.clientSecretFile]!.trim().slice(0, 200)} instead.`,
    );
  }
}
