import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CLIENT_SECRET } from '@ims-token/emulator';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, DEV, frozen, JOB, REPO_ROOT, run, runMain, startHarness, submitted } from './helpers';
import type { Child, Harness } from './helpers';

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) {
    if (c.proc.exitCode !== null || c.proc.signalCode !== null) continue;
    try {
      process.kill(-c.proc.pid!, 'SIGKILL'); // a detached child leads its own group: end all of it
    } catch {
      c.proc.kill('SIGKILL');
    }
  }
});

function post(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** A `curl -s [-X METHOD] URL [-H 'k: v'] [-d 'body']` line as printed by the app, done with fetch. */
async function curl(line: string): Promise<Response> {
  const args = [...line.matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]!);
  let method = 'GET';
  let url = '';
  let body: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-s') continue;
    else if (a === '-X') method = args[++i]!;
    else if (a === '-H') {
      const [k, ...v] = args[++i]!.split(':');
      headers[k!.trim()] = v.join(':').trim();
    } else if (a === '-d') body = args[++i]!;
    else url = a;
  }
  return fetch(url, { method, headers, ...(body === undefined ? {} : { body }) });
}

// The root README's quick start, as a user runs it: `pnpm start` at the repo root after `pnpm install`, with
// no credentials, in its own process group as a terminal would start it. Stopped the two ways a user stops
// it: `kill <pid of pnpm>` (SIGTERM to pnpm alone) and Ctrl+C (SIGINT to the whole group). Either way the
// server drains and exits 0, nothing is left listening, and pnpm prints no red ELIFECYCLE / ERR_PNPM lines.
// Only inside the monorepo. First in this file: `start` may rebuild dist/, which the tests after it run.
describe.skipIf(REPO_ROOT === undefined)('quick start: `pnpm start` at the repo root', () => {
  async function startIt(): Promise<{ child: Child; url: string; nodePid: number }> {
    const child = run('pnpm', ['start'], { cwd: REPO_ROOT!, env: cleanEnv({ PORT: '0' }), detached: true });
    children.push(child);
    const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/, 150_000);
    const nodePid = Number((await child.waitFor(/"pid":(\d+)[^\n]*"msg":"listening"/))[1]);
    expect(nodePid, child.output()).toBeGreaterThan(0);
    return { child, url: url!, nodePid };
  }

  async function expectStopped(child: Child, url: string, nodePid: number): Promise<void> {
    expect(await child.exited).toEqual({ code: 0, signal: null });
    const out = child.output();
    expect(out).toMatch(/"msg":"stopped"/);
    expect(out).not.toMatch(/ELIFECYCLE|ERR_PNPM|Command failed/);
    await expect(fetch(`${url}/livez`)).rejects.toThrow(); // nothing answers on the port any more
    expect(() => process.kill(nodePid, 0)).toThrow(/ESRCH/); // no orphaned node dist/dev.js
  }

  it('says what it builds, runs on the built-in emulator, answers the curl lines it prints; SIGTERM to pnpm stops it', async () => {
    const { child, url, nodePid } = await startIt();
    expect(child.output()).toMatch(/Building @ims-token\/example and the packages it uses/);
    expect(child.output()).toContain('local Adobe IMS emulator');

    const lines = [...child.output().matchAll(/^ {2}curl (.+)$/gm)].map((m) => m[1]!);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.some((l) => l.includes(`${url}/readyz`))).toBe(true);
    for (const line of lines) {
      const res = await curl(line);
      expect(res.status, line).toBeLessThan(300);
      const body = (await res.json()) as Record<string, unknown>;
      if (line.includes('/readyz')) expect(body['status']).toBe('ok');
      if (line.includes('/jobs/run'))
        expect(body).toMatchObject({ status: 'succeeded', result: { input: { prompt: 'a lighthouse at dusk' } } });
      if (line.includes('/jobs ')) expect(res.status).toBe(202);
    }

    process.kill(child.proc.pid!, 'SIGTERM'); // `kill <pid>` of what the user started
    await expectStopped(child, url, nodePid);
  }, 200_000);

  it('Ctrl+C (SIGINT to the process group) stops it cleanly too', async () => {
    const { child, url, nodePid } = await startIt();
    process.kill(-child.proc.pid!, 'SIGINT');
    await expectStopped(child, url, nodePid);
  }, 200_000);
});

