import { randomBytes } from 'node:crypto';
import { ImsTokenError } from '@ims-token/core';
import { HEADER_LENGTH } from './codec';
import { RedisUnavailable, describe } from './connection';
import type { Connection } from './connection';
import { ACQUIRE, RELEASE, RENEW } from './scripts';

const noop = (): void => {};

/** What the lock needs of its store: Redis, the timings, and the store's ways to report trouble. */
export interface LockHost {
  readonly conn: Connection;
  readonly lockTtlMs: number;
  readonly waitTimeoutMs: number;
  readonly hedgeAfterMs: number;
  closed(): boolean;
  warn(event: string, obj: object, msg: string): void;
  /** A Redis command failed: a warning, and the operation acts as a miss. */
  failed(op: string, err: unknown): void;
  /** Redis failed while taking the lock (reported as a failed `lock` too): the provider mints locally. */
  fellBack(err: unknown): void;
  debug(obj: object, msg: string): void;
  /**
   * Runs `fn` with `entry` (a stored entry, or `null`: none) as the answer of its first get() of `dataKey`,
   * saving a round trip; `undefined`: nothing known, fn reads Redis.
   */
  withLanded<T>(dataKey: string, entry: string | null | undefined, fn: () => Promise<T>): Promise<T>;
  /** Whether the last get() of `dataKey` found no entry at all (cleared by this call). */
  tookMiss(dataKey: string): boolean;
}

interface Look {
  acquired: boolean;
  /** The lock's PTTL when not acquired (-2: released meanwhile). */
  pttl: number;
  /** The stored entry, or '' when none. */
  entry: string;
}

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new ImsTokenError('IMS_ABORTED', 'Stopped waiting for the token store lock.');
}

/**
 * The fleet-wide mint lock of a {@link RedisStore}: `SET NX PX`, renewed while its holder works, released by
 * compare-and-delete; waiters learn of the token through pub/sub (polling as a fallback), hedge behind a slow
 * live holder, take over from a dead one, and stop when their signal aborts or the store closes.
 */
export class MintLocks {
  readonly #h: LockHost;
  readonly #wakeOnClose = new Set<() => void>();
  /** Locks held right now: close() releases them, so a graceful shutdown never leaves one to expire. */
  readonly #held = new Set<[lockKey: string, owner: string, channel: string]>();

  constructor(host: LockHost) {
    this.#h = host;
  }

  /**
   * Runs `fn` holding the lock of `dataKey`. When another process holds it, waits for the token it stores,
   * then runs `fn` (which reads the store first and finds it). After `hedgeAfterMs` one waiter mints as well
   * (a second lock keeps it to one); the lock expiring (the holder died) hands it to a waiter; after
   * `waitTimeoutMs`, with Redis unavailable, or once the store is closed, `fn` runs without a lock. When
   * `signal` aborts while waiting, rejects with its reason (or `IMS_ABORTED`) and never runs `fn`.
   */
  async run<T>(dataKey: string, fn: () => Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) throw abortError(signal);
    const h = this.#h;
    const missed = h.tookMiss(dataKey);
    const lockKey = `${dataKey}:lock`;
    const channel = `${dataKey}:events`;
    const owner = randomBytes(16).toString('hex');
    const started = Date.now();
    const deadline = started + h.waitTimeoutMs;
    const hedgeAt = started + h.hedgeAfterMs;

