import { DEFAULT_IMS_URL, ENV, ImsTokenError, createTokenProvider, normalizeScopes } from '@ims-token/core';
import type { ImsToken } from '@ims-token/core';
import { usageError } from '../args';
import { createProvider, loadEnv, resolveCache, resolvePath, stdinSecrets, withSpinner } from '../config';
import type { CliConfig } from '../config';
import type { Context } from '../context';
import { inspectFile, readNow, worldAccessWarning, writeFileAtomic } from '../files/atomic';
import { editEnv } from '../files/dotenv';
import { keepOutOfGit } from '../files/gitignore';
import type { GitStatus } from '../files/gitignore';
import { formatDuration } from '../output';
import { SCOPE_PRESETS } from '../launcher/presets';
import { canPrompt, promptHidden, promptLine } from '../prompt';
import type { CommandModule } from './types';

/** Keys init owns in the file; the others are kept as they are. */
const OWNED = [ENV.clientId, ENV.clientSecret, ENV.clientSecretNext, ENV.clientSecretFile, ENV.scopes, ENV.imsUrl] as const;

const HEADER = '# Adobe IMS OAuth Server-to-Server credential (ims-token init)';

/** What to say about git, or `undefined`. */
function gitNote(ctx: Context, status: GitStatus): string | undefined {
  switch (status.state) {
    case 'added':
      return `ims-token: added ${status.pattern} to ${status.gitignore}, so the client secret is never committed.`;
    case 'not-ignored':
      return `ims-token: ${ctx.err.yellow('warning')}: ${status.pattern.slice(1)} is not ignored by git: add ${status.pattern} to .gitignore so the client secret is never committed.`;
    case 'tracked':
      return `ims-token: ${ctx.err.yellow('warning')}: ${status.pattern.slice(1)} is tracked by git: the client secret goes into your next commit. Run \`git rm --cached ${status.pattern.slice(1)}\` and add ${status.pattern} to .gitignore.`;
    default:
      return undefined;
  }
}

async function askScopes(ctx: Context): Promise<string> {
  const names = Object.keys(SCOPE_PRESETS);
  ctx.io.stderr.write(
    `Scopes:\n${names.map((n, i) => `  ${i + 1}) ${n}: ${(SCOPE_PRESETS as Record<string, string>)[n]}\n`).join('')}  or type a comma-separated list\n`,
  );
  for (;;) {
    const answer = await promptLine(ctx.io, `Scopes [1]: `);
    const pick = answer === '' ? names[0] : /^\d+$/.test(answer) ? names[Number(answer) - 1] : names.includes(answer) ? answer : undefined;
    if (pick !== undefined) return (SCOPE_PRESETS as Record<string, string>)[pick]!;
    if (/^\d+$/.test(answer)) continue;
    try {
      return normalizeScopes(answer).join(',');
    } catch {
      ctx.io.stderr.write('Separate scopes with commas, without spaces inside a scope.\n');
    }
  }
}

