/**
 * DICOMweb (DICOM PS3.18) under /dicomweb, read-only, over the catalog and the organized tree:
 *
 *   QIDO-RS  /studies  /series  /instances
 *            /studies/{study}/series  /studies/{study}/instances  /studies/{study}/series/{series}/instances
 *   WADO-RS  /studies/{study}[/series/{series}[/instances/{sop}]]            multipart/related; type="application/dicom"
 *            .../metadata                                                    application/dicom+json
 *            .../instances/{sop}/frames/{n[,m...]}                           multipart/related; type="application/octet-stream"
 *            .../instances/{sop}/bulk/{tag}/{offset}                         a BulkDataURI of the metadata
 *            .../series/{series}/(rendered|thumbnail), .../instances/{sop}/(rendered|thumbnail), .../frames/{n}/rendered   image/png
 *
 * Every UID of a URL is looked up in the catalog (an unknown one, or one of another study or series, is 404); files
 * are the catalog's paths. Searches and metadata are paged and use the catalog's indexes (dicomweb-query.ts).
 */
import type * as http from 'http';
import type { Knex } from 'knex';
import { send, sendJson, type Handler, type ServeContext } from './http';
import { BadQuery, parseMeta, parseQuery, rewriteHeader, search, type Level, type Scope } from './dicomweb-query';
import { drained, frameList, HttpError, instanceFiles, instanceWithMeta, middleInstance, sendBulk, sendFrames, sendInstances, sendRendered } from './dicomweb-files';

export const DICOMWEB_PREFIX = '/dicomweb';
const JSON_TYPE = 'application/dicom+json';

/** The DICOMweb handler: answers every path under /dicomweb (404 for what it does not know). */
export const dicomwebHandler: Handler = async (req, res, url, ctx) => {
  if (url.pathname !== DICOMWEB_PREFIX && !url.pathname.startsWith(`${DICOMWEB_PREFIX}/`)) return false;
  try {
    await route(req, res, url, ctx);
  } catch (err) {
    if (err instanceof HttpError || err instanceof BadQuery) {
      const status = err instanceof HttpError ? err.status : 400;
      if (res.headersSent) res.destroy();
      else send(res, status, 'text/plain; charset=utf-8', `${err.message}\n`);
      return true;
    }
    throw err;
  }
  return true;
};

/** The URL's path segments after /dicomweb, percent-decoded; null when one cannot be decoded. */
function segments(pathname: string): string[] | null {
  const raw = pathname.slice(DICOMWEB_PREFIX.length).split('/').filter((s) => s !== '');
  try {
    return raw.map((s) => decodeURIComponent(s));
  } catch {
    return null;
  }
}

/** The DICOMweb root as the client reached it (RetrieveURL, BulkDataURI). */
function rootUrl(req: http.IncomingMessage, ctx: ServeContext): string {
  const host = req.headers.host;
  const origin = host && /^[A-Za-z0-9.\-:[\]]+$/.test(host) ? `http://${host}` : ctx.baseUrl;
  return `${origin}${DICOMWEB_PREFIX}`;
}

async function route(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ctx: ServeContext): Promise<void> {
  const parts = segments(url.pathname);
  if (!parts || parts.length === 0) throw new HttpError(404, 'Not a DICOMweb resource; searches start at /dicomweb/studies');
  const db = ctx.db;
  const base = rootUrl(req, ctx);
  const [top, study, second, series, third, sop, fourth, ...rest] = parts;

  // Root searches.
  if (parts.length === 1) {
    if (top === 'studies') return qido(req, res, url, ctx, 'study', {}, base);
    if (top === 'series') return qido(req, res, url, ctx, 'series', {}, base);
    if (top === 'instances') return qido(req, res, url, ctx, 'instance', {}, base);
    throw new HttpError(404, `Unknown DICOMweb resource /${top}`);
  }
  if (top !== 'studies') throw new HttpError(404, `Unknown DICOMweb resource /${top}`);
  await requireStudy(db, study);

  if (parts.length === 2) return sendInstances(req, res, await instanceFiles(db, { study }), ctx.outDir, false);
  if (parts.length === 3) {
    if (second === 'metadata') return sendMetadata(res, db, { study }, base);
    if (second === 'series') return qido(req, res, url, ctx, 'series', { study }, base);
    if (second === 'instances') return qido(req, res, url, ctx, 'instance', { study }, base);
    throw new HttpError(404, `Unknown study resource /${second}`);
  }
  if (second !== 'series') throw new HttpError(404, `Unknown study resource /${second}`);
  await requireSeries(db, study, series);

  if (parts.length === 4) return sendInstances(req, res, await instanceFiles(db, { study, series }), ctx.outDir, false);
  if (parts.length === 5) {
    if (third === 'metadata') return sendMetadata(res, db, { study, series }, base);
    if (third === 'instances') return qido(req, res, url, ctx, 'instance', { study, series }, base);
    if (third === 'rendered' || third === 'thumbnail') {
      const middle = await middleInstance(db, study, series);
      if (!middle) throw new HttpError(404, 'No such series');
      return sendRendered(req, res, middle, ctx.outDir, url, third === 'thumbnail');
    }
    throw new HttpError(404, `Unknown series resource /${third}`);
  }
  if (third !== 'instances') throw new HttpError(404, `Unknown series resource /${third}`);
  const row = await instanceWithMeta(db, study, series, sop);
  if (!row) throw new HttpError(404, `No instance ${sop} in series ${series} of study ${study}`);

  if (parts.length === 6) return sendInstances(req, res, [row], ctx.outDir, true);
  if (parts.length === 7) {
    if (fourth === 'metadata') return sendMetadata(res, db, { study, series, sop }, base);
    if (fourth === 'rendered' || fourth === 'thumbnail') return sendRendered(req, res, row, ctx.outDir, url, fourth === 'thumbnail');
    throw new HttpError(404, `Unknown instance resource /${fourth}`);
  }
  if (fourth === 'frames' && (rest.length === 1 || (rest.length === 2 && rest[1] === 'rendered'))) {
    const frames = frameList(rest[0]);
    if (rest.length === 2) {
      if (frames.length !== 1) throw new HttpError(400, 'A rendered frame is one frame number');
      return sendRendered(req, res, row, ctx.outDir, url, false, frames[0]);
    }
    return sendFrames(req, res, row, ctx.outDir, frames);
  }
  if (fourth === 'bulk' && rest.length === 2) return sendBulk(req, res, row, ctx.outDir, rest[0], rest[1]);
  throw new HttpError(404, 'Unknown instance resource');
}

