import { createRequire } from 'node:module';
import type * as Undici from 'undici';

let nodeRequire: NodeJS.Require | undefined;

/**
 * Loads a CommonJS module synchronously, the first time a path of ours needs it, so `import '@ims-token/fetch'`
 * itself loads nothing heavy (undici alone costs ~80 ms). `bundled` is a file next to this bundle in `dist`;
 * `fallback` is the package it was built from, which is what the sources find when tests run them.
 */
export function load<T>(bundled: string, fallback?: string): T {
  nodeRequire ??= createRequire(import.meta.url);
  if (fallback === undefined) return nodeRequire(bundled) as T;
  try {
    return nodeRequire(bundled) as T;
  } catch (err) {
    if ((err as { code?: string }).code !== 'MODULE_NOT_FOUND') throw err;
    return nodeRequire(fallback) as T;
  }
}

/** undici (a dependency of this package), loaded when a path that needs its classes runs first. */
export function loadUndici(): typeof Undici {
  return load<typeof Undici>('undici');
}
