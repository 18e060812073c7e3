import { performance } from 'node:perf_hooks';
import { createClient } from '@redis/client';
import type { Logger } from '@ims-token/core';

/**
 * The part of a node-redis client (v4 or v5, from `redis` or `@redis/client`) that the store uses.
 * Pass your own `createClient()` result; it does not need to be connected yet.
 *
 * @example
 * ```ts
 * import { createClient } from 'redis'
 * const client: RedisClientLike = createClient({ url: 'redis://redis:6379' })
 * const store = new RedisStore({ client }) // store.close() leaves `client` open
 * ```
 */
export interface RedisClientLike {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: string[]): Promise<unknown>;
  on(event: string, listener: (...args: any[]) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  off?(event: string, listener: (...args: any[]) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  removeListener?(event: string, listener: (...args: any[]) => void): unknown; // eslint-disable-line @typescript-eslint/no-explicit-any
  duplicate(): RedisClientLike;
  subscribe?(channel: string, listener: (message: string, channel: string) => unknown): Promise<unknown>;
  unsubscribe?(channel: string): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): unknown;
  disconnect?(): Promise<unknown>;
}

type Log = Required<Logger>;

const noop = (): void => {};

/** A store-level failure of one Redis operation (never reaches the caller of getToken). */
export class RedisUnavailable extends Error {
  override readonly name = 'RedisUnavailable';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** A short, secret-free description of an error for a log line. */
export function describe(err: unknown): { error: string; reason?: string } {
  const e = err as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  const error = String(e?.code ?? e?.name ?? 'error');
  if (typeof e?.message !== 'string') return { error };
  const reason = e.message
    .replace(/\/\/[^@/\s]*@/g, '//***@') // credentials in a URL
    .replace(/[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{8,}/g, '[jwt]') // a token, should one ever show up
    .slice(0, 160);
  return { error, reason };
}

/**
 * Rejects with `TIMEOUT` when `promise` takes longer than `ms`. A process that was starved of CPU (the
 * timer fired late: a blocked event loop, a busy node) is not Redis being slow: then it waits `ms` once
 * more, and in any case lets pending socket reads run first (setImmediate), so a reply that did arrive wins.
 */
function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const arm = (rearmed: boolean): void => {
      const due = performance.now() + ms;
      timer = setTimeout(() => {
        const late = performance.now() - due;
        if (!rearmed && late > Math.max(50, ms / 2)) return arm(true);
        setImmediate(() => reject(new RedisUnavailable('TIMEOUT', `${what} took longer than ${ms} ms`)));
      }, ms);
      timer.unref();
    };
    arm(false);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function detach(client: RedisClientLike, event: string, listener: (...args: unknown[]) => void): void {
  if (typeof client.off === 'function') client.off(event, listener);
  else client.removeListener?.(event, listener);
}

function destroy(client: RedisClientLike): void {
  try {
    if (typeof client.destroy === 'function') client.destroy();
    else void client.disconnect?.().catch(noop);
  } catch {
    // already closed
  }
}

/** One watched connection: knows whether Redis is up, fails fast while it is down, never queues. */
class Link {
  readonly client: RedisClientLike;
  #down = false;
  #opened = false;
  #closed = false;
  #waiters = new Set<{ resolve: () => void; reject: (err: unknown) => void }>();
  #connecting: Promise<unknown> | undefined;
  readonly #events: Array<[string, (...args: unknown[]) => void]>;

  constructor(
    client: RedisClientLike,
    readonly name: string,
    readonly log: Log,
    private readonly onState: (up: boolean, err?: unknown) => void,
  ) {
    this.client = client;
    this.#events = [
      ['error', (err) => this.#fail(err)],
      ['end', () => this.#fail(new RedisUnavailable('CLOSED', 'connection closed'))],
      ['ready', () => this.#ready()],
    ];
    for (const [event, listener] of this.#events) client.on(event, listener);
  }

  #fail(err: unknown): void {
    const wasDown = this.#down;
    this.#down = true;
    for (const w of this.#waiters) w.reject(err);
    this.#waiters.clear();
    if (!wasDown && !this.#closed) this.onState(false, err);
  }

  #ready(): void {
    const wasDown = this.#down;
    this.#down = false;
    for (const w of this.#waiters) w.resolve();
    this.#waiters.clear();
    if (wasDown && !this.#closed) this.onState(true);
  }

  /** Starts connecting a client that is not open yet (errors are reported through 'error'). */
  open(): void {
    this.#opened = true;
    if (this.client.isOpen) return;
    try {
      this.#connecting = this.client.connect().catch(noop);
    } catch {
      // e.g. "Socket already opened" when the owner connects at the same moment
    }
  }

  /**
   * Drops the client. One still connecting is first let finish (up to `ms`): node-redis 5 destroys nothing
   * while connecting, then opens the socket anyway and leaves it open, unreachable by any call, keeping the
   * process alive (a store closed right after a miss had started the pub/sub connection never let it exit).
   * Should it still be connecting after `ms`, its socket is unref'd first, so it cannot hold the process.
   */
  async destroy(ms: number): Promise<void> {
    if (this.#connecting && !this.client.isReady && this.client.isOpen) {
      await withTimeout(this.#connecting, ms, 'connecting').catch(noop);
      if (!this.client.isReady) (this.client as { unref?: () => void }).unref?.();
    }
    destroy(this.client);
  }

  /**
   * The client, once ready. While Redis is known to be down this fails at once (availability over
   * sharing); during the first connection it waits up to `ms`.
   */
  async ready(ms: number): Promise<RedisClientLike> {
    if (this.#closed) throw new RedisUnavailable('CLOSED', 'the store is closed');
    const c = this.client;
    if (c.isReady) return c;
    if (!c.isOpen && !this.#opened)
      this.open(); // a caller's client that nobody connected yet
    else if (this.#down || !c.isOpen) throw new RedisUnavailable('OFFLINE', `Redis is not connected (${this.name})`);
    let entry: { resolve: () => void; reject: (err: unknown) => void } | undefined;
    const wait = new Promise<void>((resolve, reject) => {
      entry = { resolve, reject };
      this.#waiters.add(entry);
    });
    try {
      await withTimeout(wait, ms, `connecting to Redis (${this.name})`);
    } finally {
      this.#waiters.delete(entry!);
    }
    return c;
  }

  close(destroyClient: boolean): void {
    this.#closed = true;
    for (const [event, listener] of this.#events) detach(this.client, event, listener);
    // Keep swallowing late 'error' events of a client we are about to drop.
    if (destroyClient) this.client.on('error', noop);
    for (const w of this.#waiters) w.reject(new RedisUnavailable('CLOSED', 'the store is closed'));
    this.#waiters.clear();
  }
}

export interface ConnectionOptions {
  client: RedisClientLike | undefined;
  url: string | undefined;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  pubsub: boolean;
  log: Log;
  warn: (event: string, obj: object, msg: string) => void;
}

interface Channel {
  listeners: Set<(message: string) => void>;
  subscribed: Promise<unknown>;
}

/** A server (Redis before 6, some proxies) that does not speak RESP3: its reply to the handshake's HELLO. */
function noHello(err: unknown): boolean {
  const m = (err as { message?: unknown } | undefined)?.message;
  return typeof m === 'string' && /\bHELLO\b/i.test(m);
}

/**
 * The store's Redis connections. A client the store creates from `url` speaks RESP3 and takes the pub/sub
 * notifications on its command connection: one connection per store, and a waiter's SUBSCRIBE goes out before
 * its lock script on that same connection, so it is subscribed by the time it learns it must wait (no polling
 * while a second connection opens). A server without RESP3 gets a RESP2 client and a second (lazy) connection for
 * pub/sub, as a caller's client does.
 */
export class Connection {
  readonly #o: ConnectionOptions;
  readonly #owned: boolean;
  #main: Link;
  /** Whether pub/sub rides on the command connection (RESP3, our own client). */
  #push: boolean;
  #sub: Link | undefined;
  #subFailed = false;
  #coolUntil = 0;
  readonly #channels = new Map<string, Channel>();
  #closed = false;

  constructor(o: ConnectionOptions) {
    this.#o = o;
    this.#owned = o.client === undefined;
    this.#push = this.#owned && o.pubsub;
    this.#main = this.#link(o.client ?? this.#create(this.#push));
    // Our own client connects at once; a caller's client is connected on first use only if the caller
    // has not done it by then (connecting it here would make the caller's own connect() throw).
    if (this.#owned) this.#main.open();
  }

  #create(resp3: boolean): RedisClientLike {
    return createClient({
      url: this.#o.url!,
      disableOfflineQueue: true,
      ...(resp3 ? { RESP: 3 as const } : {}),
      // No node-redis command timeout: its timer cannot tell a process that was not run for a while from a
      // slow Redis; command() times out with withTimeout(), which can.
      socket: {
        connectTimeout: this.#o.connectTimeoutMs,
        // Exponential backoff with jitter, 50 ms to 2 s, for ever: the store recovers by itself.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** retries, 2_000) + Math.floor(Math.random() * 100),
      },
    }) as unknown as RedisClientLike;
  }

  #link(client: RedisClientLike): Link {
    const link: Link = new Link(client, 'commands', this.#o.log, (up, err) => {
      if (!up && this.#push && this.#main === link && noHello(err)) this.#downgrade(link);
      else this.#onState(up, err);
    });
    return link;
  }

  /** The server refused HELLO 3: drop that client for a RESP2 one (pub/sub then on a second connection). */
  #downgrade(old: Link): void {
    this.#push = false;
    this.#o.log.debug({}, 'ims-token/redis: the server does not speak RESP3; using a second connection for pub/sub');
    this.#main = this.#link(this.#create(false));
    if (!this.#closed) this.#main.open();
    old.close(true);
    void old.destroy(0);
  }

  #onState(up: boolean, err?: unknown): void {
    if (up) this.#o.log.info({}, 'ims-token/redis: Redis is reachable again; sharing tokens resumes');
    else
      this.#o.warn(
        'down',
        describe(err),
        'ims-token/redis: Redis is unreachable; tokens are minted locally until it returns (availability over sharing)',
      );
  }

  /** Sends one command; rejects within `commandTimeoutMs` (or the connect timeout for the very first one). */
  async command(args: string[]): Promise<unknown> {
    // After a timeout, skip Redis until it answers again: one slow answer costs a miss, not one per command.
    if (Date.now() < this.#coolUntil) throw new RedisUnavailable('OFFLINE', 'Redis timed out a moment ago; not waiting for it again yet');
    let sent: Promise<unknown> | undefined;
    const link = this.#main;
    try {
      const client = await link.ready(this.#o.connectTimeoutMs);
      sent = client.sendCommand(args);
      return await withTimeout(sent, this.#o.commandTimeoutMs, `Redis ${args[0]}`);
    } catch (err) {
      if (this.#main !== link && !this.#closed) return this.command(args); // replaced by a RESP2 client meanwhile
      if ((err as RedisUnavailable).code === 'TIMEOUT') {
        const until = Date.now() + Math.max(1_000, 4 * this.#o.commandTimeoutMs);
        this.#coolUntil = until;
        // Its answer coming late shows Redis alive (or this process was not run for a while, a crowded node):
        // use Redis again at once rather than minting locally for the rest of the cool-down.
        sent?.then(() => {
          if (this.#coolUntil === until) this.#coolUntil = 0;
        }, noop);
      }
      throw err;
    }
  }

  /**
   * Whether a listen() called now subscribes on the command connection, ahead of every command sent after it:
   * Redis then has the subscription before it runs them, so no message after their answer can be missed.
   */
  inOrder(): boolean {
    return this.#push && !this.#closed && this.#main.client.isReady;
  }

  /**
   * Calls `onMessage` for every message on `channel` until the returned function is called.
   * Gives `undefined` when pub/sub is off or unavailable (the caller polls instead).
   */
  async listen(channel: string, onMessage: (message: string) => void): Promise<(() => void) | undefined> {
    if (!this.#o.pubsub || this.#closed || this.#subFailed) return undefined;
    let entry: Channel | undefined;
    try {
      // Connected on RESP3: SUBSCRIBE goes out now, ahead of any command sent after this call (see inOrder()).
      const sub = this.inOrder() ? this.#main : await this.#subscriber();
      entry = this.#channels.get(channel);
      if (!entry) {
        const created: Channel = { listeners: new Set(), subscribed: Promise.resolve() };
        created.subscribed = withTimeout(
          sub.client.subscribe!(channel, (message) => {
            for (const l of this.#channels.get(channel)?.listeners ?? []) l(message);
          }),
          this.#o.commandTimeoutMs,
          'Redis SUBSCRIBE',
        );
        created.subscribed.catch(() => {
          if (this.#channels.get(channel) === created) this.#channels.delete(channel);
        });
        this.#channels.set(channel, created);
        entry = created;
      }
      entry.listeners.add(onMessage);
      await entry.subscribed;
    } catch (err) {
      entry?.listeners.delete(onMessage);
      this.#o.log.debug(describe(err), 'ims-token/redis: no pub/sub notification; polling instead');
      return undefined;
    }
    const e = entry;
    return () => {
      e.listeners.delete(onMessage);
      if (e.listeners.size === 0 && this.#channels.get(channel) === e) {
        this.#channels.delete(channel);
        const sub = this.#push ? this.#main : this.#sub;
        if (sub && sub.client.isReady) sub.client.unsubscribe!(channel).catch(noop);
      }
    };
  }

  /** Starts opening the pub/sub connection (a miss is about to wait on a lock), without waiting for it. */
  prepareListening(): void {
    if (!this.#o.pubsub || this.#closed || this.#subFailed || this.#sub || this.#push) return;
    this.#subscriber().catch(noop);
  }

  async #subscriber(): Promise<Link> {
    if (this.#push) {
      const main = this.#main;
      // Replaced by a RESP2 client while connecting: subscribe on a connection of its own.
      const ok = await main.ready(this.#o.connectTimeoutMs).then(
        () => true,
        (err: unknown) => {
          if (main === this.#main) throw err;
          return false;
        },
      );
      if (ok && main === this.#main) return main;
    }
    if (!this.#sub) {
      const main = this.#main.client;
      if (typeof main.duplicate !== 'function') {
        this.#subFailed = true;
        throw new RedisUnavailable('NO_PUBSUB', 'the client cannot be duplicated for pub/sub');
      }
      const dup = main.duplicate();
      if (typeof dup.subscribe !== 'function') {
        this.#subFailed = true;
        throw new RedisUnavailable('NO_PUBSUB', 'the client has no subscribe()');
      }
      this.#sub = new Link(dup, 'pub/sub', this.#o.log, noop);
      this.#sub.open();
    }
    await this.#sub.ready(this.#o.connectTimeoutMs);
    return this.#sub;
  }

  /** Closes the pub/sub connection, and the command connection only when the store created it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.clear();
    const sub = this.#sub;
    if (sub) {
      sub.close(true);
      await sub.destroy(this.#o.connectTimeoutMs);
    }
    this.#main.close(this.#owned);
    if (!this.#owned) return;
    const c = this.#main.client;
    if (c.isReady) {
      try {
        await withTimeout(Promise.resolve(typeof c.close === 'function' ? c.close() : c.quit?.()), this.#o.commandTimeoutMs, 'Redis QUIT');
        return;
      } catch {
        // fall through: drop the socket
      }
    }
    await this.#main.destroy(this.#o.connectTimeoutMs);
  }
}
