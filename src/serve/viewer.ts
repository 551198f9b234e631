/**
 * The OHIF viewer under /viewer: the built app from dicomflow's cache (src/serve/ohif.ts), with an app-config.js
 * made here for this server's DICOMweb (/dicomweb). OHIF's dist/ is built for the site root ('/'): its public path
 * is moved to /viewer/ as the files are served (index.html's links and window.PUBLIC_URL, the webpack public path of
 * its bundles, the stylesheet's font URL, the web app manifests' icons); the files on disk stay as the package has them. Files are served from a
 * listing of dist/ made once (a URL path is looked up in it, never joined into a file path); any other path under
 * /viewer/ is one of the app's own routes and gets index.html.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as http from 'http';
import { escapeHtml, notFound, send, type Handler, type ServeContext } from './http';
import { findOhif, OHIF_PACKAGE, OHIF_VERSION } from './ohif';

export const VIEWER_BASE = '/viewer';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.jsonc': 'application/json',
  '.webapp': 'application/x-web-app-manifest+json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
};

/** What webpack put in every OHIF bundle (the entry and each worker) as its public path. */
const PUBLIC_PATH = '__webpack_require__.p = "/"';

interface Dist {
  dir: string;
  /** '/'-separated path under dist/ → the file. */
  files: Map<string, string>;
  /** Files whose text is rewritten for /viewer/, rewritten once (a fixed set: the bundles that name a public path). */
  rewritten: Map<string, Buffer>;
}

let dist: Dist | null = null;

function listDist(dir: string): Dist {
  const files = new Map<string, string>();
  const walk = (sub: string) => {
    for (const d of fs.readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      const rel = sub ? `${sub}/${d.name}` : d.name;
      if (d.isDirectory()) walk(rel);
      else if (d.isFile()) files.set(rel, path.join(dir, rel));
    }
  };
  walk('');
  return { dir, files, rewritten: new Map() };
}

function loadDist(): Dist | null {
  const dir = findOhif();
  if (!dir) return (dist = null);
  if (!dist || dist.dir !== dir) dist = listDist(dir);
  return dist;
}

/** index.html for /viewer/: its absolute links and window.PUBLIC_URL under /viewer/. */
export function rewriteIndex(html: string): string {
  return html
    .replace(/window\.PUBLIC_URL\s*=\s*"\/"/g, `window.PUBLIC_URL="${VIEWER_BASE}/"`)
    .replace(/(\s(?:href|src))="\/(?!\/)/g, `$1="${VIEWER_BASE}/`);
}

/** The web app manifests, whose icons and start URL are absolute paths. */
const MANIFESTS = new Set(['manifest.json', 'assets/manifest.webapp', 'assets/browserconfig.xml', 'assets/yandex-browser-manifest.json']);

function rewrite(rel: string, bytes: Buffer): Buffer {
  if (rel === 'index.html') return Buffer.from(rewriteIndex(bytes.toString('utf8')), 'utf8');
  if (MANIFESTS.has(rel)) return Buffer.from(bytes.toString('utf8').replace(/"\/(?!\/)/g, `"${VIEWER_BASE}/`), 'utf8');
  if (rel.endsWith('.css')) return Buffer.from(bytes.toString('utf8').replace(/url\(\/(?!\/)/g, `url(${VIEWER_BASE}/`), 'utf8');
  if (rel.endsWith('.js') && bytes.includes(PUBLIC_PATH)) {
    return Buffer.from(bytes.toString('utf8').split(PUBLIC_PATH).join(`__webpack_require__.p = "${VIEWER_BASE}/"`), 'utf8');
  }
  return bytes;
}

/** The host this request reached us at (for the viewer's absolute DICOMweb URLs), else the configured base URL. */
function origin(req: http.IncomingMessage, ctx: ServeContext): string {
  const base = new URL(ctx.baseUrl);
  const host = req.headers.host;
  return host && /^[A-Za-z0-9.\-[\]:]+$/.test(host) ? `${base.protocol}//${host}` : base.origin;
}

/** OHIF's window.config for this server: one DICOMweb data source, the catalog's. */
export function appConfig(dicomwebRoot: string): string {
  const config = {
    name: 'dicomflow',
    routerBasename: VIEWER_BASE,
    extensions: [],
    modes: [],
    customizationService: {},
    showStudyList: true,
    maxNumberOfWebWorkers: 3,
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: true,
    showLoadingIndicator: true,
    strictZSpacingForVolumeViewport: true,
    groupEnabledModesFirst: true,
    maxNumRequests: { interaction: 100, thumbnail: 5, prefetch: 25 },
    showErrorDetails: 'always',
    defaultDataSourceName: 'dicomflow',
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: 'dicomflow',
        configuration: {
          friendlyName: 'dicomflow catalog',
          name: 'dicomflow',
          wadoUriRoot: dicomwebRoot,
          qidoRoot: dicomwebRoot,
          wadoRoot: dicomwebRoot,
          qidoSupportsIncludeField: false,
          supportsReject: false,
          dicomUploadEnabled: false,
          imageRendering: 'wadors',
          thumbnailRendering: 'wadors',
          enableStudyLazyLoad: true,
          supportsFuzzyMatching: false,
          supportsWildcard: true,
          staticWado: false,
          singlepart: 'bulkdata,video',
          bulkDataURI: { enabled: true, relativeResolution: 'studies' },
          omitQuotationForMultipartRequest: true,
        },
      },
    ],
  };
  return `/** Made by dicomflow serve for its DICOMweb at ${dicomwebRoot}. */\nwindow.config = ${JSON.stringify(config, null, 2)};\n`;
}

