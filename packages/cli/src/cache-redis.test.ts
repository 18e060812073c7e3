import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createImsToken } from '@ims-token/core';
import type { TokenStore } from '@ims-token/core';
import { cacheKeyFor, normalizeImsUrl, normalizeScopes } from '@ims-token/core/cache';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credential, startFixture } from './test/fixture';
import type { Fixture } from './test/fixture';
import { runCli } from './test/run-cli';

// A Redis cache (IMS_TOKEN_CACHE=redis://…, real Redis at 127.0.0.1:6379) read by the commands that never mint:
// they need no secret. The CLI loads @ims-token/redis from the application it runs in, as core does.
const REDIS_PACKAGE = fileURLToPath(new URL('../../redis', import.meta.url));

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(async () => {
  await fx?.stop();
});

/** An application folder that has @ims-token/redis installed. */
function appWithRedis(dir: string): string {
  const app = join(dir, 'app');
  mkdirSync(join(app, 'node_modules', '@ims-token'), { recursive: true });
  writeFileSync(join(app, 'package.json'), '{"name":"app","private":true}\n');
  symlinkSync(REDIS_PACKAGE, join(app, 'node_modules', '@ims-token', 'redis'));
  return app;
}

describe('a Redis token cache', () => {
  it('status, inspect and cache clear read it without the secret', async () => {
    const c = credential(fx);
    const app = appWithRedis(c.dir);
    const env: Record<string, string> = { ...c.env, IMS_TOKEN_CACHE: 'redis://127.0.0.1:6379' };
    const { IMS_CLIENT_SECRET: _drop, ...noSecret } = env;

    expect((await runCli(['token'], { env, cwd: app, printsToken: true })).code).toBe(0);
    const status = await runCli(['status', '--json'], { env: noSecret, cwd: app });
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ state: 'valid', clientId: c.clientId, cache: { kind: 'redis' } });
    const inspect = await runCli(['inspect', '--json'], { env: noSecret, cwd: app });
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ clientId: c.clientId });

    const cleared = await runCli(['cache', 'clear', '--json'], { env: noSecret, cwd: app });
    expect(cleared.code, cleared.stderr).toBe(0);
    expect(JSON.parse(cleared.stdout)).toMatchObject({ removed: 1, clientId: c.clientId });
    // status on the now empty cache: says so, and exits (a RedisStore closed right after a miss once kept it alive)
    const empty = await runCli(['status', '--json'], { env: noSecret, cwd: app });
    expect(empty.code, empty.stderr).toBe(0);
    expect(JSON.parse(empty.stdout)).toMatchObject({ state: 'none', cache: { kind: 'redis' } });
    expect((await runCli(['token'], { env, cwd: app, printsToken: true })).code).toBe(0);
    expect(c.minted()).toBe(2);
  });

  it("status does not show a Redis entry with other scopes as this credential's token (core's rule, as for a file)", async () => {
    const c = credential(fx);
    const app = appWithRedis(c.dir);
    const env: Record<string, string> = { ...c.env, IMS_TOKEN_CACHE: 'redis://127.0.0.1:6379' };
    const { IMS_CLIENT_SECRET: _drop, ...noSecret } = env;
    const key = cacheKeyFor(normalizeImsUrl(c.env.IMS_URL!), c.clientId, normalizeScopes(c.env.IMS_SCOPES!));
    const { RedisStore } = (await import(join(REDIS_PACKAGE, 'dist', 'index.js'))) as {
      RedisStore: new (o: { url: string }) => TokenStore;
    };
    const store = new RedisStore({ url: 'redis://127.0.0.1:6379' });
    const now = Date.now();
    try {
      await store.set(
        key,
        createImsToken({
          accessToken: 'not-for-these-scopes',
          expiresAt: now + 86_400_000,
          issuedAt: now,
          scopes: ['openid'],
          clientId: c.clientId,
        }),
      );
      const status = await runCli(['status', '--json'], { env: noSecret, cwd: app });
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ state: 'none', cache: { kind: 'redis' } });
    } finally {
      await store.delete(key);
      await store.close?.();
    }
  });
});
