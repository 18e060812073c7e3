import type { Logger } from './config';
import type { CredentialFields } from './diagnostics';
import type { Emitter } from './emitter';
import type { TokenProviderEvents, TokenProviderStatus } from './provider-types';

/** What a provider shares with its parts (refresh-ahead, stored tokens, the 401 policy). */
export interface ProviderContext {
  readonly clock: () => number;
  /** The credential fields of every diagnostics message. */
  readonly fields: CredentialFields;
  /** Guarded: a logger that throws breaks nothing. */
  readonly logger: Required<Logger>;
  readonly counters: TokenProviderStatus['counters'];
  readonly events: Emitter<TokenProviderEvents>;
  /** No logger was given (the default is silent): a warning that must be seen also goes to `process.emitWarning`. */
  readonly silent: boolean;
}

/** Emits a provider event; what a listener throws is logged, never passed on. */
export function emitEvent<K extends keyof TokenProviderEvents>(
  ctx: ProviderContext,
  event: K,
  arg: Parameters<TokenProviderEvents[K]>[0],
): void {
  ctx.events.emit(event, arg, (err) =>
    ctx.logger.error({ error: String((err as Error)?.message ?? err) }, 'ims-token: an event listener threw'),
  );
}
