import type { IncomingMessage, ServerResponse } from 'node:http';
import { normalizeFaultRule } from './faults';
import { HttpError, positiveNumber, readJson, sendJson } from './http';
import type { EmulatorState } from './state';
import type { Emulator, EmulatorClientInput } from './types';

/** `/__emulator/*`: JSON, no auth, for tests in other processes and for CI. Invalid input answers 400. */
export async function handleControl(
  state: EmulatorState,
  api: Emulator,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
): Promise<void> {
  const path = url.pathname.replace(/\/+$/, '');
  const route = `${req.method ?? 'GET'} ${path}`;
  const settings = state.settings;
  try {
    switch (route) {
      case 'GET /__emulator/stats':
        sendJson(res, 200, api.stats);
        return;
      case 'GET /__emulator/health':
        sendJson(res, 200, { ok: true, url: state.baseUrl, now: state.now() });
        return;
      case 'POST /__emulator/faults': {
        api.fault(normalizeFaultRule(await readJson(req)));
        sendJson(res, 201, { ok: true, queued: state.faults.length });
        return;
      }
      case 'DELETE /__emulator/faults':
        api.clearFaults();
        sendJson(res, 200, { ok: true });
        return;
      case 'POST /__emulator/clients': {
        const body = await readJson(req);
        sendJson(res, 201, api.addClient(body as EmulatorClientInput));
        return;
      }
      case 'POST /__emulator/config': {
        const body = await readJson(req);
        if (body['tokenLifetimeSeconds'] !== undefined) api.setTokenLifetime(body['tokenLifetimeSeconds'] as number);
        if (body['secretActivationDelayMs'] !== undefined) {
          settings.secretActivationDelayMs = positiveNumber('secretActivationDelayMs', body['secretActivationDelayMs'], true);
        }
        if (body['lastUsedLagMs'] !== undefined) settings.lastUsedLagMs = positiveNumber('lastUsedLagMs', body['lastUsedLagMs'], true);
        const { tokenLifetimeSeconds, secretActivationDelayMs, lastUsedLagMs } = settings;
        sendJson(res, 200, { ok: true, tokenLifetimeSeconds, secretActivationDelayMs, lastUsedLagMs });
        return;
      }
      case 'POST /__emulator/revoke': {
        const clientId = (await readJson(req))['clientId'];
        api.revokeTokens(typeof clientId === 'string' ? clientId : undefined);
        sendJson(res, 200, { ok: true });
        return;
      }
      case 'POST /__emulator/advance': {
        const now = api.advance((await readJson(req))['ms'] as number);
        sendJson(res, 200, { ok: true, now });
        return;
      }
      case 'POST /__emulator/reset-stats':
        api.resetStats();
        sendJson(res, 200, { ok: true });
        return;
      default:
        sendJson(res, 404, { error: 'not_found', message: `unknown control route ${route}` });
    }
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw new HttpError(400, { error: 'invalid_request', message: err instanceof Error ? err.message : String(err) });
  }
}
