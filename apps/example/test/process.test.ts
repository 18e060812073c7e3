import { request } from 'node:http';
import { createServer } from 'node:net';
import type { AddressInfo, Server } from 'node:net';
import { DEFAULT_CLIENT_SECRET } from '@ims-token/emulator';
import { afterEach, describe, expect, it } from 'vitest';
import { PortInUseError, startServer } from '../src/index';
import { captureLogger, cleanEnv, JOB, REPO_ROOT, run, runMain, startHarness } from './helpers';
import type { Child, Harness } from './helpers';

const children: Child[] = [];
afterEach(() => {
  for (const c of children.splice(0)) if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
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

// The root README's quick start, as a user runs it: `pnpm start` at the repo root after `pnpm install`,
// with no credentials. Only inside the monorepo (a copied-out app has no root to start from).
// First in this file: `start` may rebuild dist/, which the tests after it run.
describe.skipIf(REPO_ROOT === undefined)('quick start: `pnpm start` at the repo root', () => {
  it('starts on the built-in emulator, answers the curl lines it prints, and exits 0 on SIGTERM', async () => {
    let child: Child | undefined;
    try {
      // No IMS_*, ADOBE_*, PORT or .env: exactly the "fresh machine" case (a busy 3000 falls back to a free port).
      child = run('pnpm', ['start'], { cwd: REPO_ROOT!, env: cleanEnv() });
      const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/, 120_000);
      expect(child.output()).toContain('built-in Adobe IMS emulator');

      const lines = [...child.output().matchAll(/^ {2}curl (.+)$/gm)].map((m) => m[1]!);
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.some((l) => l.includes(`${url}/healthz`))).toBe(true);
      for (const line of lines) {
        const res = await curl(line);
        expect(res.status, line).toBeLessThan(300);
        const body = (await res.json()) as Record<string, unknown>;
        if (line.includes('/healthz')) expect(body['status']).toBe('ok');
        if (line.includes('/jobs/run'))
          expect(body).toMatchObject({ status: 'succeeded', result: { input: { prompt: 'a lighthouse at dusk' } } });
        if (line.includes('/jobs ')) expect(res.status).toBe(202);
      }

      // Stop the app the way a container runtime does: SIGTERM to the node process (its pid is in every log line).
      const pid = Number(/"pid":(\d+)[^\n]*"msg":"listening"/.exec(child.output())?.[1]);
      expect(pid).toBeGreaterThan(0);
      process.kill(pid, 'SIGTERM');
      expect((await child.exited).code).toBe(0);
      expect(child.output()).toMatch(/"msg":"stopped"/);
    } finally {
      if (child && child.proc.exitCode === null) child.proc.kill('SIGKILL');
    }
  }, 150_000);
});

describe('the built app as a process (node dist/main.js, what `start` runs)', () => {
  it('SIGTERM during a request: stops accepting, finishes that request with 200, exits 0', async () => {
    // Emulator mode (no IMS_CLIENT_ID): the job takes the emulator's default 1.5 s.
    const child = runMain(cleanEnv({ PORT: '0', JOB_POLL_INTERVAL_MS: '100' }));
    children.push(child);
    const [, url] = await child.waitFor(/listening on (http:\/\/\S+)/);
    const pending = post(`${url}/jobs/run`, JOB);
    await child.waitFor(/job submitted; waiting for it/);
    child.proc.kill('SIGTERM');
    await child.waitFor(/shutting down/);
    // New connections are refused while the one in flight is still being served.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', result: { input: JOB } });
    expect(await child.exited).toEqual({ code: 0, signal: null });
    expect(child.output()).toMatch(/"forced":false/);
    expect(child.output()).not.toContain(DEFAULT_CLIENT_SECRET);
  });

  it('a bad variable: a message naming it, exit code 2, nothing started', async () => {
    const child = runMain(cleanEnv({ PORT: 'eighty', LOG_LEVEL: 'loud' }));
    children.push(child);
    expect((await child.exited).code).toBe(2);
    expect(child.output()).toMatch(/PORT must be a port number/);
    expect(child.output()).toMatch(/LOG_LEVEL must be one of/);
    expect(child.output()).not.toContain('eighty');
  });

  it('real-credential mode with a missing variable names it (IMS_SCOPES) and never echoes the secret', async () => {
    const child = runMain(
      cleanEnv({ IMS_CLIENT_ID: 'abc123', IMS_CLIENT_SECRET: 'p8e-super-secret-value', ADOBE_API_URL: 'https://firefly-api.adobe.io' }),
    );
    children.push(child);
    expect((await child.exited).code).toBe(2);
    expect(child.output()).toContain('IMS_SCOPES');
    expect(child.output()).not.toContain('p8e-super-secret-value');
  });
});

describe('startServer()', () => {
  let blocker: Server | undefined;
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
    await new Promise<void>((r) => (blocker ? blocker.close(() => r()) : r()));
    blocker = undefined;
  });

  async function occupyPort(): Promise<number> {
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    return (blocker.address() as AddressInfo).port;
  }

  it('falls back to a free port when the default port is busy, and says so', async () => {
    h = await startHarness();
    const port = await occupyPort();
    const { logger, lines } = captureLogger();
    const server = await startServer({ ...h.config, port, portIsExplicit: false }, { logger });
    try {
      expect(server.portFellBack).toBe(true);
      expect(server.port).not.toBe(port);
      expect(lines.join('\n')).toContain(`port ${port} is in use`);
      expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('refuses a busy port that PORT named explicitly, with a clear message', async () => {
    h = await startHarness();
    const port = await occupyPort();
    const err = await startServer({ ...h.config, port, portIsExplicit: true }, { logger: captureLogger().logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PortInUseError);
    expect((err as Error).message).toContain(`Port ${port} on 127.0.0.1 is already in use`);
  });

  it('close() waits for a request in flight, closes its keep-alive connection, and is idempotent', async () => {
    h = await startHarness({ jobDurationMs: 400 });
    const pending = post(`${h.url}/jobs/run`, JOB);
    await new Promise((r) => setTimeout(r, 100));
    const first = h.server.close();
    expect(h.server.close()).toBe(first);
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await first).toEqual({ forced: false });
    expect(h.server.server.listening).toBe(false);
  });

  it('close() cuts requests off after shutdownTimeoutMs and reports forced', async () => {
    h = await startHarness({ jobDurationMs: 60_000 }, { shutdownTimeoutMs: 100 });
    const pending = post(`${h.url}/jobs/run`, JOB).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 100));
    expect(await h.server.close()).toEqual({ forced: true });
    expect(await pending).toBeInstanceOf(Error);
  });
});
