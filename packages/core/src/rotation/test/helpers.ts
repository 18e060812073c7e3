import type { Emulator, EmulatorClient } from '@ims-token/emulator';
import type { Logger } from '../../index';
import { createSecretsClient } from '../index';
import type { SecretsClient, SecretsClientOptions } from '../index';

export { captureLogger, renderings, expectNoLeak as expectNoSecrets } from '@ims-token/test-kit';

export type Client = EmulatorClient & { clientSecret: string; orgId: string; credentialId: string };

/** A fresh emulator client (its own org and credential), so tests do not share secrets. */
export function newClient(emu: Emulator, input: Parameters<Emulator['addClient']>[0] = {}): Client {
  return emu.addClient(input) as Client;
}

/** Connection options of a secrets client for an emulator client (fast retries). */
export function connection(emu: Emulator, c: Client, logger?: Logger): SecretsClientOptions {
  return {
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    orgId: c.orgId,
    credentialId: c.credentialId,
    imsUrl: emu.url,
    managementUrl: emu.url,
    retryBaseDelayMs: 1,
    ...(logger ? { logger } : {}),
  };
}

export function clientFor(emu: Emulator, c: Client, logger?: Logger, extra: Partial<SecretsClientOptions> = {}): SecretsClient {
  return createSecretsClient({ ...connection(emu, c, logger), ...extra });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

/** Catches the rejection of a promise (fails if it resolves). */
export async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
