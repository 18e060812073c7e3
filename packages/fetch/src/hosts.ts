import { configError, isLoopbackHost } from '@ims-token/core';
import { load } from './load';

/**
 * The hosts that get credentials when `allowedHosts` is not given: every Adobe API gateway host
 * (`*.adobe.io`), over HTTPS only.
 *
 * @example
 * ```ts
 * createImsFetch({ provider, allowedHosts: [...DEFAULT_ALLOWED_HOSTS, 'firefly-api.example.com'] })
 * ```
 */
export const DEFAULT_ALLOWED_HOSTS: readonly string[] = Object.freeze(['*.adobe.io']);

/** Decides whether a request to `protocol//hostname` may carry credentials. */
export type HostRule = (protocol: string, hostname: string) => boolean;

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

type GetPublicSuffix = (hostname: string, options: { allowPrivateDomains: boolean }) => string | null;
let getPublicSuffix: GetPublicSuffix | undefined;

/**
 * Whether `domain` is a public suffix (`co.uk`, `github.io`, `s3.amazonaws.com` …): a name under which anyone
 * can register their own, so `*.domain` would send credentials to strangers. The Public Suffix List (ICANN and
 * private sections) comes from tldts, bundled at build time into a file of its own that is loaded only here,
 * when an entry other than the default `*.adobe.io` is checked.
 */
function isPublicSuffix(domain: string): boolean {
  getPublicSuffix ??= load<{ getPublicSuffix: GetPublicSuffix }>('./public-suffix.cjs', 'tldts').getPublicSuffix;
  return getPublicSuffix(domain, { allowPrivateDomains: true }) === domain;
}

function stripDot(host: string): string {
  return host.endsWith('.') ? host.slice(0, -1) : host;
}

function isIpLiteral(host: string): boolean {
  return host.startsWith('[') || IPV4.test(host);
}

/** Normalises one exact entry to the form `URL#hostname` gives, or `undefined` when it is not a bare host. */
function exactHost(entry: string): string | undefined {
  const bracketed = entry.includes(':') && !entry.startsWith('[') ? `[${entry}]` : entry;
  if (/[/@?#\s\\]/.test(bracketed)) return undefined;
  if (!bracketed.startsWith('[') && bracketed.includes(':')) return undefined; // a port
  let hostname: string;
  try {
    const url = new URL(`https://${bracketed}/`);
    if (url.port !== '' || url.host !== url.hostname) return undefined;
    hostname = stripDot(url.hostname);
  } catch {
    return undefined;
  }
  if (hostname.startsWith('[')) return hostname;
  if (IPV4.test(hostname)) return hostname;
  return hostname.split('.').every((l) => LABEL.test(l)) && !/^\d+$/.test(hostname.split('.').pop() ?? '') ? hostname : undefined;
}

/**
 * Validates `allowedHosts` and compiles it into a matcher. Entries are exact host names, IP literals
 * (`127.0.0.1`, `[::1]`) or `*.suffix` patterns with at least two labels after the `*`.
 * HTTPS is required, except plain http to a loopback host that the list names exactly.
 */
export function compileAllowedHosts(input: unknown, field = 'allowedHosts'): HostRule {
  if (!Array.isArray(input)) throw configError(field, 'must be an array of host names or "*.suffix" patterns (e.g. ["*.adobe.io"])');
  if (input.length === 0) throw configError(field, 'must name at least one host');
  const exact = new Set<string>();
  const suffixes: string[] = [];
  input.forEach((raw: unknown, i) => {
    const name = `${field}[${i}]`;
    if (typeof raw !== 'string') throw configError(name, 'must be a string');
    const entry = stripDot(raw.trim().toLowerCase());
    if (entry === '') throw configError(name, 'must not be empty');
    if (entry.startsWith('*.')) {
      const labels = entry.slice(2).split('.');
      if (labels.length < 2) throw configError(name, 'is too broad: a wildcard needs at least two labels after it (e.g. "*.adobe.io")');
      if (!labels.every((l) => LABEL.test(l)) || /^\d+$/.test(labels[labels.length - 1]!)) {
        throw configError(name, 'is not a valid "*.suffix" pattern (e.g. "*.adobe.io")');
      }
      if (!DEFAULT_ALLOWED_HOSTS.includes(entry) && isPublicSuffix(labels.join('.'))) {
        throw configError(
          name,
          'is too broad: it is a public suffix, under which anyone can register a name; list the hosts, or a wildcard below your own domain (e.g. "*.example.co.uk")',
        );
      }
      suffixes.push(`.${labels.join('.')}`);
      return;
    }
    if (entry.includes('*'))
      throw configError(name, 'may use a wildcard only as a leading "*." (e.g. "*.adobe.io"); a bare "*" is not allowed');
    const host = exactHost(entry);
    if (host === undefined)
      throw configError(name, 'is not a host name or IP literal (no scheme, port or path; e.g. "api.adobe.io", "127.0.0.1")');
    exact.add(host);
  });

  return (protocol, hostname) => {
    const host = stripDot(hostname.toLowerCase());
    if (protocol === 'https:') {
      if (exact.has(host)) return true;
      if (isIpLiteral(host)) return false;
      for (const s of suffixes) if (host.length > s.length && host.endsWith(s)) return true;
      return false;
    }
    return protocol === 'http:' && exact.has(host) && isLoopbackHost(host);
  };
}

/** Where the authority of `href` ends (at `/`, `?`, `#` or `\` after `://`), or -1 without `://`. */
function authorityEnd(href: string): number {
  const start = href.indexOf('://');
  if (start < 0) return -1;
  for (let i = start + 3; i < href.length; i++) {
    const c = href.charCodeAt(i);
    if (c === 47 || c === 63 || c === 35 || c === 92) return i;
  }
  return href.length;
}

/**
 * Decides for a URL string, caching the answer per `scheme://authority` prefix so the hot path does not
 * parse URLs. The prefix ends where the authority of an http(s) URL must end, so parsing it yields the same
 * scheme and host as parsing the whole URL; anything unparsable is refused.
 */
export function createHrefDecider(rule: HostRule): (href: string) => boolean {
  const cache = new Map<string, boolean>();
  return (href) => {
    const end = authorityEnd(href);
    const key = end < 0 ? undefined : end === href.length ? href : href.slice(0, end);
    if (key !== undefined) {
      const known = cache.get(key);
      if (known !== undefined) return known;
    }
    let decision: boolean;
    try {
      const url = new URL(key ?? href);
      decision = rule(url.protocol, url.hostname);
    } catch {
      decision = false;
    }
    if (key !== undefined && cache.size < 256) cache.set(key, decision);
    return decision;
  };
}
