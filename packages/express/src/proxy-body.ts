import type { Request } from 'express';

/**
 * Whether a path (the part before `?`) has a segment an upstream could read as something else than we do: an
 * encoded `/` or `\`, a raw `\`, a `;` (matrix parameters, `..;/` on Java servers), a malformed escape, or a
 * segment that decodes to `.` or `..`. Clients normalise dot segments before sending, so only a crafted
 * request carries one.
 */
export function isUnsafePath(path: string): boolean {
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    if (/%2f|%5c|\\|;/i.test(segment)) return true;
    let decoded: string;
    try {
      decoded = decodeURIComponent(segment);
    } catch {
      return true;
    }
    if (decoded === '.' || decoded === '..') return true;
  }
  return false;
}

/** Whether a body parser already read this request's body (so it must be re-sent from `req.body`). */
export function wasParsed(req: Request): boolean {
  return req.readableEnded || (req as { _body?: unknown })._body === true;
}

/** A re-encoded body, or why it cannot be re-sent faithfully. */
export type Reencoded = { body: Buffer; contentType?: string } | { problem: string };

const NODE_CHARSETS: Record<string, BufferEncoding> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'us-ascii': 'latin1',
  ascii: 'latin1',
  'utf-16le': 'utf16le',
};

function charsetOf(contentType: string): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType)?.[1]?.toLowerCase();
}

/** Every value a string or an array of strings: a form that `URLSearchParams` writes back as it was. */
function isFlatForm(body: unknown): body is Record<string, string | string[]> {
  if (typeof body !== 'object' || body === null) return false;
  return Object.values(body).every((v) => typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string')));
}

/**
 * The body a parser read, encoded again the way it arrived (less any `content-encoding`: it was inflated):
 * `express.raw()` bytes as they are, `express.text()` in its charset, `express.json()` as JSON (UTF-8),
 * `express.urlencoded()` as a form when it is flat. Anything else is refused, naming the parser.
 */
export function reencode(req: Request): Reencoded {
  const body: unknown = req.body;
  const type = req.get('content-type') ?? '';
  const charset = charsetOf(type);
  if (Buffer.isBuffer(body)) return { body };
  if (typeof body === 'string') {
    const encoding = NODE_CHARSETS[charset ?? 'utf-8'];
    if (encoding === undefined) return { problem: `express.text() decoded it from charset ${charset}, which the proxy cannot write back` };
    return { body: Buffer.from(body, encoding) };
  }
  if (/[/+]json\b/i.test(type) && body !== undefined) {
    const json = Buffer.from(JSON.stringify(body));
    return charset === undefined || charset === 'utf-8' ? { body: json } : { body: json, contentType: 'application/json; charset=utf-8' };
  }
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
    if (!isFlatForm(body))
      return { problem: 'express.urlencoded({ extended: true }) made nested objects of it, which a form cannot say again' };
    const form = new URLSearchParams();
    for (const [k, v] of Object.entries(body)) for (const x of Array.isArray(v) ? v : [v]) form.append(k, x);
    return { body: Buffer.from(form.toString()), contentType: 'application/x-www-form-urlencoded' };
  }
  return { problem: `a body parser for ${type.split(';')[0] || 'this content type'} read it and left nothing the proxy can re-send` };
}

/**
 * Reads a body of known, small length (so a 401 can be replayed). Resolves `undefined` when the client sends
 * nothing for `timeoutMs` (a stalled upload must not hold the request forever); rejects when it goes away.
 */
export function readBody(req: Request, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let timer = setTimeout(stalled, timeoutMs);
    function stalled(): void {
      cleanup();
      resolve(undefined);
    }
    function onData(c: Buffer): void {
      chunks.push(c);
      clearTimeout(timer);
      timer = setTimeout(stalled, timeoutMs);
    }
    function onEnd(): void {
      cleanup();
      resolve(Buffer.concat(chunks));
    }
    function onGone(err?: Error): void {
      cleanup();
      reject(err ?? new Error('the client went away'));
    }
    function cleanup(): void {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}
