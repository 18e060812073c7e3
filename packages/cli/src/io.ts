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

/** Fills in the process's streams, environment and directory. */
export function resolveIo(io: Partial<CliIo> = {}): CliIo {
  const stdin = io.stdin;
  return {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
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
