import { afterEach, describe, expect, it } from 'vitest';
import { ImsTokenError, MemoryStore } from './index';
import type { TokenStore } from './index';
import { renderings, setup } from './test/helpers';
import type { Env } from './test/helpers';

let env: Env | undefined;
afterEach(async () => {
  await env?.cleanup();
  env = undefined;
});

/** A logger whose every method throws, as a closed transport's might. */
const throwingLogger = {
  debug: (): void => {
    throw new Error('logger down');
  },
  info: (): void => {
    throw new Error('logger down');
  },
  warn: (): void => {
    throw new Error('logger down');
  },
  error: (): void => {
    throw new Error('logger down');
  },
};

/** Collects unhandled rejections while `fn` runs (and a few turns after). */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const on = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', on);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 20)); // not the emulator's: Node reports an unhandled rejection only after a turn
  } finally {
    process.off('unhandledRejection', on);
  }
  return seen;
}

/** A store of yours whose lock release fails after the mint ran (a Redis connection lost mid-call). */
class ReleaseFailsStore extends MemoryStore implements TokenStore {
  failRelease = false;
  async withLock<T>(_key: string, fn: () => Promise<T>): Promise<T> {
    const result = await fn();
    if (this.failRelease) throw Object.assign(new Error('lost redis://:hunter2@cache:6379 while releasing'), { code: 'ECONNRESET' });
    return result;
  }
}

describe('a logger that throws', () => {
  it('does not replace the error of a failed mint', async () => {
    env = await setup();
    const p = env.make({ clientSecret: 'p8e-wrong-secret', logger: throwingLogger });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
  });

  it('does not turn a failed background refresh into an unhandled rejection', async () => {
    let now = Date.now();
    env = await setup();
    const p = env.make({ clock: () => now, maxRetries: 0, logger: throwingLogger });
    const token = await p.getToken();
    const errors: string[] = [];
    const reported = new Promise<void>((resolve) =>
      p.on('refresh-error', (e) => {
        errors.push(e.code);
        resolve();
      }),
    );
    const unhandled = await unhandledDuring(async () => {
      env!.emu.fault({ kind: 'status', status: 503, times: Infinity });
      now = token.expiresAt - 30 * 60_000;
      expect((await p.getToken()).accessToken).toBe(token.accessToken);
      await reported;
    });
    expect(unhandled).toEqual([]);
    expect(errors).toEqual(['IMS_SERVER_ERROR']);
  });
});

describe('forceRefresh', () => {
  it('never joins a request in flight that answers with the stored token it wants replaced', async () => {
    env = await setup();
    const store = new MemoryStore();
    const stored = await env.make({ store }).getToken();
    const p = env.make({ store });
    const plain = p.getToken(); // reads the store: the stored token
    const forced = p.getToken({ forceRefresh: true });
    expect((await plain).accessToken).toBe(stored.accessToken);
    expect((await forced).accessToken).not.toBe(stored.accessToken);
    expect(env.emu.stats.tokenRequests).toBe(2);
    // and forced callers together still cost one mint
    await Promise.all([p.getToken({ forceRefresh: true }), p.getToken({ forceRefresh: true }), p.getToken()]);
    expect(env.emu.stats.tokenRequests).toBe(3);
  });
});

describe('a store that fails with its own error', () => {
  it('is IMS_STORE, with its name and code but not its message, in the foreground', async () => {
    env = await setup();
    const store = new ReleaseFailsStore();
    store.failRelease = true;
    const p = env.make({ store });
    const err = await p.getToken().catch((e: unknown) => e);
    expect(ImsTokenError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: 'IMS_STORE', retryable: true });
    expect((err as ImsTokenError).message).toContain('ReleaseFailsStore');
    expect((err as ImsTokenError).message).toContain('ECONNRESET');
    expect((err as ImsTokenError).hint).not.toMatch(/DNS/);
    expect(renderings(err)).not.toContain('hunter2');
  });

  it('is IMS_STORE, not a network failure with a DNS hint, in a background refresh', async () => {
    let now = Date.now();
    env = await setup();
    const store = new ReleaseFailsStore({ clock: () => now });
    const p = env.make({ store, clock: () => now });
    const token = await p.getToken();
    store.failRelease = true;
    const reported = new Promise<ImsTokenError>((resolve) => p.on('refresh-error', resolve));
    now = token.expiresAt - 30 * 60_000;
    await p.getToken();
    const err = await reported;
    expect(err.code).toBe('IMS_STORE');
    expect(err.hint).not.toMatch(/DNS/);
    expect(renderings(err)).not.toContain('hunter2');
  });
});

describe('a long-lived AbortSignal', () => {
  it('shared by many concurrent misses adds one listener: no MaxListenersExceededWarning, and still cancels them all', async () => {
    env = await setup();
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      env.emu.fault({ kind: 'latency', latencyMs: 50 });
      const p = env.make();
      const app = new AbortController();
      const tokens = await Promise.all(Array.from({ length: 30 }, () => p.getToken({ signal: app.signal })));
      expect(new Set(tokens.map((t) => t.accessToken)).size).toBe(1);

      env.emu.fault({ kind: 'latency', latencyMs: 5_000 });
      const stop = new AbortController();
      const waiting = Array.from({ length: 30 }, () => p.getToken({ signal: stop.signal, forceRefresh: true }).catch((e: unknown) => e));
      stop.abort();
      for (const e of await Promise.all(waiting)) expect(e).toMatchObject({ code: 'IMS_ABORTED' });
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings).not.toContain('MaxListenersExceededWarning');
  });
});

describe('close()', () => {
  it('aborts a wait for another process’s lock: the waiting getToken() settles with IMS_CLOSED at once', async () => {
    env = await setup();
    let sawSignal = false;
    let entered!: () => void;
    const inLock = new Promise<void>((r) => (entered = r));
    class HeldLockStore extends MemoryStore implements TokenStore {
      withLock<T>(_key: string, _fn: () => Promise<T>, options?: { signal?: AbortSignal }): Promise<T> {
        sawSignal = options?.signal instanceof AbortSignal;
        entered();
        // Another process holds the lock for good; only the provider's signal ends the wait.
        return new Promise<T>((_resolve, reject) => options?.signal?.addEventListener('abort', () => reject(options.signal!.reason)));
      }
    }
    const p = env.make({ store: new HeldLockStore() });
    const waiting = p.getToken().catch((e: unknown) => e);
    await inLock;
    expect(sawSignal).toBe(true);
    await p.close();
    expect(await waiting).toMatchObject({ code: 'IMS_CLOSED' });
    expect(env.emu.stats.tokenRequests).toBe(0);
  });
});
