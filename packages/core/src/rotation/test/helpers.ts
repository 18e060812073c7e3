import { rename, writeFile } from 'node:fs/promises';
import type { Emulator, EmulatorClient } from '@ims-token/emulator';
import { createTokenProvider } from '../../index';
import type { Logger, TokenProvider } from '../../index';
import { createSecretsClient } from '../index';
import type { RotationReport, SecretsClient, SecretsClientOptions } from '../index';

export { captureLogger, renderings, expectNoLeak as expectNoSecrets } from '@ims-token/test-kit';

export type Client = EmulatorClient & { clientSecret: string; orgId: string; credentialId: string };

/** A fresh emulator client (its own org and credential), so tests do not share secrets. */
export function newClient(emu: Emulator, input: Parameters<Emulator['addClient']>[0] = {}): Client {
  return emu.addClient(input) as Client;
}

/** Connection options of a secrets client for an emulator client (fast retries, the emulator's clock). */
export function connection(emu: Emulator, c: Client, logger?: Logger): SecretsClientOptions {
  return {
    clientId: c.clientId,
    clientSecret: c.clientSecret,
    orgId: c.orgId,
    credentialId: c.credentialId,
    imsUrl: emu.url,
    managementUrl: emu.url,
    retryBaseDelayMs: 1,
    clock: () => emu.now(), // the emulator's time: advance() moves what the rotation sees (idle, created_at) too
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

/** `name:status` of every step. */
export function stepNames(report: RotationReport): string[] {
  return report.steps.map((s) => `${s.name}:${s.status}`);
}

/** The uuids of a client's secrets, read with `secret` (using a secret moves its last_used_at). */
export async function secretUuids(emu: Emulator, c: Client, secret = c.clientSecret): Promise<string[]> {
  const sc = clientFor(emu, { ...c, clientSecret: secret });
  try {
    return (await sc.listClientSecrets()).map((s) => s.uuid);
  } finally {
    await sc.close();
  }
}

/** Writes `new\nold` atomically (temp file + rename), the way `persist` should. */
export async function writeSecretFile(file: string, lines: string[]): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, `${lines.join('\n')}\n`, { mode: 0o600 });
  await rename(tmp, file);
}

/** A service reading a secret file and minting a fresh token every few ms, counting failures. */
export interface Service {
  provider: TokenProvider;
  ok: () => number;
  failed: () => number;
  errors: unknown[];
  stop: () => Promise<void>;
}

export function service(emu: Emulator, c: Client, file: string, scopes: string, logger: Logger): Service {
  const provider = createTokenProvider({
    clientId: c.clientId,
    clientSecretFile: file,
    scopes,
    imsUrl: emu.url,
    retryBaseDelayMs: 1,
    logger,
  });
  let ok = 0;
  let failed = 0;
  let running = true;
  const errors: unknown[] = [];
  const loop = (async () => {
    while (running) {
      try {
        await provider.getToken({ forceRefresh: true });
        ok++;
      } catch (err) {
        failed++;
        errors.push(err);
      }
      await sleep(5);
    }
  })();
  return {
    provider,
    ok: () => ok,
    failed: () => failed,
    errors,
    stop: async () => {
      running = false;
      await loop;
      await provider.close();
    },
  };
}
