/** How much of a token may appear in a log line or message: its first 6 characters. */
export function redactToken(token: string | undefined): string {
  if (!token) return '<none>';
  return `${token.slice(0, 6)}…`;
}

/**
 * A JWT (three base64url parts, the first a JSON header: `eyJ…`): an IMS access token looks like this. Scrubbed
 * even when we do not know it (a management token, the token minted to verify a new secret).
 */
const JWT = /eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/g;

/**
 * The ways `s` may come back inside text an IMS or I/O Management API answer echoes: as is, URL-encoded as in
 * our form body (`URLSearchParams`: `+` → `%2B`, `/` → `%2F`, `=` → `%3D`, `&` → `%26`, space → `+`) or by
 * `encodeURIComponent`, with upper- or lower-case hex, and with JSON's optional `\/`. Longest first.
 */
function encodings(s: string): string[] {
  const form = new URLSearchParams({ s }).toString().slice(2);
  const uri = encodeURIComponent(s);
  const lower = (v: string): string => v.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  const all = new Set([s, form, uri, lower(form), lower(uri), s.replaceAll('/', '\\/')]);
  return [...all].sort((a, b) => b.length - a.length);
}

/**
 * Removes every occurrence of the given secrets (client secrets, access tokens), in every encoding an answer
 * may echo them in, and anything shaped like an access token, from a string that came from outside, such as
 * an IMS `error_description`.
 */
export function scrub(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s.length < 4) continue;
    for (const v of encodings(s)) if (out.includes(v)) out = out.split(v).join('[redacted]');
  }
  return out.replace(JWT, '[redacted]');
}
