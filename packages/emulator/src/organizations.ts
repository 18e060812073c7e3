import { randomInt } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate } from './gateway';
import { randomHex, sendJson } from './http';
import type { EmulatorState } from './state';
import type { EmulatorClientInput } from './types';

// Adobe names one org two ways: the numeric AMS org id, which the I/O Management API paths take (the number in the
// Developer Console URL …/console/projects/{orgId}/…; AdobeDocs/adobe-dev-console ServerToServerAuthentication/
// implementation.md, Adobe's example 23294; adobe/aio-lib-console spec/api.json: orgId "AMS org id"), and the IMS org
// code `<24 hex>@AdobeOrg` (spec/api.json data endpoints: org_id "The AMS consumer org id", org_code "The IMS org id").

// The org type and the caller's role as GET /console/organizations answers them. `entp` is the enterprise org type
// Adobe's aio tooling filters on; ASSUMED: the role a technical account gets (not documented).
const ORG_TYPE = 'entp';
const ORG_ROLE = 'ADMIN';
const NUMERIC_ORG_ID = /^\d+$/;
const ORG_CODE = /^[^@\s/]+@AdobeOrg$/;

/** An org as GET /console/organizations answers it: `id` is the numeric AMS org id, `code` the IMS org code. */
export interface OrgRecord {
  id: string;
  code: string;
  name: string;
  type: string;
  role: string;
}

/** Finds or creates the org a client belongs to; the numeric AMS org id and the IMS org code name one org each. */
export function resolveOrg(orgs: Map<string, OrgRecord>, input: EmulatorClientInput): OrgRecord {
  const { orgId, orgCode, orgName } = input;
  if (orgId !== undefined && (typeof orgId !== 'string' || !NUMERIC_ORG_ID.test(orgId))) {
    throw new TypeError(
      'orgId must be the numeric AMS org id (the number in the Developer Console URL …/console/projects/{orgId}/…); an …@AdobeOrg value is the org code: pass it as orgCode',
    );
  }
  if (orgCode !== undefined && (typeof orgCode !== 'string' || !ORG_CODE.test(orgCode))) {
    throw new TypeError('orgCode must be an IMS org code ending in @AdobeOrg');
  }
  const byId = orgId === undefined ? undefined : orgs.get(orgId);
  const byCode = orgCode === undefined ? undefined : [...orgs.values()].find((o) => o.code === orgCode);
  const existing = byId ?? byCode;
  if (existing) {
    if (
      (byId && byCode && byId !== byCode) ||
      (orgCode !== undefined && existing.code !== orgCode) ||
      (orgId !== undefined && existing.id !== orgId)
    ) {
      throw new Error(`org ${orgId ?? orgCode} is already registered with another org id or code`);
    }
    if (orgName !== undefined && orgName !== existing.name)
      throw new Error(`org ${existing.id} is already registered as "${existing.name}"`);
    return existing;
  }
  let id = orgId;
  while (id === undefined || orgs.has(id)) id = String(randomInt(10_000, 10_000_000));
  const org: OrgRecord = {
    id,
    code: orgCode ?? `${randomHex(12).toUpperCase()}@AdobeOrg`,
    name: orgName ?? `Emulator org ${id}`,
    type: ORG_TYPE,
    role: ORG_ROLE,
  };
  orgs.set(id, org);
  return org;
}

/**
 * `GET /console/organizations`: the orgs of the calling credential, `[{ id, code, name, type, role }]` (aio-lib-console
 * `getOrganizations()`, spec/api.json; aio-cli-plugin-console `console org list` reads id, code and name). `id` is the
 * numeric AMS org id the secrets paths take, `code` the IMS org code.
 */
export function handleOrganizations(state: EmulatorState, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET') {
    sendJson(res, 405, { error_code: '405', message: 'Method not allowed' }, { allow: 'GET' });
    return;
  }
  const token = authenticate(state, req, res, false);
  if (!token) return;
  if (!token.scopes.includes('read_organizations')) {
    // ASSUMED: the body of a missing-scope answer (the status is the gateway's; the text is not documented).
    sendJson(res, 403, { error_code: '403027', message: 'Insufficient scope (read_organizations is required)' });
    return;
  }
  const org = state.clients.get(token.clientId)?.org;
  sendJson(res, 200, org ? [{ id: org.id, code: org.code, name: org.name, type: org.type, role: org.role }] : []);
}
