import { readFileSync, statSync } from 'node:fs';
import { ImsTokenError } from './errors';
import { parseSecretLines } from './cache';
import type { ClientSecretInput } from './config';

const STATIC = Symbol.for('ims-token.staticSecret');
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * Wraps secret values so that `util.inspect` and `JSON.stringify` of an options object cannot show them
 * (what `fromEnv()` returns). The provider still treats them as static secrets.
 */
export function hiddenSecret(values: readonly string[]): () => readonly string[] {
  const frozen = Object.freeze([...values]);
  const fn = (): readonly string[] => frozen;
  Object.defineProperty(fn, STATIC, { value: frozen });
  Object.defineProperty(fn, INSPECT, { value: () => `[client secret${frozen.length > 1 ? 's' : ''}: redacted]` });
  Object.defineProperty(fn, 'toJSON', { value: () => '[redacted]' });
  return fn;
}

/** What the provider knows of its secrets at one moment. */
export interface SecretSnapshot {
  readonly secrets: readonly string[];
  /** Changes whenever the secrets change; never reveals them (a generation number, not a hash). */
  readonly fingerprint: string;
}

/** Where the secrets came from, for `status()`. */
export type SecretSourceKind = 'static' | 'function' | 'file' | 'set';

let generation = 0;

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function checkList(list: readonly string[], where: string): string[] {
  const clean = list.map((s) => (typeof s === 'string' ? s.trim() : '')).filter(Boolean);
  if (clean.length === 0) throw new ImsTokenError('IMS_CONFIG', `No client secret found in ${where}.`);
  if (clean.length > 2) {
    throw new ImsTokenError(
      'IMS_CONFIG',
      `${where} holds ${clean.length} secrets; at most two are allowed (Adobe keeps two per credential).`,
    );
  }
  return clean;
}

/** Reads the client secrets on every mint: static values, a function, or a file re-read when it changes. */
export class SecretSource {
  #kind: SecretSourceKind;
  readonly #input: ClientSecretInput | undefined;
  readonly #file: string | undefined;
  #snapshot: SecretSnapshot | undefined;
  #fileStamp = '';
  readonly #onRead: ((source: SecretSourceKind, count: number) => void) | undefined;

  /** `onRead` is told each time the secrets are read from their origin (a file, a function, `set()`). */
  constructor(input: ClientSecretInput | undefined, file: string | undefined, onRead?: (source: SecretSourceKind, count: number) => void) {
    this.#input = input;
    this.#file = file;
    this.#onRead = onRead;
    const hidden =
      typeof input === 'function' ? ((input as unknown as Record<symbol, unknown>)[STATIC] as readonly string[] | undefined) : undefined;
    this.#kind = file !== undefined ? 'file' : typeof input === 'function' && !hidden ? 'function' : 'static';
    if (this.#kind === 'static') {
      const list = hidden ? [...hidden] : typeof input === 'string' ? [input] : [...(input as readonly string[])];
      this.#snapshot = this.#make(checkList(list, 'clientSecret'));
    }
  }

  get kind(): SecretSourceKind {
    return this.#kind;
  }

  /** The latest snapshot read, if any (no I/O). */
  get current(): SecretSnapshot | undefined {
    return this.#snapshot;
  }

  /** Every secret currently known (for scrubbing text that came from outside). */
  known(): readonly string[] {
    return this.#snapshot?.secrets ?? [];
  }

  /** Replaces the secrets (a rotation in a running process). */
  set(secrets: readonly string[]): SecretSnapshot {
    this.#kind = 'set';
    this.#snapshot = this.#make(checkList(secrets, 'setSecrets()'));
    this.#onRead?.('set', this.#snapshot.secrets.length);
    return this.#snapshot;
  }

  #make(secrets: readonly string[]): SecretSnapshot {
    if (this.#snapshot && sameList(this.#snapshot.secrets, secrets)) return this.#snapshot;
    return Object.freeze({ secrets: Object.freeze([...secrets]), fingerprint: `g${++generation}` });
  }

  /** Reads the secrets; a file is re-read only when it changed, unless `force`. */
  async read(force = false): Promise<SecretSnapshot> {
    if (this.#kind === 'static' || this.#kind === 'set') return this.#snapshot!;
    if (this.#kind === 'function') {
      let value: string | readonly string[];
      try {
        value = await (this.#input as () => string | readonly string[] | Promise<string | readonly string[]>)();
      } catch (err) {
        throw new ImsTokenError('IMS_CONFIG', 'The clientSecret function threw.', { cause: err });
      }
      const list = typeof value === 'string' ? [value] : Array.isArray(value) ? value : [];
      const next = checkList(list, 'the value returned by the clientSecret function');
      this.#snapshot = this.#make(next);
      this.#onRead?.('function', next.length);
      return this.#snapshot!;
    }
    const file = this.#file!;
    let stamp: string;
    try {
      const st = statSync(file);
      stamp = `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
    } catch (err) {
      throw new ImsTokenError(
        'IMS_CONFIG',
        `Cannot read the client secret file ${file} (IMS_CLIENT_SECRET_FILE): ${(err as NodeJS.ErrnoException).code ?? 'error'}.`,
        {
          hint: 'Create the file with one secret per line (at most two), readable by this process only (chmod 600).',
        },
      );
    }
    if (!force && stamp === this.#fileStamp && this.#snapshot) return this.#snapshot;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ImsTokenError(
        'IMS_CONFIG',
        `Cannot read the client secret file ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}.`,
      );
    }
    const lines = parseSecretLines(text);
    const next = checkList(lines, `the client secret file ${file}`);
    this.#fileStamp = stamp;
    this.#snapshot = this.#make(next);
    this.#onRead?.('file', next.length);
    return this.#snapshot!;
  }
}