function missingPage(): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Viewer not installed · dicomflow</title>
<link rel="stylesheet" href="/static/browser.css"></head><body><main>
<h1>The OHIF viewer is not installed</h1>
<p>The viewer (${escapeHtml(OHIF_PACKAGE)}@${escapeHtml(OHIF_VERSION)}, a 50 MB download, once) is fetched into dicomflow's cache by</p>
<pre>npx dicomflow setup</pre>
<p>Run it, then reload this page (no restart needed). The <a href="/">study browser</a> works without it.</p>
</main></body></html>`;
}

export const viewerHandler: Handler = async (req, res, url, ctx) => {
  if (url.pathname !== VIEWER_BASE && !url.pathname.startsWith(`${VIEWER_BASE}/`)) return false;
  if (url.pathname === VIEWER_BASE) {
    res.writeHead(301, { location: `${VIEWER_BASE}/${url.search}` });
    res.end();
    return true;
  }
  const d = loadDist();
  if (!d) {
    send(res, 503, 'text/html; charset=utf-8', missingPage());
    return true;
  }
  let rel: string;
  try {
    rel = decodeURIComponent(url.pathname.slice(VIEWER_BASE.length + 1));
  } catch {
    return (notFound(res), true);
  }
  if (rel === 'app-config.js') {
    send(res, 200, TYPES['.js'], appConfig(`${origin(req, ctx)}/dicomweb`));
    return true;
  }
  let file = d.files.get(rel);
  if (!file) {
    // A file the app asks for that dist/ lacks is a 404; any other path is one of the app's routes (/viewer/viewer?…).
    if (/\.(js|mjs|css|wasm|png|svg|ico|woff2?|json|jsonc|map|xml|txt|webapp)$/i.test(rel)) return (notFound(res), true);
    rel = 'index.html';
    file = d.files.get(rel);
    if (!file) return (notFound(res), true);
  }
  const type = TYPES[path.extname(rel).toLowerCase()] ?? 'application/octet-stream';
  const rewritable = rel === 'index.html' || MANIFESTS.has(rel) || rel.endsWith('.css') || rel.endsWith('.js');
  let body: Buffer;
  if (rewritable) {
    let cached = d.rewritten.get(rel);
    if (!cached) {
      cached = rewrite(rel, await fs.promises.readFile(file));
      // Only the files that change are kept (a fixed set: index.html, the stylesheets and the bundles naming a public path).
      if (rel === 'index.html' || MANIFESTS.has(rel) || rel.endsWith('.css') || cached.includes(`__webpack_require__.p = "${VIEWER_BASE}/"`)) d.rewritten.set(rel, cached);
    }
    body = cached;
  } else body = await fs.promises.readFile(file);
  // Bundles carry a content hash in their names: cacheable; index.html never is.
  const hashed = /\.[0-9a-f]{16}\.(js|css)$|^[0-9a-f]{16}\.(wasm|woff2)$/.test(rel);
  res.writeHead(200, { 'content-type': type, 'content-length': String(body.length), 'cache-control': hashed ? 'private, max-age=86400' : 'no-cache' });
  res.end(req.method === 'HEAD' ? undefined : body);
  return true;
};
