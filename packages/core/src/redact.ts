/** How much of a token may appear in a log line or message: its first 6 characters. */
export function redactToken(token: string | undefined): string {
  if (!token) return '<none>';
  return `${token.slice(0, 6)}…`;
}

/**
 * Removes every occurrence of the given secrets (client secrets, access tokens) from a string
 * that came from outside, such as an IMS `error_description`.
 */
export function scrub(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) {
    if (s.length >= 4 && out.includes(s)) out = out.split(s).join('[redacted]');
  }
  return out;
}
