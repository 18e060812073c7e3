import { afterEach, describe, expect, it } from 'vitest';
import { createServer, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { fetch as undiciFetch, request as undiciRequest } from 'undici';
import { expectNoLeak, setup } from './test/helpers';
import type { Env } from './test/helpers';

// `getAuthHeaders()` is handed to every HTTP client as it is. Each must send exactly the two headers,
// while logging the object still shows at most 6 characters of the token.

let env: Env;
let close: (() => void) | undefined;
afterEach(async () => {
  close?.();
  close = undefined;
  await env?.cleanup();
});

/** A local server that keeps the headers of each request. */
async function recorder(): Promise<{ url: string; seen: IncomingHttpHeaders[] }> {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  close = () => {
    server.closeAllConnections();
    server.close();
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, seen };
}

function viaHttp(url: string, headers: Record<string, string> | object): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: headers as Record<string, string> }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
}

type Send = (url: string, headers: object) => Promise<unknown>;
const clients: Array<[string, Send]> = [
  ['global fetch', async (url, h) => (await fetch(url, { headers: h as never })).text()],
  ['undici fetch', async (url, h) => (await undiciFetch(url, { headers: h as never })).text()],
  ['new Headers(h) with fetch', async (url, h) => (await fetch(url, { headers: new Headers(h as never) })).text()],
  ['undici request', async (url, h) => (await undiciRequest(url, { headers: h as Record<string, string> })).body.text()],
  ['axios-style spreading { ...h }', async (url, h) => (await fetch(url, { headers: { ...h } as never })).text()],
  ['http.request', (url, h) => viaHttp(url, h)],
];

describe('getAuthHeaders() handed to any HTTP client', () => {
  it.each(clients)('%s sends exactly authorization and x-api-key', async (_name, send) => {
    env = await setup();
    const p = env.make();
    const h = await p.getAuthHeaders();
    const t = await p.getToken();
    const { url, seen } = await recorder();
    await send(url, {}); // what the client sends by itself
    await send(url, h);
    const [plain, sent] = seen as [IncomingHttpHeaders, IncomingHttpHeaders];
    const added = Object.keys(sent).filter((k) => !(k in plain));
    expect(added.sort()).toEqual(['authorization', 'x-api-key']);
    expect(sent.authorization).toBe(`Bearer ${t.accessToken}`);
    expect(sent['x-api-key']).toBe(env.clientId);
  });

  it('is accepted as it is by fetch, also by the type checker', async () => {
    env = await setup();
    const h = await env.make().getAuthHeaders();
    const { url, seen } = await recorder();
    await (await fetch(url, { headers: h })).text(); // no cast: ImsAuthHeaders is a HeadersInit
    expect(seen[0]).toMatchObject({ authorization: h.authorization, 'x-api-key': h['x-api-key'] });
  });

  it('has exactly two own keys; [...new Headers(h)] holds exactly the two', async () => {
    env = await setup();
    const h = await env.make().getAuthHeaders();
    expect(Reflect.ownKeys(h)).toEqual(['authorization', 'x-api-key']);
    expect([...new Headers(h as never)].map(([k]) => k)).toEqual(['authorization', 'x-api-key']);
    expect(Object.isFrozen(h)).toBe(true);
  });

  it('util.inspect and JSON.stringify still show at most 6 characters of the token', async () => {
    env = await setup();
    const p = env.make();
    const h = await p.getAuthHeaders();
    const t = await p.getToken();
    const shown = `${inspect(h)}\n${inspect(h, { showHidden: true, depth: 5 })}\n${JSON.stringify(h)}\n${JSON.stringify({ h })}`;
    expectNoLeak(shown, [t.accessToken.slice(0, 7)]);
    expect(inspect(h)).toContain(t.accessToken.slice(0, 6));
    expect(JSON.parse(JSON.stringify(h))).toEqual({ authorization: `Bearer ${t.accessToken.slice(0, 6)}…`, 'x-api-key': env.clientId });
  });
});
