import { ImsTokenError } from '@ims-token/core';
import type { TokenProvider } from '@ims-token/core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createImsFetch } from './index';
import { setup, startRecorder } from './test/helpers';
import type { Env, Recorder } from './test/helpers';

let env: Env;
let allowed: Recorder; // 127.0.0.1 (a port of its own)
let other: Recorder; // 127.0.0.2
let provider: TokenProvider;

beforeAll(async () => {
  env = await setup();
  allowed = await startRecorder('127.0.0.1');
  other = await startRecorder('127.0.0.2');
});

afterAll(async () => {
  await Promise.all([env.cleanup(), allowed.stop(), other.stop()]);
});

beforeEach(() => {
  provider = env.make();
});

describe('createImsFetch: options', () => {
  const bad: [string, unknown][] = [
    ['a string', '*.adobe.io'],
    ['an empty list', []],
    ['an empty string', ['']],
    ['a non-string', [42]],
    ['a bare *', ['*']],
    ['a TLD wildcard', ['*.com']],
    ['a wildcard with one label', ['*.io.']],
    ['a wildcard in the middle', ['a.*.adobe.io']],
    ['a URL', ['https://x.adobe.io']],
    ['a port', ['x.adobe.io:443']],
    ['a path', ['x.adobe.io/api']],
    ['a numeric wildcard', ['*.0.0.1']],
  ];
  it.each(bad)('rejects allowedHosts as %s with IMS_CONFIG naming the option', (_label, allowedHosts) => {
    const err = (() => {
      try {
        createImsFetch({ provider, allowedHosts: allowedHosts as string[] });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(ImsTokenError.is(err)).toBe(true);
    expect(err).toMatchObject({ code: 'IMS_CONFIG', message: expect.stringContaining('allowedHosts') });
  });

  it('accepts exact names, IP literals, [::1] and *.suffix patterns below a registrable domain', () => {
    expect(() =>
      createImsFetch({
        provider,
        allowedHosts: [
          '*.adobe.io',
          '*.example.co.uk',
          '*.my-site.github.io',
          'api.example.com.',
          'LOCALHOST',
          '127.0.0.1',
          '[::1]',
          '::1',
        ],
      }),
    ).not.toThrow();
  });

  it.each(['*.co.uk', '*.github.io', '*.com.au', '*.s3.amazonaws.com', '*.herokuapp.com', '*.CO.UK.'])(
    'refuses the public-suffix wildcard %s (anyone can register a name under it) with IMS_CONFIG naming the entry',
    (entry) => {
      expect(() => createImsFetch({ provider, allowedHosts: ['*.adobe.io', entry] })).toThrow(
        expect.objectContaining({ code: 'IMS_CONFIG', field: 'allowedHosts[1]', message: expect.stringContaining('public suffix') }),
      );
    },
  );

  it('rejects a missing provider or a fetch that is not a function', () => {
    expect(() => createImsFetch({} as never)).toThrow(
      expect.objectContaining({ code: 'IMS_CONFIG', message: expect.stringContaining('provider') }),
    );
    expect(() => createImsFetch({ provider, fetch: 'nope' as never })).toThrow(
      expect.objectContaining({ code: 'IMS_CONFIG', message: expect.stringContaining('fetch') }),
    );
  });
});

describe('createImsFetch: a 401 from a host that gets no credentials', () => {
  interface Line {
    obj: Record<string, unknown>;
    msg: string;
  }
  const recordingLogger = (lines: Line[]): { warn(obj: object, msg: string): void } => ({
    warn: (obj, msg) => void lines.push({ obj: obj as Record<string, unknown>, msg }),
  });

  it('logs one warning per host that names allowedHosts, and none for a caller who sent their own token', async () => {
    const lines: Line[] = [];
    const f = createImsFetch({ provider, logger: recordingLogger(lines) }); // default *.adobe.io: 127.0.0.x is not allowed
    expect((await f(`${env.emu.url}/api/v1/whoami`)).status).toBe(401);
    expect((await f(`${env.emu.url}/api/v1/whoami`)).status).toBe(401);
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toContain('allowedHosts');
    expect(lines[0]!.obj).toMatchObject({ origin: env.emu.url, allowedHosts: ['*.adobe.io'] });
    expect((await f(`${other.url}/status?code=401`)).status).toBe(401);
    expect(lines.map((l) => l.obj['origin'])).toEqual([env.emu.url, other.url]);
    expect((await f(`${allowed.url}/status?code=401`, { headers: { authorization: 'Bearer theirs' } })).status).toBe(401);
    expect((await f(`${allowed.url}/status?code=200`)).status).toBe(200);
    expect(lines).toHaveLength(2);
    expect(provider.status().counters.misses).toBe(0);
  });

  it('says so once on stderr through process.emitWarning when no logger is given', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const f = createImsFetch({ provider, allowedHosts: ['api.example.com'] });
      await f(`${env.emu.url}/api/v1/whoami`);
      await f(`${env.emu.url}/api/v1/whoami`);
      await new Promise((r) => setImmediate(r));
      const ours = warnings.filter((w) => (w as { code?: string }).code === 'IMS_HOST_NOT_ALLOWED');
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toContain('allowedHosts');
      expect(ours[0]!.message).toContain(new URL(env.emu.url).host);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('warns once when the fetch it was given ignores init.dispatcher, since then it cannot add anything', async () => {
    const lines: Line[] = [];
    const f = createImsFetch({ provider, fetch: async () => new Response('mocked'), logger: recordingLogger(lines) });
    await f('https://firefly-api.adobe.io/v3/status/1');
    await f('https://firefly-api.adobe.io/v3/status/2');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.msg).toContain('dispatcher');
  });
});
