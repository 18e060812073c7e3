import { constants } from 'node:os';
import { ENV } from '@ims-token/core';
import { MINTER, usageError } from '../args';
import { obtainToken } from '../cached';
import { createProvider, resolveConfig } from '../config';
import type { Context } from '../context';
import { isProcessOutput } from '../io';
import { SECRET_VARS } from '../launcher/env-file';
import type { CommandModule } from './types';

/** Signals passed on to the command, each exactly once (see {@link forwarded}). */
const SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** A terminal sends these to its whole foreground process group: the command, which is in ours, gets them itself. */
const FROM_TERMINAL: ReadonlySet<NodeJS.Signals> = new Set(['SIGINT', 'SIGQUIT']);

/**
 * Which signals to forward: every one the command would not get by itself. On a terminal, Ctrl-C (SIGINT) and
 * Ctrl-\\ (SIGQUIT) reach every process of the foreground group, the command included: forwarding them too
 * would deliver them twice (a rotation under exec would die mid-verify, skipping its rollback). Node cannot tell
 * who sent a signal, so with a terminal attached they are not forwarded; `kill -INT <ims-token pid>` from
 * elsewhere then stops only ims-token's wait. SIGTERM, SIGHUP, SIGUSR1/2 (sent to our pid) are forwarded.
 */
function forwarded(onTerminal: boolean): NodeJS.Signals[] {
  return SIGNALS.filter((s) => !(onTerminal && FROM_TERMINAL.has(s)));
}

/** What the command never inherits unless --pass-secrets: the client secrets and the cache's encryption key. */
const WITHHELD: readonly string[] = [...SECRET_VARS, ENV.tokenCacheKey];

export const command: CommandModule = {
  globals: MINTER,
  options: {
    force: { type: 'boolean', help: 'ignore the cached token and mint a new one first' },
    'pass-secrets': {
      type: 'boolean',
      help: 'also pass IMS_CLIENT_SECRET, IMS_CLIENT_SECRET_NEXT, IMS_CLIENT_SECRET_FILE and IMS_TOKEN_CACHE_KEY on (default: removed)',
    },
  },
  maxPositionals: 0,
  passthrough: true,
  help: {
    usage: 'ims-token exec [options] -- <command> [args…]',
    description: `Gets a token (cached like "ims-token token") and runs <command> with IMS_ACCESS_TOKEN (the token)
and IMS_API_KEY (the client id) added to its environment. The rest of the environment is passed on, except
the secrets (IMS_CLIENT_SECRET, IMS_CLIENT_SECRET_NEXT, IMS_CLIENT_SECRET_FILE, IMS_TOKEN_CACHE_KEY) unless
--pass-secrets; variables read from --env-file are not passed. Each signal reaches the command once (a
terminal's Ctrl-C reaches it directly; SIGTERM, SIGHUP, SIGUSR1/2 sent to ims-token are forwarded).
ims-token exits with the command's exit code, or dies of the same signal. 127: command not found, 126:
it cannot be run.`,
    examples: [
      'ims-token exec -- sh -c \'curl -H "Authorization: Bearer $IMS_ACCESS_TOKEN" -H "x-api-key: $IMS_API_KEY" https://…\'',
      'ims-token exec --env-file .env -- node scripts/generate.js',
    ],
  },
  async run(ctx: Context): Promise<number> {
    const [file, ...args] = ctx.rest;
    if (file === undefined || file === '') {
      throw usageError('"ims-token exec" needs a command to run.', 'Write it after --, e.g. "ims-token exec -- node app.js".');
    }
    const config = await resolveConfig(ctx);
    const provider = createProvider(ctx, config);
    let env: Record<string, string | undefined>;
    try {
      const token = await obtainToken(ctx, provider);
      env = { ...ctx.io.env, IMS_ACCESS_TOKEN: token.accessToken, IMS_API_KEY: token.clientId };
      if (ctx.flags['pass-secrets'] !== true) for (const v of WITHHELD) delete env[v];
    } finally {
      await provider.close();
    }

    const { spawn } = await import('node:child_process');
    const io = ctx.io;
    const inherit = io.stdin === process.stdin && isProcessOutput(io.stdout) && isProcessOutput(io.stderr);
    const child = spawn(file, args, { stdio: inherit ? 'inherit' : 'pipe', env, cwd: io.cwd });
    if (!inherit) {
      child.stdout?.on('data', (c: Buffer) => io.stdout.write(c.toString()));
      child.stderr?.on('data', (c: Buffer) => io.stderr.write(c.toString()));
      if (child.stdin) io.stdin.pipe(child.stdin).on('error', () => {});
    }
    const onTerminal = [process.stdin, process.stdout, process.stderr].some((s) => s.isTTY === true);
    const pass = new Set(forwarded(onTerminal));
    // Every signal is caught (ims-token waits for the command to decide), only those it would not get are passed on.
    const handlers = SIGNALS.map((sig) => {
      const h = (): void => {
        if (pass.has(sig) && child.exitCode === null && child.signalCode === null) child.kill(sig);
      };
      process.on(sig, h);
      return [sig, h] as const;
    });
    const cleanup = (): void => {
      for (const [sig, h] of handlers) process.off(sig, h);
      if (!inherit && child.stdin) {
        io.stdin.unpipe(child.stdin);
        io.stdin.pause();
      }
    };
    return new Promise<number>((resolve) => {
      let settled = false;
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        cleanup();
        const notFound = err.code === 'ENOENT';
        ctx.note(`ims-token: ${notFound ? 'command not found' : `cannot run the command (${err.code ?? 'error'})`}: ${file}`);
        resolve(notFound ? 127 : 126);
      });
      child.once('close', (code, signal) => {
        if (settled) return;
        settled = true;
        cleanup();
        if (signal) {
          ctx.exitSignal = signal;
          resolve(128 + (constants.signals[signal] ?? 0));
        } else {
          resolve(code ?? 1);
        }
      });
    });
  },
};
