import { afterEach, describe, expect, it } from 'vitest';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogger, clientOf, expectNoLeak, setup } from './test/helpers';
import type { Env } from './test/helpers';

let env: Env;
let dir: string | undefined;
afterEach(async () => {
  await env?.cleanup();
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function writeAtomic(path: string, text: string): Promise<void> {
  await writeFile(`${path}.tmp`, text, { mode: 0o600 });
  await rename(`${path}.tmp`, path);
}

describe('two secrets', () => {
  it('fails over to the second secret on invalid_client and keeps using it', async () => {
    env = await setup();
    const log = captureLogger();
    const p = env.make({ clientSecret: ['p8e-old-deleted-secret', env.secret], logger: log.logger });
    const events: unknown[] = [];
    p.on('secret-failover', (e) => events.push(e));
    await p.getToken();
    expect(events).toEqual([{ from: 0, to: 1, reason: 'IMS_INVALID_CLIENT' }]);
    expect(p.status().secret).toEqual({ source: 'static', index: 1, count: 2 });
    await p.getToken({ forceRefresh: true });
    expect(env.emu.stats.tokenRequests).toBe(3); // the failed try, the failover, the forced refresh straight on secret 2
    expect(events).toHaveLength(1);
    expectNoLeak(log.lines.join('\n'), ['p8e-old-deleted-secret', env.secret]);
  });

  it('reports IMS_INVALID_CLIENT when both secrets are rejected', async () => {
    env = await setup();
    const p = env.make({ clientSecret: ['wrong-1', 'wrong-2'] });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    expect(env.emu.stats.tokenRequests).toBe(2);
  });

  it('does not fail over on a wrong client id (a second secret cannot help)', async () => {
    env = await setup();
    const p = env.make({ clientId: 'unknown-client', clientSecret: ['a-secret', 'b-secret'] });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    expect(env.emu.stats.tokenRequests).toBe(1);
  });

  it('takes a secret function, called on every mint', async () => {
    env = await setup();
    let calls = 0;
    const p = env.make({
      clientSecret: async () => {
        calls++;
        return [env.secret];
      },
    });
    await p.getToken();
    await p.getToken();
    await p.getToken({ forceRefresh: true });
    expect(calls).toBe(2);
  });

  it('a secret function that throws is IMS_CONFIG', async () => {
    env = await setup();
    const p = env.make({
      clientSecret: () => {
        throw new Error('vault down');
      },
    });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_CONFIG' });
  });
});

describe('a secret file', () => {
  it('is re-read when it changes, so a rotated secret is used without a restart', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-secret-'));
    const file = join(dir, 'secret');
    await writeAtomic(file, `${env.secret}\n`);
    const p = env.make({ clientSecret: undefined, clientSecretFile: file });
    await p.getToken();
    expect(p.status().secret).toMatchObject({ source: 'file', count: 1 });

    // A rotation: IMS gets a second secret, the file lists the new one first and the old one second.
    const fresh = `p8e-new-secret-${Math.random().toString(36).slice(2)}`;
    const client = env.emu.client(env.clientId)!;
    client.clientSecrets = [env.secret, fresh];
    await writeAtomic(file, `${fresh}\n${env.secret}\n`);
    await p.getToken({ forceRefresh: true });
    expect(p.status().secret).toMatchObject({ source: 'file', count: 2, index: 0 });
    // The old secret is deleted at IMS: the provider never needed it again.
    client.clientSecrets = [fresh];
    await p.getToken({ forceRefresh: true });
    expect(p.status().counters.failovers).toBe(0);

    // A new secret that IMS does not accept yet: the provider fails over to the second line and says so.
    await writeAtomic(file, `p8e-not-active-yet\n${fresh}\n`);
    await p.getToken({ forceRefresh: true });
    expect(p.status().secret).toMatchObject({ index: 1, count: 2 });
    expect(p.status().counters.failovers).toBe(1);
  });

  it('is re-read after invalid_client, and the negative cache is bypassed when it changed', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-secret-'));
    const file = join(dir, 'secret');
    await writeAtomic(file, 'p8e-stale-secret\n');
    const p = env.make({ clientSecret: undefined, clientSecretFile: file });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    await expect(p.getToken()).rejects.toMatchObject({ code: 'IMS_INVALID_CLIENT' });
    expect(env.emu.stats.tokenRequests).toBe(1);
    await writeAtomic(file, `# rotated\n${env.secret}\n`);
    expect(clientOf(await p.getToken())).toBe(env.clientId);
  });

  it('a missing, empty or overfull file is IMS_CONFIG naming the file', async () => {
    env = await setup();
    dir = await mkdtemp(join(tmpdir(), 'ims-secret-'));
    const file = join(dir, 'secret');
    await expect(env.make({ clientSecret: undefined, clientSecretFile: file }).getToken()).rejects.toMatchObject({
      code: 'IMS_CONFIG',
      message: expect.stringContaining(file),
    });
    await writeFile(file, '\n\n');
    await expect(env.make({ clientSecret: undefined, clientSecretFile: file }).getToken()).rejects.toMatchObject({ code: 'IMS_CONFIG' });
    await writeFile(file, 'a\nb\nc\n');
    await expect(env.make({ clientSecret: undefined, clientSecretFile: file }).getToken()).rejects.toMatchObject({
      code: 'IMS_CONFIG',
      message: expect.stringContaining('at most two'),
    });
  });
});
