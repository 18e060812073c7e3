import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmulator } from '@ims-token/emulator';
import type { Emulator, EmulatorClientInput, EmulatorOptions } from '@ims-token/emulator';
import { SECRETS, assertBuilt } from './run-cli';

export interface Fixture {
  emu: Emulator;
  root: string;
  stop(): Promise<void>;
}

/** An emulator on 127.0.0.1 and a temp directory for this test file. */
export async function startFixture(options?: EmulatorOptions): Promise<Fixture> {
  assertBuilt();
  const emu = await startEmulator(options);
  const root = mkdtempSync(join(tmpdir(), 'ims-cli-test-'));
  return {
    emu,
    root,
    async stop() {
      await emu.stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface Credential {
  clientId: string;
  clientSecret: string;
  /** For the I/O Management API secrets endpoints. */
  orgId: string;
  credentialId: string;
  /** A fresh HOME for this credential's runs. */
  dir: string;
  /** The default FileStore directory under this HOME ($XDG_CACHE_HOME/ims-token). */
  cacheDir: string;
  /** A scrubbed environment: only what the CLI needs. */
  env: Record<string, string>;
  /** Tokens the emulator minted for this client. */
  minted(): number;
}

export const SCOPES = 'openid,AdobeID,firefly_api';

/** A new random client on the emulator, with its own HOME and cache. */
export function credential(fx: Fixture, input: EmulatorClientInput = {}): Credential {
  const client = fx.emu.addClient(input);
  SECRETS.add(client.clientSecret);
  const dir = mkdtempSync(join(fx.root, 'home-'));
  return {
    clientId: client.clientId,
    clientSecret: client.clientSecret,
    orgId: client.orgId!,
    credentialId: client.credentialId!,
    dir,
    cacheDir: join(dir, 'cache', 'ims-token'),
    env: {
      HOME: dir,
      XDG_CACHE_HOME: join(dir, 'cache'),
      IMS_URL: fx.emu.url,
      IMS_CLIENT_ID: client.clientId,
      IMS_CLIENT_SECRET: client.clientSecret,
      IMS_SCOPES: SCOPES,
    },
    minted: () => fx.emu.stats.mintedByClient[client.clientId] ?? 0,
  };
}
