import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/index';
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
const variables = (err: ConfigError): string[] => err.problems.map((p) => p.variable).sort();

describe('loadConfig()', () => {
  it('reads a real-credential setup with defaults for the rest', () => {
    const c = loadConfig(GOOD);
    expect(c).toMatchObject({
      HOST: '127.0.0.1',
      PORT: 3000,
      LOG_LEVEL: 'info',
      ADOBE_API_URL: 'https://firefly-api.adobe.io',
      allowedHosts: ['*.adobe.io', 'firefly-api.adobe.io'],
      JOB_POLL_INTERVAL_MS: 1000,
    });
    expect(c.ims).toMatchObject({ clientId: 'abc123', scopes: ['openid', 'AdobeID', 'firefly_api'] });
  });

  it('treats empty values (a copied .env.example) as unset', () => {
    const c = loadConfig({ ...GOOD, PORT: '', LOG_LEVEL: ' ', IMS_URL: '' });
    expect(c.PORT).toBe(3000);
    expect(c.LOG_LEVEL).toBe('info');
  });

  it('names every bad variable, never its value', () => {
    const err = configError({ ...GOOD, PORT: '99999', LOG_LEVEL: 'loud', JOB_RUN_TIMEOUT_MS: 'soon' });
    expect(variables(err)).toEqual(['JOB_RUN_TIMEOUT_MS', 'LOG_LEVEL', 'PORT']);
    expect(err.message).toContain('PORT must be a port number from 0 to 65535');
    expect(err.message).not.toMatch(/99999|loud|soon/);
  });

  it('reports every missing variable in one go (one start tells you all of them)', () => {
    const err = configError({});
    expect(variables(err)).toEqual(['ADOBE_API_URL', 'IMS_CLIENT_ID', 'IMS_CLIENT_SECRET', 'IMS_SCOPES']);
    for (const name of ['ADOBE_API_URL', 'IMS_CLIENT_ID', 'IMS_CLIENT_SECRET', 'IMS_SCOPES'])
      expect(err.message).toContain(`${name} is not set`);
    // Bad IMS values and bad app values together, too.
    const mixed = configError({ ...GOOD, IMS_SCOPES: '', IMS_URL: 'http://ims.example.com', PORT: 'x' });
    expect(variables(mixed)).toEqual(['IMS_SCOPES', 'IMS_URL', 'PORT']);
    expect(mixed.message).not.toContain('p8e-secret-value');
  });

  it('refuses plain http to anything but a loopback host for ADOBE_API_URL', () => {
    expect(configError({ ...GOOD, ADOBE_API_URL: 'http://firefly-api.adobe.io' }).message).toContain('must use https');
    expect(variables(configError({ ...GOOD, ADOBE_API_URL: 'not a url' }))).toEqual(['ADOBE_API_URL']);
    expect(loadConfig({ ...GOOD, ADOBE_API_URL: 'http://127.0.0.1:9000' }).allowedHosts).toEqual(['*.adobe.io', '127.0.0.1']);
  });
});

describe('.env.example', () => {
  it('documents every variable the app reads, and sets none of them', () => {
    const example = readFileSync(join(APP_DIR, '.env.example'), 'utf8');
    const read = [
      ...Object.keys(loadConfig(GOOD)).filter((k) => /^[A-Z_]+$/.test(k)),
      'IMS_CLIENT_ID',
      'IMS_CLIENT_SECRET',
      'IMS_CLIENT_SECRET_NEXT',
      'IMS_CLIENT_SECRET_FILE',
      'IMS_SCOPES',
      'IMS_URL',
      'IMS_TOKEN_CACHE',
      'ENV_FILE',
    ];
    for (const name of read) expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    expect(Object.values(parseEnv(example)).every((v) => v === '')).toBe(true);
  });
});
