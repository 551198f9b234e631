/**
 * Database credentials never travel in a Temporal payload. The client puts the catalog's URL in the workflow input
 * with its password removed (`redactDbUrl`); the worker that opens the catalog puts the password back from its own
 * configuration (`resolveDbUrl`, called by catalogTarget):
 *   1. the in-process worker of `dicomflow ingest` holds the full `--db` URL in memory (`rememberDbUrl`);
 *   2. a `dicomflow worker` reads DICOMFLOW_DB_URL: the full URL(s), whitespace-separated, matched by their
 *      redacted form;
 *   3. otherwise the URL goes to the PostgreSQL driver as it is, which then uses PGPASSWORD or ~/.pgpass.
 * A URL that still has its password (the input of a run started before this) is used as it is.
 *
 * Free of Node imports: the workflow code uses redactDbUrl too.
 */

/** Environment variable a worker reads the full catalog URL(s) from. */
export const DB_URL_ENV = 'DICOMFLOW_DB_URL';

const URL_WITH_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;
/** Query parameters that carry a secret in a libpq/node-postgres URL. */
const SECRET_PARAMS = /^(password|sslpassword)$/i;

/** The URL without its password (user, host, port, database and other parameters kept). Paths pass unchanged. */
export function redactDbUrl(url: string): string;
export function redactDbUrl(url: string | undefined): string | undefined;
export function redactDbUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const m = URL_WITH_AUTHORITY.exec(url.trim());
  if (!m) return url;
  const [, scheme, authority, rest] = m;
  // user:password@host → user@host (the last @ ends the user info: a password may hold '@').
  const at = authority.lastIndexOf('@');
  let cleanAuthority = authority;
  if (at >= 0) {
    const userInfo = authority.slice(0, at);
    const colon = userInfo.indexOf(':');
    cleanAuthority = (colon >= 0 ? userInfo.slice(0, colon) : userInfo) + authority.slice(at);
  }
  let cleanRest = rest;
  const q = rest.indexOf('?');
  if (q >= 0) {
    const hash = rest.indexOf('#', q);
    const query = rest.slice(q + 1, hash >= 0 ? hash : undefined);
    const kept = query.split('&').filter((p) => p !== '' && !SECRET_PARAMS.test(decodeURIComponentSafe(p.split('=')[0])));
    cleanRest = rest.slice(0, q) + (kept.length ? `?${kept.join('&')}` : '') + (hash >= 0 ? rest.slice(hash) : '');
  }
  return scheme + cleanAuthority + cleanRest;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Whether the URL carries a password (in its user info or a password parameter). */
export function hasPassword(url: string): boolean {
  return redactDbUrl(url) !== url.trim();
}

/** Full URLs this process was given (the in-process worker of `ingest`), by their redacted form. */
const remembered = new Map<string, string>();

/** Keeps the full URL in this process's memory, for its own worker; returns the form that may go into a payload. */
export function rememberDbUrl(url: string): string {
  const redacted = redactDbUrl(url);
  if (redacted !== url.trim()) remembered.set(redacted, url.trim());
  return redacted;
}

/** The URL to connect with: the redacted URL of a payload with the password this worker knows for it put back. */
export function resolveDbUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  const trimmed = url.trim();
  if (hasPassword(trimmed)) return trimmed; // a run started before credentials left the payloads
  const known = remembered.get(trimmed);
  if (known) return known;
  for (const candidate of (env[DB_URL_ENV] ?? '').split(/\s+/)) {
    if (candidate && redactDbUrl(candidate) === trimmed) return candidate;
  }
  return trimmed;
}
