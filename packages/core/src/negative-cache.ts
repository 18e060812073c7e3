import type { ImsTokenError, ImsTokenErrorCode } from './errors';

/** Rejections of the credential itself: asking IMS again with the same secret cannot help. */
const HARD: ReadonlySet<ImsTokenErrorCode> = new Set<ImsTokenErrorCode>([
  'IMS_INVALID_CLIENT',
  'IMS_INVALID_SCOPE',
  'IMS_UNAUTHORIZED_CLIENT',
]);

/**
 * The provider's negative cache: a hard rejection of the credential is answered again, without asking IMS,
 * for `negativeCacheMs` (`0`: never) — as long as the secret is the one IMS rejected (by its fingerprint).
 */
export class NegativeCache {
  readonly #ms: number;
  readonly #clock: () => number;
  #hard: { error: ImsTokenError; until: number; fingerprint: string } | undefined;

  constructor(ms: number, clock: () => number) {
    this.#ms = ms;
    this.#clock = clock;
  }

  /** Remembers `err` if it is a hard rejection of the secret with this fingerprint. */
  note(err: ImsTokenError, fingerprint: string): void {
    if (HARD.has(err.code) && this.#ms > 0) this.#hard = { error: err, until: this.#clock() + this.#ms, fingerprint };
  }

  /** The rejection still in force for the secret with this fingerprint, if any. */
  rejected(fingerprint: string): ImsTokenError | undefined {
    const h = this.#hard;
    return h !== undefined && h.fingerprint === fingerprint && this.#clock() < h.until ? h.error : undefined;
  }

  /** A token was minted, or the secrets were replaced: nothing is rejected any more. */
  clear(): void {
    this.#hard = undefined;
  }
}
