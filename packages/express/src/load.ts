import { createRequire } from 'node:module';
import type * as Undici from 'undici';

let undici: typeof Undici | undefined;

/** undici (a dependency of this package), loaded by imsProxy() when it is first called: it costs ~80 ms to load. */
export function loadUndici(): typeof Undici {
  return (undici ??= createRequire(import.meta.url)('undici') as typeof Undici);
}