export const command: CommandModule = {
  options: {
    out: { type: 'string', value: '<path>', help: 'the file to write (default ./.env)' },
    force: { type: 'boolean', help: 'update an existing file without asking (its other lines are kept)' },
    'no-verify': { type: 'boolean', help: 'write the file without minting a token first (offline)' },
    'no-gitignore': { type: 'boolean', help: 'in a git repository, do not add the file to .gitignore (only warn)' },
  },
  maxPositionals: 0,
  help: {
    usage: 'ims-token init [--client-id <id>] [--client-secret-stdin] [--preset <name> | --scopes <list>] [--out <path>] [--force]',
    description: `For the developer who has just been handed a client ID and secret: asks for them on a terminal
(the secret is not echoed) or takes them from flags, --client-secret-stdin and the environment; offers the
scope presets; proves the credential by minting a token (cached, so the next "ims-token token" is instant);
then writes IMS_CLIENT_ID, IMS_CLIENT_SECRET, IMS_SCOPES (and IMS_URL) to a .env file with mode 0600.
An existing file is never changed without asking (or --force); its other lines and bytes are kept, and so
are its owner, group and mode (minus access for other users); a symbolic link is followed. Nothing is
written when IMS rejects the credential. In a git repository the file is added to .gitignore unless git
already ignores it (--no-gitignore: only warn).`,
    examples: [
      'ims-token init',
      'printf %s "$SECRET" | ims-token init --client-id abc123 --preset firefly --client-secret-stdin',
      'ims-token init --client-id abc123 --scopes openid,AdobeID --client-secret-stdin --out config/ims.env --force < secret.txt',
    ],
  },
  async run(ctx: Context): Promise<number> {
    const f = ctx.flags;
    const interactive = canPrompt(ctx.io);
    const outPath = resolvePath(ctx, typeof f.out === 'string' ? f.out : '.env');
    const target = await inspectFile(outPath, '--out', { mustExist: false });
    const existing = target.bytes;
    if (existing !== undefined && f.force !== true) {
      if (!interactive) {
        throw usageError(
          `${outPath} exists; ims-token init does not change it without asking.`,
          'Pass --force to update its IMS_* lines (its other lines are kept), or --out <path>.',
        );
      }
      const answer = await promptLine(ctx.io, `${outPath} exists. Update its IMS_* lines (other lines are kept)? [y/N] `);
      if (!/^y(es)?$/i.test(answer)) {
        ctx.note('ims-token: nothing written.');
        return 0;
      }
    }

    const { env } = await loadEnv(ctx);
    const pick = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);
    let clientId = pick(f['client-id']) ?? pick(env[ENV.clientId]);
    if (!clientId && interactive) clientId = await promptLine(ctx.io, 'Client ID (API key): ');
    if (!clientId) throw usageError('ims-token init needs a client ID.', 'Pass --client-id <id> (or run it on a terminal to be asked).');

    let secrets: string[] | undefined;
    if (f['client-secret-stdin'] === true) secrets = await stdinSecrets(ctx);
    else if (pick(env[ENV.clientSecret])) secrets = [pick(env[ENV.clientSecret])!];
    else if (interactive) {
      const s = await promptHidden(ctx.io, 'Client secret (not shown): ');
      if (s) secrets = [s];
    }
    if (!secrets?.length)
      throw usageError(
        'ims-token init needs the client secret.',
        'Pipe it to --client-secret-stdin, set IMS_CLIENT_SECRET, or run it on a terminal to be asked.',
      );

    let scopes: string | undefined;
    if (pick(f.scopes)) scopes = pick(f.scopes);
    else if (pick(f.preset)) {
      scopes = (SCOPE_PRESETS as Record<string, string>)[pick(f.preset)!];
      if (!scopes)
        throw usageError(
          `Unknown --preset "${pick(f.preset)!.slice(0, 40)}".`,
          `Use one of: ${Object.keys(SCOPE_PRESETS).join(', ')}; or pass --scopes.`,
        );
    } else if (pick(env[ENV.scopes])) scopes = pick(env[ENV.scopes]);
    else if (interactive) scopes = await askScopes(ctx);
    if (!scopes)
      throw usageError('ims-token init needs the scopes.', `Pass --preset (${Object.keys(SCOPE_PRESETS).join(', ')}) or --scopes <list>.`);
    const imsUrl = pick(f['ims-url']) ?? pick(env[ENV.imsUrl]);

    // Validate everything through core, then (unless --no-verify) mint with the same cache the other commands use.
    const options = {
      clientId,
      clientSecret: secrets.length === 2 ? [secrets[0]!, secrets[1]!] : secrets[0]!,
      scopes,
      ...(imsUrl ? { imsUrl } : {}),
    };
    let normalized: { clientId: string; scopes: string; imsUrl: string };
    try {
      const check = createTokenProvider(options);
      normalized = { clientId: check.clientId, scopes: check.scopes.join(','), imsUrl: check.imsUrl };
      await check.close();
    } catch (err) {
      if (ImsTokenError.is(err) && err.code === 'IMS_CONFIG') {
        throw new ImsTokenError('IMS_CONFIG', err.message, {
          hint: 'Check the client ID, the scopes (comma-separated) and --ims-url you gave.',
        });
      }
      throw err;
    }

    let token: ImsToken | undefined;
    if (f['no-verify'] !== true) {
      const cache = resolveCache(ctx, env);
      const config: CliConfig = {
        options: { ...options, ...(cache.kind === 'file' ? { store: cache.store } : {}) },
        cache,
        secretSource: 'init',
      };
      const provider = createProvider(ctx, config);
      try {
        token = await withSpinner(ctx, 'Minting a token to check the credential…', () => provider.getToken({ forceRefresh: true }));
      } catch (err) {
        if (ImsTokenError.is(err)) ctx.note(`ims-token: the credential was not verified; nothing written to ${outPath}.`);
        throw err;
      } finally {
        await provider.close();
      }
    }

    const values: Array<[string, string]> = [
      [ENV.clientId, normalized.clientId],
      [ENV.clientSecret, secrets[0]!],
      ...(secrets[1] ? [[ENV.clientSecretNext, secrets[1]] as [string, string]] : []),
      [ENV.scopes, normalized.scopes],
      ...(normalized.imsUrl !== DEFAULT_IMS_URL ? [[ENV.imsUrl, normalized.imsUrl] as [string, string]] : []),
    ];
    // Read the file again just before writing: lines added meanwhile are kept (only the IMS_* keys are init's).
    const now = await readNow(target.path);
    if (existing === undefined && now !== undefined) {
      throw usageError(
        `${outPath} appeared while ims-token init ran; it was not changed.`,
        'Run ims-token init again (it asks before updating an existing file).',
      );
    }
    if (target.linked)
      ctx.note(`ims-token: ${outPath} is a symbolic link: updating ${target.path}, the file it points to (the link stays).`);
    const world = worldAccessWarning(target);
    if (world) ctx.note(`ims-token: ${ctx.err.yellow('warning')}: ${world}`);
    const remove = OWNED.filter((k) => !values.some(([v]) => v === k));
    await writeFileAtomic({ ...target, bytes: now }, editEnv(now, { set: values, remove, header: HEADER }), { expect: now ?? null });
    const git = keepOutOfGit(target.path, { add: f['no-gitignore'] !== true, env: ctx.io.env });
    const warning = gitNote(ctx, git);

    if (f.json === true) {
      ctx.printJson({
        file: outPath,
        clientId: normalized.clientId,
        scopes: normalized.scopes.split(','),
        imsUrl: normalized.imsUrl,
        verified: token !== undefined,
        expiresAt: token ? new Date(token.expiresAt).toISOString() : null,
        gitignore: git.state,
      });
    } else {
      const s = ctx.out;
      if (token)
        ctx.print(
          `${s.green('✓')} IMS accepted the credential: a token for ${normalized.clientId} that expires in ${formatDuration(token.expiresAt - Date.now())}\n`,
        );
      else
        ctx.print(
          `${s.yellow('!')} not verified (--no-verify): run "ims-token doctor --env-file ${typeof f.out === 'string' ? f.out : '.env'}" to check it\n`,
        );
      ctx.print(
        `${s.green('✓')} ${existing === undefined ? 'wrote' : 'updated'} ${outPath} (mode 0${(existing === undefined ? 0o600 : target.mode & 0o770).toString(8).padStart(3, '0')})\n`,
      );
      ctx.print(`\nNext: ims-token token --env-file ${typeof f.out === 'string' ? f.out : '.env'}\n`);
    }
    if (warning) ctx.note(warning);
    return 0;
  },
};
