import { inspect } from 'node:util';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorOptions } from '@ims-token/emulator';
import { createTokenProvider } from '../provider';
import type { TokenProvider } from '../provider';
import type { TokenProviderOptions } from '../config';

export interface Captured {
  lines: string[];
  logger: Required<NonNullable<TokenProviderOptions['logger']>>;
}

/** A pino-like logger that keeps every call as text (object and message), for leak scans. */
export function captureLogger(): Captured {
  const lines: string[] = [];
  const rec =
    (level: string) =>
    (obj: object, msg?: string): void => {
      lines.push(`${level} ${JSON.stringify(obj)} ${msg ?? ''}`);
    };
  return { lines, logger: { debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') } };
}

export interface Env {
  emu: Emulator;
  clientId: string;
  secret: string;
  make(overrides?: Partial<TokenProviderOptions>): TokenProvider;
  cleanup(): Promise<void>;
}

/** Starts an emulator with a fresh random client and returns a factory of providers against it. */
export async function setup(options: EmulatorOptions = {}): Promise<Env> {
  const emu = await startEmulator(options);
  const client = emu.addClient();
  const providers: TokenProvider[] = [];
  return {
    emu,
    clientId: client.clientId,
    secret: client.clientSecret,
    make(overrides = {}) {
      const p = createTokenProvider({
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        scopes: ['openid', 'AdobeID', 'firefly_api'],
        imsUrl: emu.url,
        retryBaseDelayMs: 1,
        ...overrides,
      });
      providers.push(p);
      return p;
    },
    async cleanup() {
      await Promise.all(providers.map((p) => p.close()));
      await emu.stop();
    },
  };
}

/** Every way our objects can be shown: message, stack, cause chain, inspect and JSON. */
export function renderings(value: unknown): string {
  const parts: string[] = [inspect(value, { depth: 10, showHidden: true })];
  try {
    parts.push(JSON.stringify(value));
  } catch {
    // cycles
  }
  let e: unknown = value;
  for (let i = 0; i < 5 && e instanceof Error; i++) {
    parts.push(e.message, String(e.stack));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

/** Fails when any of `secrets` appears in `text`. */
export function expectNoLeak(text: string, secrets: readonly string[]): void {
  for (const s of secrets) {
    if (s && text.includes(s)) throw new Error(`leaked a secret or token (${s.slice(0, 4)}…) in: ${text.slice(0, 200)}`);
  }
}