async function requireStudy(db: Knex, study: string): Promise<void> {
  const hit = await db('dicom_metadata').where('study_instance_uid', study).first('study_instance_uid');
  if (!hit) throw new HttpError(404, `No study ${study} in the catalog`);
}

async function requireSeries(db: Knex, study: string, series: string): Promise<void> {
  const hit = await db('dicom_metadata').where({ study_instance_uid: study, series_instance_uid: series }).first('series_instance_uid');
  if (!hit) throw new HttpError(404, `No series ${series} in study ${study} of the catalog`);
}

function acceptsJson(accept: string | undefined): boolean {
  if (!accept || !accept.trim()) return true;
  return accept
    .split(',')
    .map((r) => r.split(';')[0].trim().toLowerCase())
    .some((t) => t === '*/*' || t === 'application/*' || t === JSON_TYPE || t === 'application/json');
}

async function qido(req: http.IncomingMessage, res: http.ServerResponse, url: URL, ctx: ServeContext, level: Level, scope: Scope, base: string): Promise<void> {
  if (!acceptsJson(req.headers.accept)) throw new HttpError(406, `Searches answer ${JSON_TYPE}`);
  const query = parseQuery(url.searchParams, level);
  const { rows, more } = await search(ctx.db, ctx.dialect, query, scope, base);
  const warnings: string[] = [];
  // (a header value: printable ASCII only, and short)
  const named = query.ignored.join(', ').replace(/[^\x20-\x7e]|"/g, '?').slice(0, 300);
  if (query.ignored.length) warnings.push(`299 dicomflow "The following query parameters are not supported and were ignored: ${named}"`);
  if (more) warnings.push('299 dicomflow "The number of results exceeded the limit of this answer. Additional results can be requested with offset."');
  for (const w of warnings) res.appendHeader('warning', w);
  sendJson(res, rows, JSON_TYPE);
}

const METADATA_PAGE = 500;

/** The headers of a study, a series or an instance as a JSON array, streamed page by page in slice order. */
async function sendMetadata(res: http.ServerResponse, db: Knex, where: { study: string; series?: string; sop?: string }, base: string): Promise<void> {
  res.writeHead(200, { 'content-type': JSON_TYPE, 'cache-control': 'no-store' });
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  res.write('[');
  let first = true;
  for (let offset = 0; ; offset += METADATA_PAGE) {
    const q = db('dicom_metadata').where('study_instance_uid', where.study);
    if (where.series !== undefined) q.where('series_instance_uid', where.series);
    if (where.sop !== undefined) q.where('sop_instance_uid', where.sop);
    const rows = (await q
      .select('sop_instance_uid', 'series_instance_uid', 'meta')
      .orderBy(['series_instance_uid', 'instance_number', 'sop_instance_uid'])
      .limit(METADATA_PAGE)
      .offset(offset)) as { sop_instance_uid: string; series_instance_uid: string; meta: unknown }[];
    for (const r of rows) {
      const instanceUrl = `${base}/studies/${encodeURIComponent(where.study)}/series/${encodeURIComponent(r.series_instance_uid)}/instances/${encodeURIComponent(r.sop_instance_uid)}`;
      const text = JSON.stringify(rewriteHeader(parseMeta(r.meta), instanceUrl));
      if (!res.write(first ? text : `,${text}`)) await drained(res);
      first = false;
    }
    if (rows.length < METADATA_PAGE) break;
  }
  res.end(']');
}
