import { parseEnv } from 'node:util';
import { usageError } from '../args';

// The one dotenv editor of the CLI (`init` and `secrets rotate`). It edits bytes, not text: the file is read as
// latin1 (one character per byte), so lines it does not rewrite — comments, other keys, bytes that are not
// UTF-8 — are written back exactly as they were, and so are `export `, trailing comments, quotes, CRLF and a BOM.

const KEY_LINE = /^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_]*)([ \t]*=[ \t]*)(.*?)(\r?)$/;
const BOM = '\xEF\xBB\xBF';

/**
 * A dotenv value that Node's parser (`util.parseEnv`, `--env-file`) and dotenv read back unchanged.
 *
 * @example
 * ```ts
 * quoteEnvValue('p8e-abc') // 'p8e-abc'
 * quoteEnvValue('has space') // "'has space'"
 * ```
 */
export function quoteEnvValue(value: string): string {
  if (/^[A-Za-z0-9_.,:/@+=-]*$/.test(value)) return value;
  if (/[\r\n]/.test(value)) throw usageError('A value for the .env file contains a line break.', 'Check what was pasted.');
  if (!value.includes("'")) return `'${value}'`;
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes('`')) return `\`${value}\``;
  throw usageError('A value for the .env file contains every kind of quote.', 'Store the secret in a file and use IMS_CLIENT_SECRET_FILE.');
}

/** The part of a value after its end: a ` # comment` of an unquoted value, or what follows a closing quote. */
function trailing(value: string, key: string): string {
  const q = value[0];
  if (q === '"' || q === "'" || q === '`') {
    const end = value.indexOf(q, 1);
    if (end === -1) {
      throw usageError(
        `The value of ${key} spans several lines (an opening ${q} without its closing one on the same line).`,
        `Put ${key} on one line, then run the command again.`,
      );
    }
    return value.slice(end + 1);
  }
  const hash = value.search(/\s+#/);
  return hash === -1 ? '' : value.slice(hash);
}

/** What to change in a dotenv file. */
export interface EnvEdit {
  /** Keys to set: every line of the key is rewritten in place; a missing key is appended. */
  set: ReadonlyArray<readonly [string, string]>;
  /** Keys whose lines are removed. */
  remove?: readonly string[];
  /** A comment line written before appended keys (when the file already has other lines). */
  header?: string;
}

/** Latin1 text of UTF-8 encoded `s`: how a value is put into the byte-preserving text. */
const asBytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

/**
 * The file with `edit` applied and every other byte kept. `bytes` undefined: a new file.
 *
 * @example
 * ```ts
 * editEnv(Buffer.from('export A=1 # keep\r\n'), { set: [['A', '2']] }).toString() // 'export A=2 # keep\r\n'
 * ```
 */
export function editEnv(bytes: Buffer | undefined, edit: EnvEdit): Buffer {
  let text = bytes === undefined ? '' : bytes.toString('latin1');
  const bom = text.startsWith(BOM) ? BOM : '';
  text = text.slice(bom.length);
  const want = new Map(edit.set);
  const drop = new Set(edit.remove ?? []);
  const seen = new Set<string>();
  const endsWithNewline = text.endsWith('\n');
  const lines = text === '' ? [] : text.split('\n');
  if (endsWithNewline) lines.pop();
  const terminated = endsWithNewline ? lines : lines.slice(0, -1);
  const crlf = terminated.length > 0 && terminated.every((l) => l.endsWith('\r'));
  const out: string[] = [];
  for (const line of lines) {
    const m = KEY_LINE.exec(line);
    const key = m?.[2];
    if (!m || key === undefined || (!want.has(key) && !drop.has(key))) {
      out.push(line);
      continue;
    }
    const [, prefix, , eq, value, cr] = m;
    const rest = trailing(value!, key);
    if (!want.has(key)) continue; // removed
    seen.add(key);
    out.push(`${prefix}${key}${eq}${asBytes(quoteEnvValue(want.get(key)!))}${rest}${cr}`);
  }
  const missing = edit.set.filter(([k]) => !seen.has(k));
  const eol = crlf ? '\r' : '';
  let body = out.join('\n');
  if (missing.length > 0) {
    const added = missing.map(([k, v]) => `${k}=${asBytes(quoteEnvValue(v))}${eol}`);
    if (edit.header && out.some((l) => l.trim() !== ''))
      added.unshift(...(out[out.length - 1]?.trim() === '' ? [] : [eol]), `${edit.header}${eol}`);
    body = out.length > 0 ? `${body}${endsWithNewline ? '' : eol}\n${added.join('\n')}\n` : `${added.join('\n')}\n`;
  } else if (endsWithNewline) {
    body += '\n';
  }
  return Buffer.from(`${bom}${body}`, 'latin1');
}

/** The keys and values of a dotenv file, as Node's parser reads them (UTF-8, or byte by byte when it is not UTF-8). */
export function envValues(bytes: Buffer | undefined): Record<string, string> {
  if (bytes === undefined) return {};
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    text = bytes.toString('latin1');
  }
  return parseEnv(text.startsWith('\uFEFF') ? text.slice(1) : text) as Record<string, string>;
}
