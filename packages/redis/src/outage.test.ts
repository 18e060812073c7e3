import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenProvider } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator } from '@ims-token/emulator';
import { RedisStore } from './index';
import { captureLogger, freePort, randomPrefix, rawClient, startRedisServer, stopProcess, waitFor } from '../test/helpers';

// Redis down, frozen, or not Redis at all: getToken() always succeeds (minting locally), nothing throws
// unhandled, and sharing comes back by itself when Redis does.

const log = captureLogger();
const secrets: string[] = [];
let emu: Emulator;
let client: { clientId: string; clientSecret: string };
const providers: TokenProvider[] = [];

function provider(store: RedisStore): TokenProvider {
  const p = createTokenProvider({
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    scopes: 'openid,AdobeID',
    imsUrl: emu.url,
    store,
    logger: log,
  });
  providers.push(p);
  return p;
}

async function token(store: RedisStore): Promise<{ accessToken: string; p: TokenProvider }> {
  const p = provider(store);
  const t = await p.getToken();
  secrets.push(t.accessToken);
  return { accessToken: t.accessToken, p };
}

const minted = (): number => emu.stats.mintedByClient[client.clientId] ?? 0;

beforeAll(async () => {
  emu = await startEmulator();
  client = emu.addClient();
  secrets.push(client.clientSecret);
});

afterAll(async () => {
  await Promise.all(providers.map((p) => p.close()));
  await emu.stop();
  if (process.env.DUMP_LOGS)
    console.log(
      log.lines
        .filter((l) => l.level !== 'debug' || process.env.DUMP_LOGS === 'all')
        .map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.obj)}`)
        .join('\n'),
    );
  const text = log.text();
  for (const s of secrets) expect(text).not.toContain(s);
});

describe('Redis outage', () => {
  let port: number;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    port = await freePort();
    server = await startRedisServer(port);
  });

  afterAll(async () => {
    if (server) await stopProcess(server);
  });

  it('mints locally while Redis is stopped, and shares again once it is back', async () => {
    const url = `redis://127.0.0.1:${port}`;
    const prefix = randomPrefix();
    // Refused connections fail at once whatever the timeout; a generous one keeps a busy CI from flaking.
    const store = new RedisStore({ url, prefix, logger: log, commandTimeoutMs: 2_000 });
    const other = new RedisStore({ url, prefix, logger: log, commandTimeoutMs: 2_000 });
    try {
      // Sharing works.
      const first = await token(store);
      const second = await token(other);
      expect(second.accessToken).toBe(first.accessToken);
      expect(minted()).toBe(1);

      // Redis dies: every getToken() still succeeds, each minting locally.
      await stopProcess(server!);
      server = undefined;
      const warnsBefore = log.lines.filter((l) => l.level === 'warn').length;
      for (let i = 0; i < 3; i++) {
        const { p } = await token(i % 2 ? store : other);
        expect(p.status().counters.mints).toBe(1);
      }
      expect(minted()).toBe(4);
      expect(log.lines.slice(0).filter((l) => l.level === 'warn').length).toBeGreaterThan(warnsBefore);
      expect(log.text()).toMatch(/unreachable/);

      // Redis returns on the same port (empty): the stores reconnect by themselves and share again.
      server = await startRedisServer(port);
      // Both stores must be back (each reconnects, and skips Redis for a moment after a failure, on its own).
      await waitFor(
        async () => {
          await token(store); // mints and stores once the connection is back
          const viaOther = await token(other);
          const viaStore = await token(store);
          return viaOther.p.status().counters.storeHits === 1 && viaStore.p.status().counters.storeHits === 1;
        },
        15_000,
        'sharing to resume',
      );
      const before = minted();
      const again = await token(other);
      const again2 = await token(store);
      expect(again2.accessToken).toBe(again.accessToken);
      expect(minted()).toBe(before);
      expect(log.lines.some((l) => l.level === 'info' && /reachable again/.test(l.msg ?? ''))).toBe(true);
    } finally {
      await store.close();
      await other.close();
    }
  });

  it('treats a frozen Redis (no answers) as a miss within the command timeout', async () => {
    const url = `redis://127.0.0.1:${port}`;
    const prefix = randomPrefix();
    const store = new RedisStore({ url, prefix, logger: log, commandTimeoutMs: 200 });
    try {
      await token(store);
      server!.kill('SIGSTOP');
      try {
        const before = minted();
        const { p } = await token(store); // a new provider: its store lookups time out, it mints
        expect(p.status().counters.mints).toBe(1);
        expect(minted()).toBe(before + 1);
        // The lock cannot be taken either: withLock runs fn anyway.
        expect(await store.withLock('k', async () => 'ran')).toBe('ran');
      } finally {
        server!.kill('SIGCONT');
      }
      // Answers resume on the same connection: a new provider finds the shared token again.
      await waitFor(async () => (await token(store)).p.status().counters.storeHits === 1, 5_000, 'Redis to answer again');
    } finally {
      await store.close();
    }
  });

  it('an answer that comes after the command timeout shows Redis alive: the store uses it again at once, not after a cool-down', async () => {
    // What a pod on a crowded node sees: Redis (or this process) not scheduled for longer than commandTimeoutMs.
    const url = `redis://127.0.0.1:${port}`;
    const prefix = randomPrefix();
    const store = new RedisStore({ url, prefix, logger: log, commandTimeoutMs: 200 }); // a cool-down would be ≥ 1 s
    try {
      await token(store);
      server!.kill('SIGSTOP');
      const late = store.withLock('k', async () => 'ran'); // times out, runs fn without the lock
      try {
        expect(await late).toBe('ran');
      } finally {
        server!.kill('SIGCONT');
      }
      const thawed = Date.now();
      // The timed-out command's answer arrives now; a new provider takes the shared token again within moments.
      await waitFor(async () => (await token(store)).p.status().counters.storeHits === 1, 5_000, 'the shared token');
      expect(Date.now() - thawed).toBeLessThan(500);
    } finally {
      await store.close();
    }
  });
});

