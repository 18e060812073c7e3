import { createServer, request } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The two headers a provider hands out (structurally: this kit does not depend on core). */
export interface AuthHeadersLike {
  readonly authorization: string;
  readonly 'x-api-key': string;
}

/** What every adapter uses of a provider on a 401: `getAuthHeaders()` and `invalidate(token)`. */
export interface UnauthorizedSource {
  getAuthHeaders(): Promise<AuthHeadersLike>;
  invalidate(accessToken?: string): Promise<boolean>;
}

/** The bearer token in `authorization: Bearer <token>`. */
export function tokenOf(headers: AuthHeadersLike): string {
  return headers.authorization.slice('Bearer '.length);
}

/** What {@link callWithOneRetry} did: the final status, and whether it retried. */
export interface RetryOutcome {
  status: number;
  retried: boolean;
}

/**
 * The 401 pattern every adapter follows, in three lines:
 * `h = await getAuthHeaders(); r = call(h); if (r === 401 && await invalidate(tokenOf(h))) retry once`.
 */
export async function callWithOneRetry(
  source: UnauthorizedSource,
  call: (headers: AuthHeadersLike) => Promise<number>,
): Promise<RetryOutcome> {
  const h = await source.getAuthHeaders();
  const status = await call(h);
  if (status !== 401 || !(await source.invalidate(tokenOf(h)))) return { status, retried: false };
  return { status: await call(await source.getAuthHeaders()), retried: true };
}

/** A stand-in for an Adobe API on 127.0.0.1 (see {@link startApiStandIn}). */
export interface ApiStandIn {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Requests seen per path, and how many were answered 401. */
  readonly stats: { requests: number; unauthorized: number; byPath: Record<string, number> };
  /** GET `path` with exactly `headers` (node:http, no client of ours); resolves the status. */
  call(path: string, headers: AuthHeadersLike): Promise<number>;
  close(): Promise<void>;
}

/** Adobe's gateway answer to a token it does not accept. */
export const GATEWAY_401 = { error_code: '401013', message: 'Oauth token is not valid' } as const;

/**
 * Starts a stand-in Adobe API: `GET /always-401` answers Adobe's gateway 401 whatever the token (a path
 * an attacker can hit to try to turn requests into IMS mints); `GET /ok` answers 200 when `accepts(headers)`
 * says the bearer token is currently valid (e.g. by asking the emulator's `/api/v1/whoami`), else the same 401.
 *
 * @example
 * ```ts
 * const api = await startApiStandIn(async (h) => (await fetch(`${emu.url}/api/v1/whoami`, { headers: h as HeadersInit })).ok)
 * const { status } = await callWithOneRetry(provider, (h) => api.call('/always-401', h))
 * ```
 */
export async function startApiStandIn(accepts: (headers: IncomingHttpHeaders) => Promise<boolean> | boolean): Promise<ApiStandIn> {
  const stats = { requests: 0, unauthorized: 0, byPath: {} as Record<string, number> };
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    stats.requests++;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    const answer = (ok: boolean): void => {
      if (!ok) stats.unauthorized++;
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { ok: true } : GATEWAY_401));
    };
    if (path === '/ok') {
      Promise.resolve(accepts(req.headers)).then(answer, () => answer(false));
    } else if (path === '/always-401') {
      answer(false);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    stats,
    call(path, headers) {
      return new Promise<number>((resolve, reject) => {
        const req = request(
          `${url}${path}`,
          { headers: { authorization: headers.authorization, 'x-api-key': headers['x-api-key'] } },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        req.end();
      });
    },
    close() {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
