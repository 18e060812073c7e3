import { access, stat } from 'node:fs/promises';
import { constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import { ImsTokenError, decodeImsToken } from '@ims-token/core';
import type { ImsToken, TokenProvider } from '@ims-token/core';
import { createProvider, resolveConfig, withSpinner } from '../config';
import type { CliConfig } from '../config';
import type { Context } from '../context';
import { formatDuration } from '../output';
import type { CommandModule } from './types';

type CheckStatus = 'ok' | 'fail' | 'warn' | 'skip';

interface Check {
  name: string;
  status: CheckStatus;
  detail: string;
  fix?: string;
}

interface Probe {
  ok: boolean;
  detail: string;
  fix?: string;
  /** The server's `Date` header and the local time half-way through the request. */
  serverDate?: number;
  localDate?: number;
}

/** Clock skews beyond this fail the check; beyond CLOCK_WARN_MS they are noted. */
const CLOCK_FAIL_MS = 5 * 60_000;
const CLOCK_WARN_MS = 30_000;
const PROBE_TIMEOUT_MS = 10_000;

const TLS_ERROR = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|DEPTH_ZERO|HOSTNAME_MISMATCH|ERR_TLS/;

/** DNS, then one GET to the token endpoint (any HTTP answer proves DNS, TCP and TLS work). */
async function probe(imsUrl: string): Promise<Probe> {
  const url = new URL(`${imsUrl}/ims/token/v3`);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let address = host;
  const { isIP } = await import('node:net');
  if (!isIP(host)) {
    const { lookup } = await import('node:dns/promises');
    try {
      address = (await lookup(host)).address;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      return {
        ok: false,
        detail: `DNS: cannot resolve ${host} (${code})`,
        fix: `Check the host in IMS_URL / --ims-url and this machine's DNS settings (try: nslookup ${host}).`,
      };
    }
  }
  const mod = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
  const started = Date.now();
  return new Promise<Probe>((resolve) => {
    const req = mod.request(url, { method: 'GET', headers: { 'user-agent': 'ims-token doctor', accept: 'application/json' } }, (res) => {
      const ms = Date.now() - started;
      res.resume();
      const date = res.headers.date ? Date.parse(res.headers.date) : Number.NaN;
      resolve({
        ok: true,
        detail: `${url.host}${address !== host ? ` (${address})` : ''} answered HTTP ${res.statusCode ?? '?'} over ${url.protocol === 'https:' ? 'TLS' : 'plain HTTP'} in ${ms} ms`,
        ...(Number.isNaN(date) ? {} : { serverDate: date, localDate: started + Math.round(ms / 2) }),
      });
    });
    req.setTimeout(PROBE_TIMEOUT_MS, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'error';
      if (TLS_ERROR.test(code)) {
        resolve({
          ok: false,
          detail: `TLS handshake with ${url.host} failed (${code})`,
          fix: "A proxy or firewall may intercept TLS: point NODE_EXTRA_CA_CERTS at your organisation's CA bundle, or check the system clock.",
        });
      } else {
        resolve({
          ok: false,
          detail: `cannot connect to ${url.host}${address !== host ? ` (${address})` : ''}: ${code}`,
          fix: 'Check IMS_URL / --ims-url and that this host may open outbound HTTPS connections (firewall, VPN).',
        });
      }
    });
    req.end();
  });
}

function scopeCheck(provider: TokenProvider, token: ImsToken): Check {
  let granted: string[];
  try {
    granted = decodeImsToken(token.accessToken).scopes;
  } catch {
    return { name: 'scopes', status: 'warn', detail: 'the token is not a JWT with a scope claim; cannot compare scopes' };
  }
  if (granted.length === 0) return { name: 'scopes', status: 'warn', detail: 'the token has no scope claim; cannot compare scopes' };
  const missing = provider.scopes.filter((s) => !granted.includes(s));
  const extra = granted.filter((s) => !provider.scopes.includes(s));
  if (missing.length > 0) {
    return {
      name: 'scopes',
      status: 'fail',
      detail: `not granted: ${missing.join(',')} (granted: ${granted.join(',')})`,
      fix: 'Add the API or product profile that grants them to the project in Adobe Developer Console, or remove them from IMS_SCOPES / --scopes.',
    };
  }
  return {
    name: 'scopes',
    status: 'ok',
    detail: `all ${provider.scopes.length} requested scopes granted${extra.length ? ` (also: ${extra.join(',')})` : ''}`,
  };
}