describe('no Redis at all', () => {
  it('works when Redis is down from the start', async () => {
    const port = await freePort(); // nothing listens there
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: randomPrefix(), logger: log });
    try {
      const before = minted();
      const a = await token(store);
      const b = await token(store);
      expect(a.accessToken).not.toBe(b.accessToken); // no sharing, but no failure
      expect(minted()).toBe(before + 2);
    } finally {
      await store.close();
    }
  });

  it('works with a server that does not speak RESP3 (no HELLO, as Redis 5): shares, and waiters wake by pub/sub', async () => {
    const port = await freePort();
    const old = await startRedisServer(port, ['--rename-command', 'HELLO', '']);
    const url = `redis://127.0.0.1:${port}`;
    const prefix = randomPrefix();
    const holder = new RedisStore({ url, prefix, logger: log });
    const waiter = new RedisStore({ url, prefix, logger: log });
    const raw = await rawClient(url);
    try {
      const warnsBefore = log.lines.filter((l) => l.level === 'warn').length;
      const before = minted();
      const first = await token(holder);
      const second = await token(waiter);
      expect(second.accessToken).toBe(first.accessToken); // shared
      expect(minted()).toBe(before + 1);
      // A waiter behind a holder that stores a token runs fn once the token is there, told by pub/sub.
      const t = await first.p.getToken();
      let storedAt = 0;
      const held = holder.withLock('k', async () => {
        await sleep(300);
        storedAt = Date.now();
        await holder.set('k', t);
      });
      await waitFor(async () => (await raw.exists(`${prefix}k:lock`)) === 1, 2_000, 'the holder to take the lock');
      const ranAt = await waiter.withLock('k', async () => Date.now());
      await held;
      expect(storedAt).toBeGreaterThan(0);
      expect(ranAt).toBeGreaterThanOrEqual(storedAt);
      expect(ranAt - storedAt).toBeLessThan(200); // woken, not polling (at 250 ms and more once subscribed)
      expect((await waiter.get('k'))?.accessToken).toBe(first.accessToken);
      expect(log.lines.filter((l) => l.level === 'warn').length).toBe(warnsBefore); // nothing reported as Redis trouble
    } finally {
      raw.destroy();
      await holder.close();
      await waiter.close();
      await stopProcess(old);
    }
  });

  it('works when the server answers garbage instead of RESP', async () => {
    const garbage: Server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.on('data', () => socket.write('HTTP/1.1 400 Bad Request\r\n\r\n<html>nope</html>\r\n'));
    });
    await new Promise<void>((r) => garbage.listen(0, '127.0.0.1', r));
    const { port } = garbage.address() as { port: number };
    const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, prefix: randomPrefix(), logger: log, commandTimeoutMs: 200 });
    try {
      const before = minted();
      await token(store);
      await token(store);
      expect(minted()).toBe(before + 2);
    } finally {
      await store.close();
      await new Promise((r) => garbage.close(r));
    }
  });
});
