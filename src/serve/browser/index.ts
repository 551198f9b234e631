/**
 * The study browser of `dicomflow serve`: server-rendered pages over the catalog (runs, patients → studies → series
 * → instances, validation problems, search), thumbnails drawn from the organized files, each run's report files,
 * and its stylesheet. URL parts are catalog keys only: looked up, never joined into a file path.
 */
import * as fs from 'fs';
import * as path from 'path';
import { notFound, send, sendHtml, sendJson, type Handler } from '../http';
import { pageOf } from './html';
import * as pages from './pages';
import * as q from './queries';
import { instancePng, THUMBNAIL_SIZES } from './images';
import { REPORT_TYPES, reportFile, reportsDir } from './runs';

/** The repository's web/ folder (this file is src/serve/browser/ or dist/serve/browser/). */
export const WEB_DIR = path.join(__dirname, '..', '..', '..', 'web');

/** Static files by URL: a fixed list, nothing else under /static is served. */
const STATIC: Record<string, { file: string; type: string }> = {
  '/static/browser.css': { file: 'browser.css', type: 'text/css; charset=utf-8' },
};
const staticCache = new Map<string, Buffer>();

function segments(pathname: string): string[] | null {
  try {
    return pathname.split('/').slice(1).map(decodeURIComponent);
  } catch {
    return null; // malformed %-escape
  }
}

export const browserHandler: Handler = async (req, res, url, ctx) => {
  const parts = segments(url.pathname);
  if (!parts) return false;
  const [area, key, sub, ...rest] = parts;
  const page = pageOf(url);
  const html = (text: string | null, what: string) => (text === null ? notFound(res, `No ${what} in the catalog`) : sendHtml(res, text));

  if (url.pathname === '/') return (sendHtml(res, await pages.homePage(ctx)), true);

  if (area === 'static') {
    const s = STATIC[url.pathname];
    if (!s) return (notFound(res), true);
    let body = staticCache.get(s.file);
    if (!body) staticCache.set(s.file, (body = fs.readFileSync(path.join(WEB_DIR, s.file))));
    send(res, 200, s.type, body);
    return true;
  }

  if (area === 'runs') {
    if (!key) return (sendHtml(res, await pages.runsListPage(ctx, url, page)), true);
    if (sub === undefined) return (html(await pages.runPage(ctx, url, key, page), 'run'), true);
    if (sub === 'report') {
      // Only a run of the catalog, only a file its reports folder lists.
      const dir = (await q.run(ctx, key)) ? reportsDir(ctx.outDir, key) : null;
      if (!dir) return (notFound(res, 'No report for this run'), true);
      if (rest.length === 0 || (rest.length === 1 && rest[0] === '')) {
        res.writeHead(302, { location: `/runs/${encodeURIComponent(key)}/report/report.html` });
        res.end();
        return true;
      }
      const file = reportFile(dir, rest);
      const type = file ? REPORT_TYPES[path.extname(file).toLowerCase()] : undefined;
      if (!file || !type) return (notFound(res), true);
      send(res, 200, type, await fs.promises.readFile(file));
      return true;
    }
    return (notFound(res), true);
  }

  if (area === 'patients') {
    if (!key) {
      if (url.searchParams.has('missing')) return (html(await pages.patientPage(ctx, url, null, page), 'instance without a PatientID'), true);
      return (sendHtml(res, await pages.patientsPage(ctx, url, page)), true);
    }
    if (sub !== undefined) return (notFound(res), true);
    return (html(await pages.patientPage(ctx, url, key, page), 'patient with this PatientID'), true);
  }

  if (area === 'studies' && key) {
    if (sub !== undefined) return (notFound(res), true);
    return (html(await pages.studyPage(ctx, url, key, page), 'study with this Study Instance UID'), true);
  }

  if (area === 'series' && key) {
    if (sub === undefined) return (html(await pages.seriesPage(ctx, url, key, page), 'series with this Series Instance UID'), true);
    if (sub === 'thumbnail.png' && rest.length === 0) {
      const sop = await q.middleInstance(ctx, key);
      return (await png(sop, 128), true);
    }
    return (notFound(res), true);
  }

  if (area === 'instances' && key) {
    if (sub === undefined) return (html(await pages.instancePage(ctx, key), 'instance with this SOP Instance UID'), true);
    if (sub === 'thumbnail.png' && rest.length === 0) {
      const size = Number(url.searchParams.get('size') ?? 128);
      if (!(THUMBNAIL_SIZES as readonly number[]).includes(size)) return (notFound(res, `Thumbnail sizes: ${THUMBNAIL_SIZES.join(', ')}`), true);
      return (await png(key, size), true);
    }
    if (sub === 'meta.json' && rest.length === 0) {
      const i = await q.instance(ctx, key);
      if (!i) return (notFound(res, 'No instance with this SOP Instance UID in the catalog'), true);
      sendJson(res, i.meta, 'application/dicom+json');
      return true;
    }
    return (notFound(res), true);
  }

  if (area === 'search' && key === undefined) return (sendHtml(res, await pages.searchPage(ctx, url, page)), true);
  if (area === 'problems' && key === undefined) return (sendHtml(res, await pages.problemsPage(ctx, url, page)), true);
  return false;

  async function png(sop: string | null, size: number): Promise<void> {
    const bytes = sop ? await instancePng(ctx, sop, size) : null;
    if (!bytes) return notFound(res, 'No thumbnail: not in the catalog, no organized file, or pixels this server does not draw');
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(bytes.length), 'cache-control': 'private, max-age=300' });
    res.end(req.method === 'HEAD' ? undefined : bytes);
  }
};
