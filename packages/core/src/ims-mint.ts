import type { ResolvedOptions } from './config';
import { dc, traced } from './diagnostics';
import type { CredentialFields } from './diagnostics';
import { ImsTokenError } from './errors';
import { createDefaultDispatcher } from './http';
import type { Transport } from './http';
import { rejectsClientId, requestToken } from './ims-client';
import type { TokenResult } from './ims-client';
import { redactToken } from './redact';
import { withRetries } from './retry';
import type { SecretSnapshot, SecretSource } from './secret-source';
import type { ImsToken } from './token';

/** What the provider lends the minter: its state for counters, its closing signal, and what to do on failure. */
export interface MinterHost {
  readonly options: ResolvedOptions;
  readonly secrets: SecretSource;
  readonly fields: CredentialFields;
  readonly counters: { imsRequests: number; mints: number; failovers: number };
  readonly closing: AbortSignal;
  isClosed(): boolean;
  /** Records a failure the minter gives up on (last error, negative cache) and returns it. */
  fail(error: ImsTokenError, snap: SecretSnapshot): ImsTokenError;
  /** The first secret was rejected and the other one worked. */
  failedOver(from: number, to: number, reason: ImsTokenError): void;
}

/** What every call of a closed provider (and one stopped by closing) fails with. */
export const closedError = (): ImsTokenError => new ImsTokenError('IMS_CLOSED', 'The token provider was closed.');

/**
 * Gets one token from IMS: with the secret in use, retried ({@link withRetries}); after an `invalid_client`,
 * with a secret file read again, then with the other configured secret (a failover that sticks).
 */
export class ImsMinter {
  readonly #h: MinterHost;
  readonly #tokenUrl: string;
  #agent: Transport | undefined;
  #secretIndex = 0;
  #secretFingerprint = '';

  constructor(host: MinterHost) {
    this.#h = host;
    const u = new URL(host.options.tokenUrl);
    this.#tokenUrl = `${u.origin}${u.pathname}`;
  }

  /** Which configured secret is in use (0 or 1). */
  get secretIndex(): number {
    return this.#secretIndex;
  }

  async mint(snap: SecretSnapshot): Promise<ImsToken> {
    const h = this.#h;
    if (snap.fingerprint !== this.#secretFingerprint) {
      this.#secretFingerprint = snap.fingerprint;
      this.#secretIndex = 0;
    }
    const secrets = snap.secrets;
    const idx = this.#secretIndex < secrets.length ? this.#secretIndex : 0;
    try {
      return await this.#request(secrets[idx]!, idx);
    } catch (err) {
      if (!ImsTokenError.is(err)) throw err;
      if (err.code === 'IMS_INVALID_CLIENT' && !rejectsClientId(err)) {
        if (h.secrets.kind === 'file') {
          const fresh = await h.secrets.read(true);
          if (fresh.fingerprint !== snap.fingerprint) return this.mint(fresh);
        }
        if (secrets.length === 2) {
          const other = 1 - idx;
          try {
            const token = await this.#request(secrets[other]!, other);
            this.#secretIndex = other;
            h.failedOver(idx, other, err);
            return token;
          } catch (err2) {
            throw h.fail(ImsTokenError.is(err2) ? err2 : err, snap);
          }
        }
      }
      throw h.fail(err, snap);
    }
  }

  /** One token request with `secret`, retried; each HTTP attempt traced on `ims-token:ims-request`. */
  async #request(secret: string, secretIndex: number): Promise<ImsToken> {
    const h = this.#h;
    const o = h.options;
    if (!o.dispatcher && !this.#agent) {
      const agent = await createDefaultDispatcher(8);
      if (this.#agent || h.isClosed()) void agent.close();
      else this.#agent = agent;
    }
    const attempt = async (n: number): Promise<TokenResult> => {
      if (h.isClosed()) throw closedError();
      h.counters.imsRequests++;
      const send = (): Promise<TokenResult> =>
        requestToken({
          tokenUrl: o.tokenUrl,
          clientId: o.clientId,
          clientSecret: secret,
          scopes: o.scopes,
          timeoutMs: o.timeoutMs,
          dispatcher: o.dispatcher ?? this.#agent,
          clock: o.clock,
          signal: h.closing,
          known: h.secrets.known(),
        });
      try {
        return await traced(
          dc.imsRequest,
          () => ({ ...h.fields, url: this.#tokenUrl, attempt: n + 1, secretIndex }),
          send,
          (r, ctx) => {
            ctx.status = r.status;
            if (r.debugId !== undefined) ctx.debugId = r.debugId;
          },
          (err, ctx) => {
            if (!ImsTokenError.is(err)) return;
            if (err.status !== undefined) ctx.status = err.status;
            if (err.debugId !== undefined) ctx.debugId = err.debugId;
          },
        );
      } catch (err) {
        throw ImsTokenError.is(err) && err.code === 'IMS_ABORTED' && h.isClosed() ? closedError() : err;
      }
    };
    // A failure is recorded (fail()) by mint() once it gave up on every secret.
    const { token, debugId } = await withRetries(attempt, {
      maxRetries: o.maxRetries,
      baseDelayMs: o.retryBaseDelayMs,
      maxDelayMs: o.retryMaxDelayMs,
      signal: h.closing,
      stopped: closedError,
      onRetry: (err, n, delay) =>
        o.logger.debug(
          { code: err.code, attempt: n, delayMs: Math.round(delay), debugId: err.debugId },
          'ims-token: retrying the token request',
        ),
    });
    h.counters.mints++;
    o.logger.debug({ debugId, expiresAt: token.expiresAt, token: redactToken(token.accessToken) }, 'ims-token: minted a token');
    return token;
  }

  async close(): Promise<void> {
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.close().catch(() => undefined);
  }
}
