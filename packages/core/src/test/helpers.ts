import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorOptions } from '@ims-token/emulator';
import { createTokenProvider } from '../provider';
import type { TokenProvider } from '../provider';
import type { TokenProviderOptions } from '../config';
import type { ImsToken } from '../token';

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
export function clientOf(token: ImsToken): unknown {
  const payload = token.accessToken.split('.')[1] ?? '';
  return (JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>)['client_id'];
}
