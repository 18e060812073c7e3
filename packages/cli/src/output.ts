import type { CliIo, CliWritable } from './io';

/** ANSI styling that switches itself off when the stream is not a terminal, or with `NO_COLOR` / `TERM=dumb`. */
export interface Style {
  readonly enabled: boolean;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

export function styleFor(stream: CliWritable, env: CliIo['env']): Style {
  const enabled = stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb';
  const wrap =
    (open: number, close: number) =>
    (s: string): string =>
      enabled ? `\u001b[${open}m${s}\u001b[${close}m` : s;
  return { enabled, green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

/**
 * Text from outside (a token's claims) made safe to print: C0 and C1 control characters and DEL become `\xNN`
 * escapes (and bidi overrides `\\uNNNN`), so a claim holding `ESC]52;…` cannot write to the clipboard or move the cursor of a terminal.
 */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const n = c.charCodeAt(0);
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16)}`;
  });
}

/** `23h 59m`, `4m 10s`, `42s`; always of a non-negative duration. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${sec}s`;
  return `${sec}s`;
}

/** `in 4m 10s` / `3m 2s ago`. */
export function relative(ms: number): string {
  return ms >= 0 ? `in ${formatDuration(ms)}` : `${formatDuration(-ms)} ago`;
}

export function iso(ms: number | undefined): string | null {
  return ms === undefined || !Number.isFinite(ms) ? null : new Date(ms).toISOString();
}

/** Aligned `label  value` lines. */
export function table(rows: ReadonlyArray<readonly [string, string]>, style: Style, indent = '  '): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${style.dim(k.padEnd(width))}  ${v}\n`).join('');
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner on stderr for long waits; does nothing unless stderr is a terminal. */
export interface Spinner {
  update(text: string): void;
  stop(): void;
}

export function startSpinner(io: CliIo, text: string, delayMs = 400): Spinner {
  const stream = io.stderr;
  if (stream.isTTY !== true || io.env.TERM === 'dumb') return { update: () => {}, stop: () => {} };
  let label = text;
  let frame = 0;
  let shown = false;
  let timer: NodeJS.Timeout | undefined;
  const draw = (): void => {
    shown = true;
    stream.write(`\r\u001b[2K${FRAMES[frame++ % FRAMES.length]} ${label}`);
  };
  const start = setTimeout(() => {
    draw();
    timer = setInterval(draw, 80);
    timer.unref();
  }, delayMs);
  start.unref();
  return {
    update(t: string): void {
      label = t;
      if (shown) draw();
    },
    stop(): void {
      clearTimeout(start);
      if (timer) clearInterval(timer);
      if (shown) stream.write('\r\u001b[2K');
      shown = false;
    },
  };
}
