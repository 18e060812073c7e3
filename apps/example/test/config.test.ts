import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, ConfigError, emulatorEnv, loadConfig, loadDotEnv, parseDotEnv, wantsEmulator } from '../src/index';
import { APP_DIR } from './helpers';

const GOOD = {
  IMS_CLIENT_ID: 'abc123',
  IMS_CLIENT_SECRET: 'p8e-secret-value',
  IMS_SCOPES: 'openid,AdobeID,firefly_api',
  ADOBE_API_URL: 'https://firefly-api.adobe.io/',
};

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** The secret(s) in provider options, whichever form core chose (a string, a list, or a function hiding them). */
async function secretsOf(options: { clientSecret?: unknown }): Promise<string[]> {
  const s = options.clientSecret;
  return [typeof s === 'function' ? await (s as () => unknown)() : s].flat() as string[];
}

describe('loadConfig()', () => {
  it('reads a real-credential setup with defaults for the rest', async () => {
    const c = loadConfig(GOOD);
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 3000,
      portIsExplicit: false,
      logLevel: 'info',
      adobeApiUrl: 'https://firefly-api.adobe.io',
      allowedHosts: ['*.adobe.io', 'firefly-api.adobe.io'],
      jobPollIntervalMs: 1000,
      emulator: false,
    });
    expect(c.ims).toMatchObject({ clientId: 'abc123', scopes: ['openid', 'AdobeID', 'firefly_api'] });
    expect(await secretsOf(c.ims)).toEqual(['p8e-secret-value']);
  });

  it('treats empty values (a copied .env.example) as unset', () => {
    const c = loadConfig({ ...GOOD, PORT: '', LOG_LEVEL: ' ', IMS_URL: '' });
    expect(c.port).toBe(3000);
    expect(c.logLevel).toBe('info');
  });

  it('names every bad variable, never its value', () => {
    const err = configError({ ...GOOD, PORT: '99999', LOG_LEVEL: 'loud', JOB_RUN_TIMEOUT_MS: 'soon' });
    expect(err.variables.sort()).toEqual(['JOB_RUN_TIMEOUT_MS', 'LOG_LEVEL', 'PORT']);
    expect(err.message).toContain('PORT must be a port number from 0 to 65535');
    expect(err.message).not.toMatch(/99999|loud|soon/);
  });

  it('names the missing IMS variable (checked by core) and ADOBE_API_URL', () => {
    expect(configError({ ...GOOD, IMS_SCOPES: '' }).variables).toEqual(['IMS_SCOPES']);
    const noSecret = configError({ ...GOOD, IMS_CLIENT_SECRET: '' });
    expect(noSecret.variables).toEqual(['IMS_CLIENT_SECRET']);
    expect(configError({ ...GOOD, ADOBE_API_URL: '' }).variables).toEqual(['ADOBE_API_URL']);
    expect(configError({ ...GOOD, IMS_URL: 'http://ims.example.com' }).variables).toEqual(['IMS_URL']);
  });

  it('refuses plain http to anything but a loopback host for ADOBE_API_URL', () => {
    expect(configError({ ...GOOD, ADOBE_API_URL: 'http://firefly-api.adobe.io' }).message).toContain('must use https');
    expect(configError({ ...GOOD, ADOBE_API_URL: 'not a url' }).variables).toEqual(['ADOBE_API_URL']);
    expect(loadConfig({ ...GOOD, ADOBE_API_URL: 'http://127.0.0.1:9000' }).allowedHosts).toEqual(['*.adobe.io', '127.0.0.1']);
  });

  it('emulator mode: no IMS_CLIENT_ID; emulatorEnv() replaces IMS_* and ADOBE_API_URL and keeps the rest', async () => {
    expect(wantsEmulator({})).toBe(true);
    expect(wantsEmulator({ IMS_CLIENT_ID: ' ' })).toBe(true);
    expect(wantsEmulator(GOOD)).toBe(false);
    const env = emulatorEnv({ PORT: '4000', IMS_CLIENT_SECRET_FILE: '/x', ADOBE_API_URL: 'https://a.adobe.io' }, 'http://127.0.0.1:5555', {
      clientId: 'cid',
      clientSecret: 'sec',
    });
    const c = loadConfig(env);
    expect(c).toMatchObject({ port: 4000, adobeApiUrl: 'http://127.0.0.1:5555', allowedHosts: ['*.adobe.io', '127.0.0.1'] });
    expect(c.ims).toMatchObject({ clientId: 'cid', imsUrl: 'http://127.0.0.1:5555' });
    expect(await secretsOf(c.ims)).toEqual(['sec']);
    expect(c.ims.clientSecretFile).toBeUndefined();
  });
});

describe('.env', () => {
  it('parses KEY=value lines, quotes, comments and export', () => {
    expect(
      parseDotEnv(
        ['# comment', 'A=1', 'export B = two ', 'C="x # not a comment"', "D='y'", 'E=z # comment', 'not a line', 'F='].join('\n'),
      ),
    ).toEqual({ A: '1', B: 'two', C: 'x # not a comment', D: 'y', E: 'z', F: '' });
  });

  it('loadDotEnv() fills in only what the environment does not set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ims-example-dotenv-'));
    writeFileSync(join(dir, '.env'), 'PORT=4000\nHOST=0.0.0.0\n');
    const env: Record<string, string | undefined> = { PORT: '5000' };
    expect(loadDotEnv(join(dir, '.env'), env)).toBe(join(dir, '.env'));
    expect(env).toEqual({ PORT: '5000', HOST: '0.0.0.0' });
    expect(loadDotEnv(join(dir, 'missing.env'), env)).toBeUndefined();
    rmSync(dir, { recursive: true, force: true });
  });

  it('.env.example documents every variable the app reads, and sets none of them', () => {
    const example = readFileSync(join(APP_DIR, '.env.example'), 'utf8');
    for (const name of CONFIG_VARIABLES) expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    const values = Object.values(parseDotEnv(example));
    expect(values.every((v) => v === '')).toBe(true);
    // Loading it as-is gives emulator mode with defaults, not an error.
    expect(wantsEmulator(parseDotEnv(example))).toBe(true);
  });
});