    let signalled: 'set' | 'released' | undefined;
    let landed: string | undefined;
    // Subscribing on the command connection (RESP3): Redis has the subscription before our first look, so that
    // look needs no second one, and the waiter counts as subscribed unless SUBSCRIBE fails.
    const inOrder = h.conn.inOrder();
    let subscribed = inOrder;
    let wake: (() => void) | undefined;
    const onMessage = (message: string): void => {
      if (message.startsWith('set')) {
        signalled = 'set';
        if (message.startsWith('set:')) landed = message.slice(4);
      } else signalled ??= 'released';
      wake?.();
    };
    // Subscribe while asking for the lock, and never wait for the subscription: until it is there the
    // waiter polls; once it is, it looks once more (a token stored meanwhile sent its message to nobody).
    const listening = h.conn.listen(channel, onMessage).then((unlisten) => {
      const was = subscribed;
      subscribed = unlisten !== undefined;
      if (subscribed !== was) wake?.();
      return unlisten;
    });
    const stopListening = (): void => void listening.then((unlisten) => unlisten?.());
    const first = await this.#acquire(lockKey, dataKey, owner);
    if (first === undefined || first.acquired) {
      stopListening();
      return first === undefined ? fn() : this.#hold(lockKey, owner, channel, () => h.withLanded(dataKey, first.entry || null, fn));
    }
    // The caller's get() found nothing and a token is there now: it landed meanwhile, take it.
    if (missed && first.entry !== '') {
      stopListening();
      return h.withLanded(dataKey, first.entry, fn);
    }
    const before = first.entry.slice(0, HEADER_LENGTH);
    const onWake = (): void => wake?.();
    this.#wakeOnClose.add(onWake);
    signal?.addEventListener('abort', onWake, { once: true });
    let r = first;
    let lookedSubscribed = inOrder; // whether the last look-up started after the subscription was in place
    let hedged = h.hedgeAfterMs >= h.waitTimeoutMs;
    try {
      for (let attempt = 0; ; attempt++) {
        if (signal?.aborted) throw abortError(signal);
        if (signalled === 'set') return await h.withLanded(dataKey, landed, fn);
        signalled = undefined;
        if (attempt > 0) {
          lookedSubscribed = subscribed;
          const again = await this.#acquire(lockKey, dataKey, owner);
          if (signal?.aborted) {
            if (again?.acquired) await this.#release([lockKey, owner, channel]);
            throw abortError(signal);
          }
          if (again === undefined) return await fn();
          if (again.acquired) return await this.#hold(lockKey, owner, channel, () => h.withLanded(dataKey, again.entry || null, fn));
          r = again;
        }
        const header = r.entry.slice(0, HEADER_LENGTH);
        if (header !== '' && header !== before) return await h.withLanded(dataKey, r.entry, fn); // a new token was stored
        const now = Date.now();
        if (now >= deadline) {
          h.warn(
            'wait',
            { op: 'lock', waitedMs: h.waitTimeoutMs },
            'ims-token/redis: another process holds the mint lock for too long; minting here',
          );
          return await fn();
        }
        if (!hedged && now >= hedgeAt) {
          hedged = true;
          const hedgeKey = `${lockKey}:hedge`;
          if (await this.#take(hedgeKey, owner)) {
            h.warn(
              'hedge',
              { op: 'lock', waitedMs: now - started },
              'ims-token/redis: the lock holder is slow to store a token; minting here too (one waiter of the fleet)',
            );
            return await this.#hold(hedgeKey, owner, channel, fn);
          }
        }
        // Pub/sub wakes us at once; the timer is the fallback (not subscribed yet, a lost message, a holder that died).
        const backoff = subscribed ? Math.min(250 * 2 ** attempt, 1_000) : Math.min(20 * 1.5 ** attempt, 250);
        let delay = Math.min(deadline - now, backoff * (0.8 + 0.4 * Math.random()));
        if (!hedged) delay = Math.min(delay, hedgeAt - now);
        if (r.pttl >= 0)
          delay = Math.min(delay, r.pttl + 5); // the lock expires then: the holder died or is done
        else if (r.pttl === -2) delay = 0; // released between SET and PTTL
        if (subscribed && !lookedSubscribed) delay = 0; // subscribed since that look-up began: look once more
        if (signalled === undefined && delay > 0 && !h.closed() && !signal?.aborted) {
          await new Promise<void>((resolve) => {
            const t = setTimeout(resolve, delay);
            wake = () => {
              clearTimeout(t);
              resolve();
            };
          });
          wake = undefined;
        }
        if (signal?.aborted) throw abortError(signal);
        if (h.closed()) return await fn();
      }
    } finally {
      this.#wakeOnClose.delete(onWake);
      signal?.removeEventListener('abort', onWake);
      stopListening();
    }
  }

  /** `SET NX PX` of a plain lock; false when another owner has it or Redis fails. */
  async #take(lockKey: string, owner: string): Promise<boolean> {
    try {
      return (await this.#h.conn.command(['SET', lockKey, owner, 'NX', 'PX', String(this.#h.lockTtlMs)])) !== null;
    } catch (err) {
      this.#h.failed('lock', err);
      return false;
    }
  }

  async #acquire(lockKey: string, dataKey: string, owner: string): Promise<Look | undefined> {
    const h = this.#h;
    if (h.closed()) return undefined;
    let reply: unknown;
    try {
      reply = await h.conn.command(['EVAL', ACQUIRE, '2', lockKey, dataKey, owner, String(h.lockTtlMs)]);
    } catch (err) {
      h.fellBack(err);
      return undefined;
    }
    if (!Array.isArray(reply) || reply.length !== 4) {
      h.fellBack(new RedisUnavailable('BAD_REPLY', 'unexpected reply to the lock script'));
      return undefined;
    }
    const [acquired, pttl, entry, repaired] = reply as [unknown, unknown, unknown, unknown];
    if (Number(repaired) === 1) {
      h.warn(
        'lock-no-ttl',
        { op: 'lock', lockTtlMs: h.lockTtlMs },
        'ims-token/redis: the mint lock had no expiry (set by hand or by an old version); gave it lockTtlMs so it expires',
      );
    }
    const text = typeof entry === 'string' ? entry : Buffer.isBuffer(entry) ? entry.toString('utf8') : '';
    return { acquired: Number(acquired) === 1, pttl: Number(pttl), entry: text };
  }

  async #hold<T>(lockKey: string, owner: string, channel: string, fn: () => Promise<T>): Promise<T> {
    const { conn, lockTtlMs } = this.#h;
    const renew = setInterval(
      () => {
        conn.command(['EVAL', RENEW, '1', lockKey, owner, String(lockTtlMs)]).catch(noop);
      },
      Math.max(10, Math.floor(lockTtlMs / 3)),
    );
    renew.unref();
    const held: [string, string, string] = [lockKey, owner, channel];
    this.#held.add(held);
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      if (this.#held.delete(held)) await this.#release(held);
    }
  }

  /** Compare-and-delete; a failed release is harmless: the lock expires after lockTtlMs. */
  async #release([lockKey, owner, channel]: [string, string, string]): Promise<void> {
    await this.#h.conn
      .command(['EVAL', RELEASE, '1', lockKey, owner, channel])
      .catch((err: unknown) => this.#h.debug(describe(err), 'ims-token/redis: could not release the lock; it expires by itself'));
  }

  /** Wakes every waiter (they run fn without the lock, or stop on their aborted signal) and releases the locks held. */
  async close(): Promise<void> {
    for (const wake of this.#wakeOnClose) wake();
    const held = [...this.#held];
    this.#held.clear();
    await Promise.all(held.map((h) => this.#release(h)));
  }
}
