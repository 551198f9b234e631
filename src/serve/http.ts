/**
 * The HTTP plumbing `dicomflow serve` is built on: a handler per area (study browser, DICOMweb, viewer) tried in turn,
 * and the few response helpers they share. Temporal-free; the catalog comes in through ServeContext.
 */
import type * as http from 'http';
import type { Knex } from 'knex';

export interface ServeContext {
  /** The catalog (SQLite DIR/dicom.db or the --db URL), opened read-only in spirit: handlers only SELECT. */
  db: Knex;
  dialect: 'sqlite' | 'postgres';
  /** The output folder DIR when there is one (organized tree, reports); undefined with only --db. */
  outDir?: string;
  /** The Temporal UI's base URL, for links to runs; undefined when there is none. */
  temporalUiUrl?: string;
  /** The base URL this server is reached at, e.g. http://127.0.0.1:8042 (for absolute links such as OHIF's config). */
  baseUrl: string;
}

/**
 * One area of the site. Returns true when it answered the request, false to let the next handler try.
 * `url` is parsed against the server's base; a handler must not use any URL part as a file path: look it up in the
 * catalog and use the path the catalog holds.
 */
export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL, ctx: ServeContext) => Promise<boolean>;

export function send(res: http.ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  const buf = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(status, { 'content-type': contentType, 'content-length': String(buf.length), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : buf);
}

export const sendJson = (res: http.ServerResponse, value: unknown, contentType = 'application/json', status = 200): void =>
  send(res, status, contentType, JSON.stringify(value));

export const sendHtml = (res: http.ServerResponse, html: string, status = 200): void =>
  send(res, status, 'text/html; charset=utf-8', html);

export const notFound = (res: http.ServerResponse, what = 'Not found'): void =>
  send(res, 404, 'text/plain; charset=utf-8', `${what}\n`);

/** Text for HTML element content and attribute values. */
export function escapeHtml(text: unknown): string {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
