import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleControl } from './control';
import { applyFault, clearFaultTimers, normalizeFaultRule, queueFault, takeFault } from './faults';
import type { Category } from './faults';
import { HttpError, positiveNumber, sendJson } from './http';
import { handleApi, SAMPLE_ROUTES } from './sample-api';
import { handleConsole } from './secrets';
import {
  DEFAULT_CLIENT_ID,
  DEFAULT_CLIENT_SECRET,
  DEFAULT_CREDENTIAL_ID,
  DEFAULT_ORG_CODE,
  DEFAULT_ORG_ID,
  DEFAULT_ORG_NAME,
  EmulatorState,
  emptyStats,
} from './state';
import { handleToken } from './token';
import type { Emulator, EmulatorClient, EmulatorClientInput, EmulatorOptions, EmulatorStats, FaultRule } from './types';

function categorize(pathname: string): Category {
  if (pathname === '/__emulator' || pathname.startsWith('/__emulator/')) return 'control';
  if (pathname.startsWith('/ims/token')) return 'token';
  if (pathname === '/api' || pathname.startsWith('/api/')) return 'api';
  if (pathname === '/console' || pathname.startsWith('/console/')) return 'secrets';
  return 'other';
}

/** The route a request counts under in `stats.routes`: method plus path with ids collapsed. */
function routeKey(method: string, pathname: string): string {
  const path = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  let template: string | undefined;
  if (path === '/ims/token/v3') template = path;
  else if (path === '/console/organizations') template = path;
  else if (/^\/console\/organizations\/[^/]+\/credentials\/[^/]+\/secrets$/.test(path)) {
    template = '/console/organizations/:orgId/credentials/:credentialId/secrets';
  } else if (/^\/console\/organizations\/[^/]+\/credentials\/[^/]+\/secrets\/[^/]+$/.test(path)) {
    template = '/console/organizations/:orgId/credentials/:credentialId/secrets/:uuid';
  } else if (SAMPLE_ROUTES.includes(path)) template = path;
  else if (/^\/api\/v1\/jobs\/[^/]+$/.test(path)) template = '/api/v1/jobs/:id';
  return template === undefined ? `${method} (unknown route)` : `${method} ${template}`;
}

/** Counts a request, applies a queued fault, then hands it to its area. */
async function handle(state: EmulatorState, api: Emulator, req: IncomingMessage, res: ServerResponse): Promise<void> {
  res.setHeader('x-debug-id', randomUUID());
  res.setHeader('date', new Date(state.now()).toUTCString());
  const url = new URL(req.url ?? '/', 'http://emulator.local');
  const category = categorize(url.pathname);
  const stats = state.stats;
  if (category !== 'control') {
    stats.requests++;
    const key = routeKey(req.method ?? 'GET', url.pathname);
    stats.routes[key] = (stats.routes[key] ?? 0) + 1;
  }
  if (category === 'token') stats.tokenRequests++;
  else if (category === 'api') stats.apiRequests++;
  else if (category === 'secrets') stats.secretsRequests++;
  res.on('finish', () => state.log(`${req.method ?? '?'} ${url.pathname} ${res.statusCode}`));

  const rule = takeFault(state, category);
  if (rule) {
    state.log(`${req.method ?? '?'} ${url.pathname} fault=${rule.kind}`);
    if (await applyFault(state, rule, req, res, category)) return;
  }

  switch (category) {
    case 'token':
      return handleToken(state, req, res, url);
    case 'api':
      return handleApi(state, req, res, url);
    case 'secrets':
      return handleConsole(state, req, res, url);
    case 'control':
      return handleControl(state, api, req, res, url);
    default:
      sendJson(res, 404, { error_code: '404', message: 'Not found' });
  }
}

/**
 * Starts an emulator of Adobe IMS (token endpoint), the I/O Management API (organizations and secrets endpoints) and
 * a small protected sample Adobe API, on one local HTTP server.
 *
 * @example
 * const emu = await startEmulator();
 * const res = await fetch(`${emu.url}/ims/token/v3`, { method: 'POST', body: new URLSearchParams({ ... }) });
 * await emu.stop();
 */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const host = options.host ?? '127.0.0.1';
  const state = new EmulatorState(options);
  if (options.clients && options.clients.length > 0) {
    for (const c of options.clients) state.registerClient(c);
  } else {
    state.registerClient({
      clientId: DEFAULT_CLIENT_ID,
      clientSecret: DEFAULT_CLIENT_SECRET,
      orgId: DEFAULT_ORG_ID,
      orgCode: DEFAULT_ORG_CODE,
      orgName: DEFAULT_ORG_NAME,
      credentialId: DEFAULT_CREDENTIAL_ID,
    });
  }

  let port = 0;
  let stopping: Promise<void> | undefined;
  const server: Server = createServer((req, res) => {
    handle(state, api, req, res).catch((err: unknown) => {
      if (err instanceof HttpError) {
        sendJson(res, err.status, err.body);
      } else {
        state.log(`internal error: ${err instanceof Error ? err.message : String(err)}`);
        sendJson(res, 500, { error: 'server_error', error_description: 'emulator internal error' });
      }
      if (!req.complete) req.resume();
    });
  });

  const api: Emulator = {
    get url(): string {
      return state.baseUrl;
    },
    get port(): number {
      return port;
    },
    get stats(): EmulatorStats {
      return state.statsSnapshot();
    },
    addClient(c?: EmulatorClientInput): EmulatorClient & { clientSecret: string } {
      return state.clientView(state.registerClient(c));
    },
    client(clientId: string): EmulatorClient | undefined {
      return state.clients.get(clientId)?.pub;
    },
    fault(rule: FaultRule): void {
      state.faults.push(queueFault(normalizeFaultRule(rule)));
    },
    clearFaults(): void {
      state.faults = [];
    },
    setTokenLifetime(seconds: number): void {
      state.settings.tokenLifetimeSeconds = positiveNumber('tokenLifetimeSeconds', seconds, false);
    },
    revokeTokens(clientId?: string): void {
      for (const t of state.minted.values()) {
        if (clientId === undefined || t.clientId === clientId) t.revoked = true;
      }
    },
    resetStats(): void {
      state.stats = emptyStats();
    },
    now(): number {
      return state.now();
    },
    advance(ms: number): number {
      return state.advance(ms);
    },
    stop(): Promise<void> {
      stopping ??= new Promise<void>((resolve) => {
        clearFaultTimers(state);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopping;
    },
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host;
  state.baseUrl = `http://${urlHost}:${port}`;
  return api;
}
