import { fstatSync, statSync } from 'node:fs';
import { print } from './launcher/print';

/**
 * A stream the CLI writes to (process.stdout, or anything with `write`).
 *
 * @example
 * ```ts
 * let out = ''
 * const stdout: CliWritable = { write: (s: string) => (out += s) }
 * ```
 */
export interface CliWritable {
  write(chunk: string): unknown;
  /** True when it is a terminal: colour, spinners and prompts are used only then. */
  isTTY?: boolean;
}

/**
 * A stream the CLI reads from (`--client-secret-stdin`, `inspect -`, prompts of `init`).
 *
 * @example
 * ```ts
 * const stdin: CliReadable = Readable.from([secret])
 * ```
 */
export type CliReadable = NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };

/**
 * Where the CLI reads and writes; every field defaults to the current process's.
 *
 * @example
 * ```ts
 * await run(['status', '--json'], { env: { ...process.env, IMS_SCOPES: 'openid' }, cwd: '/srv/app' })
 * ```
 */
export interface CliIo {
  stdout: CliWritable;
  stderr: CliWritable;
  stdin: CliReadable;
  /** Environment variables (`IMS_*`, `XDG_CACHE_HOME`, `NO_COLOR`). */
  env: Record<string, string | undefined>;
  /** Directory relative paths (`--env-file`, `--cache-dir`, `init --out`) are resolved against. */
  cwd: string;
}

/** This process's fd 1 or 2, written with `write(2)`; `process.stdout`/`process.stderr` made only when needed. */
class ProcessOutput implements CliWritable {
  #tty: boolean | undefined;
  #streamUsed = false;
  constructor(
    readonly fd: 1 | 2,
    readonly stream: () => NodeJS.WriteStream,
  ) {}

  /** Once a write went to the stream (a full non-blocking pipe, an error), every later one does: bytes stay in order. */
  write(chunk: string): boolean {
    if (this.#streamUsed) return this.stream().write(chunk);
    print(chunk, this.fd, () => {
      this.#streamUsed = true;
      return this.stream();
    });
    return true;
  }

  /**
   * Asked before colour, a spinner or a prompt. A pipe, a file or /dev/null (what scripts, CI and cron give) is
   * told apart with one `fstat`; only a character device that is not /dev/null makes the stream to ask it.
   */
  get isTTY(): boolean {
    return (this.#tty ??= mayBeTerminal(this.fd) && this.stream().isTTY === true);
  }
}

function mayBeTerminal(fd: number): boolean {
  try {
    const st = fstatSync(fd);
    return st.isCharacterDevice() && st.rdev !== statSync(process.getBuiltinModule('node:os').devNull).rdev;
  } catch {
    return false;
  }
}

/**
 * The stream behind `w`: the process's own for its stdout/stderr (for what needs a stream: readline, a write
 * whose completion or failure must be known), else `w` itself.
 */
export function streamOf(w: CliWritable): CliWritable {
  return w instanceof ProcessOutput ? w.stream() : w;
}

/** Whether `w` is this process's own standard output or error (what a child can inherit). */
export function isProcessOutput(w: CliWritable): boolean {
  return w instanceof ProcessOutput || w === process.stdout || w === process.stderr;
}

/**
 * Fills in the process's streams, environment and directory. Standard output and error are written with
 * `write(2)`, like the launcher's warm path: making `process.stdout` costs a cold run ~4 ms (stream modules
 * over /dev/null or a file, a pipe handle over a pipe), more than a token's printing needs.
 */
export function resolveIo(io: Partial<CliIo> = {}): CliIo {
  const stdin = io.stdin;
  return {
    stdout: io.stdout ?? new ProcessOutput(1, () => process.stdout),
    stderr: io.stderr ?? new ProcessOutput(2, () => process.stderr),
    // process.stdin is made on first use: most commands never read it, and making it loads a stream module
    // (over /dev/null or a file), a pipe or a terminal handle.
    get stdin(): CliReadable {
      return stdin ?? process.stdin;
    },
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
}

/** Reads a stream to its end (at most `limit` bytes). */
export async function readAll(stream: NodeJS.ReadableStream, limit = 1024 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > limit) throw new Error(`standard input is larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8');
}
