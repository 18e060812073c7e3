import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorOptions } from '@ims-token/emulator';
import { createTokenProvider } from '../provider';
import type { TokenProvider } from '../provider';
import type { TokenProviderOptions } from '../config';
import { decodeImsToken } from '../token';
import type { ImsToken } from '../token';
import { ImsTokenError } from '../errors';
import { expect } from 'vitest';

export { captureLogger, expectNoLeak, renderings } from '@ims-token/test-kit';

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

/** The client a token was minted for, read from its JWT (the emulator's carry client_id): says it is a real mint, for whom. */
export function clientOf(token: ImsToken): string | undefined {
  return decodeImsToken(token.accessToken).clientId;
}

/** The `IMS_CONFIG` error that `fn` throws (fails the test when it throws nothing, or something else). */
export function configErrorOf(fn: () => unknown): ImsTokenError {
  try {
    fn();
  } catch (err) {
    expect(ImsTokenError.is(err)).toBe(true);
    expect((err as ImsTokenError).code).toBe('IMS_CONFIG');
    return err as ImsTokenError;
  }
  throw new Error('expected IMS_CONFIG');
}