function clockCheck(p: Probe | undefined): Check {
  if (!p?.ok) return { name: 'clock', status: 'skip', detail: 'skipped: IMS not reachable' };
  if (p.serverDate === undefined || p.localDate === undefined)
    return { name: 'clock', status: 'warn', detail: 'IMS sent no Date header; cannot compare clocks' };
  // Date has 1 s resolution: the server's time is somewhere in [date, date + 1 s).
  const skew = p.localDate - (p.serverDate + 500);
  const abs = Math.abs(skew);
  const detail =
    abs < 1500
      ? 'local clock agrees with IMS (within a second)'
      : `local clock is ${formatDuration(abs)} ${skew > 0 ? 'ahead of' : 'behind'} IMS`;
  if (abs > CLOCK_FAIL_MS)
    return {
      name: 'clock',
      status: 'fail',
      detail,
      fix: 'Synchronise the clock (enable NTP, e.g. `timedatectl set-ntp true`); a wrong clock breaks TLS and token expiry display.',
    };
  return { name: 'clock', status: abs > CLOCK_WARN_MS ? 'warn' : 'ok', detail };
}

async function cacheCheck(config: CliConfig, provider: TokenProvider): Promise<Check> {
  const c = config.cache;
  if (c.kind === 'memory')
    return {
      name: 'cache',
      status: 'warn',
      detail: `no persistent cache (${c.why}): every run mints a token, and IMS throttles integrations that mint too many`,
    };
  if (c.kind === 'redis') return { name: 'cache', status: 'ok', detail: `shared cache at ${c.where} (not checked here)` };
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  let st;
  try {
    st = await stat(c.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      return {
        name: 'cache',
        status: 'fail',
        detail: `cannot read ${c.dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        fix: 'Pass --cache-dir <dir> with a directory you own.',
      };
    try {
      await access(dirname(c.dir), fsConstants.W_OK);
      return { name: 'cache', status: 'ok', detail: `${c.dir} does not exist yet; it is created 0700 on first use` };
    } catch {
      return {
        name: 'cache',
        status: 'fail',
        detail: `${c.dir} does not exist and its parent is not writable`,
        fix: `Create it (mkdir -m 700 -p ${c.dir}) or pass --cache-dir <dir>.`,
      };
    }
  }
  if (!st.isDirectory())
    return { name: 'cache', status: 'fail', detail: `${c.dir} is not a directory`, fix: 'Remove it or pass --cache-dir <dir>.' };
  if (uid !== undefined && st.uid !== uid)
    return {
      name: 'cache',
      status: 'fail',
      detail: `${c.dir} belongs to uid ${st.uid}, not to you (uid ${uid})`,
      fix: 'Pass --cache-dir <dir> with a directory you own (or set XDG_CACHE_HOME).',
    };
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  if ((st.mode & 0o077) !== 0)
    return { name: 'cache', status: 'fail', detail: `${c.dir} is ${mode}: other users may read cached tokens`, fix: `chmod 700 ${c.dir}` };
  try {
    await access(c.dir, fsConstants.W_OK);
  } catch {
    return { name: 'cache', status: 'fail', detail: `${c.dir} is not writable`, fix: `chmod u+w ${c.dir}, or pass --cache-dir <dir>.` };
  }
  const file = c.store.pathFor(provider.cacheKey);
  try {
    const fst = await stat(file);
    const fmode = (fst.mode & 0o777).toString(8).padStart(4, '0');
    if ((fst.mode & 0o077) !== 0)
      return { name: 'cache', status: 'fail', detail: `${file} is ${fmode}: other users may read the token`, fix: `chmod 600 ${file}` };
    return { name: 'cache', status: 'ok', detail: `${c.dir} (${mode}), token file ${fmode}` };
  } catch {
    return { name: 'cache', status: 'ok', detail: `${c.dir} (${mode}), no token cached yet` };
  }
}

export const command: CommandModule = {
  options: {},
  maxPositionals: 0,
  help: {
    usage: 'ims-token doctor [--json]',
    description: `Checks, in order, and prints a ✓/✗ line with a fix for each problem:
  config   the configuration is present and valid
  network  the IMS URL is reachable (DNS, TCP, TLS)
  token    a token can be minted (always asks IMS: a cached token proves nothing about the secret)
  scopes   the token's scope claim holds every requested scope
  clock    the local clock agrees with IMS's Date header (✗ beyond 5 minutes)
  cache    the cache directory is 0700 and yours, the token file 0600
Exits 5 when a check fails (! marks a warning, which does not).`,
    examples: ['ims-token doctor --env-file .env', 'ims-token doctor --json | jq \'.checks[] | select(.status == "fail")\''],
  },
  async run(ctx: Context): Promise<number> {
    const checks: Check[] = [];
    const json = ctx.flags.json === true;
    const s = ctx.out;
    const mark: Record<CheckStatus, string> = { ok: s.green('✓'), fail: s.red('✗'), warn: s.yellow('!'), skip: s.dim('–') };
    const report = (c: Check): void => {
      checks.push(c);
      if (json) return;
      ctx.print(`${mark[c.status]} ${c.name.padEnd(8)} ${c.detail}\n`);
      if (c.fix) ctx.print(`  ${s.dim('fix:')} ${c.fix}\n`);
    };
    const skipRest = (names: string[], why: string): void =>
      names.forEach((name) => report({ name, status: 'skip', detail: `skipped: ${why}` }));

    let config: CliConfig | undefined;
    let provider: TokenProvider | undefined;
    try {
      config = await resolveConfig(ctx);
      provider = createProvider(ctx, config);
      report({
        name: 'config',
        status: 'ok',
        detail: `client id ${provider.clientId}, ${provider.scopes.length} scopes, IMS ${provider.imsUrl}, secret from ${config.secretSource}`,
      });
    } catch (err) {
      if (!ImsTokenError.is(err)) throw err;
      report({ name: 'config', status: 'fail', detail: err.message, fix: err.hint });
      skipRest(['network', 'token', 'scopes', 'clock', 'cache'], 'no valid configuration');
    }
    if (config && provider) {
      try {
        const p = await withSpinner(ctx, `Connecting to ${provider.imsUrl}…`, () => probe(provider!.imsUrl));
        report({ name: 'network', status: p.ok ? 'ok' : 'fail', detail: p.detail, ...(p.fix ? { fix: p.fix } : {}) });
        if (p.ok) {
          try {
            const started = Date.now();
            const token = await withSpinner(ctx, 'Minting a token…', () => provider!.getToken({ forceRefresh: true }));
            report({
              name: 'token',
              status: 'ok',
              detail: `minted a token in ${Date.now() - started} ms; it expires in ${formatDuration(token.expiresAt - Date.now())}`,
            });
            report(scopeCheck(provider, token));
          } catch (err) {
            if (!ImsTokenError.is(err)) throw err;
            report({
              name: 'token',
              status: 'fail',
              detail: `${err.code}: ${err.message}${err.debugId ? ` (debug id ${err.debugId})` : ''}`,
              fix: err.hint,
            });
            skipRest(['scopes'], 'no token');
          }
        } else {
          skipRest(['token', 'scopes'], 'IMS not reachable');
        }
        report(clockCheck(p));
        report(await cacheCheck(config, provider));
      } finally {
        await provider.close();
      }
    }
    const failed = checks.filter((c) => c.status === 'fail').length;
    if (json) ctx.printJson({ ok: failed === 0, checks });
    else ctx.print(failed ? `\n${s.red(`${failed} check${failed > 1 ? 's' : ''} failed.`)}\n` : `\n${s.green('All checks passed.')}\n`);
    return failed ? 5 : 0;
  },
};