describe('the built app as a process (node dist/main.js and dist/dev.js)', () => {
  it('SIGTERM during a request: stops accepting, finishes that request with 200, exits 0', async () => {
    // dev.js with no IMS_CLIENT_ID: the emulator, whose jobs take 1.5 s.
    const child = runMain(cleanEnv({ PORT: '0', JOB_POLL_INTERVAL_MS: '100' }), DEV);
    children.push(child);
    const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/);
    const pending = post(`${url}/jobs/run`, JOB);
    await child.waitFor(/job submitted; waiting for it/);
    child.proc.kill('SIGTERM');
    await child.waitFor(/shutting down/);
    // New connections are refused while the one in flight is still being served.
    await expect(fetch(`${url}/livez`)).rejects.toThrow();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', result: { input: JOB } });
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.output()).toMatch(/"forced":false/);
    expect(child.output()).not.toContain(DEFAULT_CLIENT_SECRET);
  });

  it('a bad variable: a message naming it, exit code 2, nothing started', async () => {
    const child = runMain(cleanEnv({ PORT: 'eighty', LOG_LEVEL: 'loud' }), DEV);
    children.push(child);
    expect((await child.exited).code).toBe(2);
    expect(child.output()).toMatch(/PORT must be a port number/);
    expect(child.output()).toMatch(/LOG_LEVEL must be one of/);
    expect(child.output()).not.toContain('eighty');
  });

  it('npm start with nothing set: every missing variable in one message, exit 2, and where to go next', async () => {
    const child = runMain(cleanEnv({ IMS_CLIENT_SECRET: 'p8e-super-secret-value' }));
    children.push(child);
    expect((await child.exited).code).toBe(2);
    const out = child.output();
    for (const name of ['IMS_CLIENT_ID', 'IMS_SCOPES', 'ADOBE_API_URL']) expect(out).toContain(`${name} is not set`);
    expect(out).toContain('npm run dev');
    expect(out).not.toContain('p8e-super-secret-value');
  });

  it('the real environment wins over .env; .env fills in the rest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ims-example-env-'));
    try {
      // .env says PORT=eighty (would be exit 2) and LOG_LEVEL=warn; the environment says PORT=0.
      writeFileSync(join(dir, '.env'), 'PORT=eighty\nLOG_LEVEL=warn\n');
      const child = runMain(cleanEnv({ PORT: '0', ENV_FILE: join(dir, '.env') }), DEV);
      children.push(child);
      await child.waitFor(/listening on (http:\/\/\S+)/);
      expect(child.output()).not.toMatch(/"msg":"listening"/); // no info lines: LOG_LEVEL=warn came from .env
      child.proc.kill('SIGTERM');
      expect((await child.exited).code, child.output()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('startServer()', () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it('close() waits for a request in flight, closes its keep-alive connection, and is idempotent', async () => {
    h = await startHarness({ jobDurationMs: 400, clock: frozen() });
    const pending = post(`${h.url}/jobs/run`, JOB);
    await submitted(h); // in flight, and the job cannot finish before the emulator's clock moves
    const first = h.server.close();
    expect(h.server.close()).toBe(first);
    h.emu.advance(400);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await first).toEqual({ forced: false });
    expect(h.server.server.listening).toBe(false);
  });

  it('close() cuts requests off after shutdownTimeoutMs and reports forced', async () => {
    h = await startHarness({ jobDurationMs: 60_000, clock: frozen() }, { SHUTDOWN_TIMEOUT_MS: 100 });
    const pending = post(`${h.url}/jobs/run`, JOB).catch((e: unknown) => e);
    await submitted(h); // in flight, and the job never finishes: the emulator's clock stands still
    expect(await h.server.close()).toEqual({ forced: true });
    expect(await pending).toBeInstanceOf(Error);
  });
});
