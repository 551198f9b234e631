/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The OHIF viewer under /viewer over a real `synth --broken` ingest, in headless Chromium: the study browser's
 * "Open in OHIF" link opens the CT study, the viewer fetches it through our DICOMweb and draws a slice (a canvas with
 * varying pixels), with no console error. Needs the viewer in dicomflow's cache (`dicomflow setup`, which `npm test`
 * runs first) and the DICOMweb handler of `serve`.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Knex } from 'knex';
import type { Browser, Page } from 'puppeteer-core';
import { viewerHandler, rewriteIndex } from '../../src/serve/viewer';
import { findOhif } from '../../src/serve/ohif';
import { serveHandlers } from '../../src/serve/handlers';
import { CHROMIUM, isCi, requireTool } from '../helpers/tools';
import { get, ingestSynth, launchChromium, screenshotPath, serve, watchPage, type Ingested, type Served } from '../helpers/serve-ui';

jest.setTimeout(300_000);

const chromium = requireTool(CHROMIUM);

const ohif = findOhif();
const runs = chromium.runs && (ohif !== null || isCi());
if (chromium.runs && !runs) process.stderr.write('skipped: the OHIF viewer is not in the cache (npx dicomflow setup) - tests of test/serve/viewer.e2e.test.ts\n');
const viewerTest = runs ? test : test.skip;

let data: Ingested;
let server: Served;
let browser: Browser;

beforeAll(async () => {
  if (!runs) return;
  if (!ohif) throw new Error('the OHIF viewer is not in the cache: run `npx dicomflow setup` (npm test does)');
  data = await ingestSynth({ patients: 2, slices: 16, size: 256 });
  server = await serve(data.db, data.dir, serveHandlers);
  browser = await launchChromium(chromium.path());
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await data?.cleanup();
});

test('index.html is rewritten for /viewer/: its links and PUBLIC_URL', () => {
  const html = '<script>window.PUBLIC_URL="/"</script><link href="/app.bundle.css"><script src="/app-config.js"></script><a href="//cdn/x">';
  expect(rewriteIndex(html)).toBe('<script>window.PUBLIC_URL="/viewer/"</script><link href="/viewer/app.bundle.css"><script src="/viewer/app-config.js"></script><a href="//cdn/x">');
});

test('without the viewer in the cache, /viewer says how to get it; the rest of the site works', async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-no-ohif-'));
  const saved = process.env.DICOMFLOW_CACHE;
  process.env.DICOMFLOW_CACHE = cache;
  const site = await serve({} as Knex, cache, [viewerHandler]);
  try {
    for (const url of ['/viewer/', '/viewer/viewer?StudyInstanceUIDs=1.2.3']) {
      const r = await get(`${site.base}${url}`);
      expect([r.status, r.type]).toEqual([503, 'text/html; charset=utf-8']);
      expect(r.body.toString()).toContain('npx dicomflow setup');
    }
    const redirect = await get(`${site.base}/viewer`);
    expect(redirect.status).toBe(301);
    expect((await get(`${site.base}/other`)).status).toBe(404); // not the viewer's: the next handler's (none here)
  } finally {
    await site.close();
    if (saved === undefined) delete process.env.DICOMFLOW_CACHE;
    else process.env.DICOMFLOW_CACHE = saved;
    fs.rmSync(cache, { recursive: true, force: true });
  }
});

viewerTest('the viewer is served under /viewer with a config for our DICOMweb; unknown routes get the app', async () => {
  const config = await get(`${server.base}/viewer/app-config.js`);
  expect(config.status).toBe(200);
  const text = config.body.toString();
  for (const key of ['qidoRoot', 'wadoRoot', 'wadoUriRoot']) expect(text).toContain(`"${key}": "${server.base}/dicomweb"`);
  expect(text).toContain('"routerBasename": "/viewer"');
  const index = await get(`${server.base}/viewer/viewer?StudyInstanceUIDs=1.2.3`);
  expect(index.status).toBe(200);
  expect(index.body.toString()).toContain('window.PUBLIC_URL="/viewer/"');
  expect(index.body.toString()).not.toMatch(/(src|href)="\/(?!viewer\/|\/)/);
  const bundle = index.body.toString().match(/src="(\/viewer\/app\.bundle\.[0-9a-f]+\.js)"/)![1];
  const js = await get(`${server.base}${bundle}`);
  expect(js.status).toBe(200);
  expect(js.body.toString()).toContain('__webpack_require__.p = "/viewer/"');
  const manifest = (await get(`${server.base}/viewer/manifest.json`)).body.toString();
  expect(manifest).toContain('"/viewer/assets/');
  expect(manifest).not.toMatch(/"\/(?!viewer\/)/);
  const css = (await get(`${server.base}/viewer/app.bundle.css`)).body.toString();
  expect(css).not.toMatch(/url\(\/(?!viewer\/)/);
  expect((await get(`${server.base}/viewer/no-such-chunk.bundle.js`)).status).toBe(404);
  expect((await get(`${server.base}/viewer/..%2F..%2Fpackage.json`)).status).toBe(404);
  expect(fs.existsSync(ohif!)).toBe(true);
});

/** Pixel statistics of the largest viewport canvas: distinct gray levels and the share of non-black pixels. */
async function canvasStats(page: Page): Promise<{ width: number; height: number; levels: number; lit: number } | null> {
  const shot = await page.evaluate(() => {
    const canvases = [...document.querySelectorAll<HTMLCanvasElement>('canvas.cornerstone-canvas, .viewport-element canvas')];
    const c = canvases.sort((a, b) => b.width * b.height - a.width * a.height)[0];
    if (!c || c.width === 0) return null;
    const r = c.getBoundingClientRect();
    return { x: r.x, y: r.y, width: r.width, height: r.height };
  });
  if (!shot || shot.width < 10) return null;
  // A screenshot of the canvas's area: what the user sees, whatever context (2D or WebGL) drew it.
  const png = (await page.screenshot({ type: 'png', clip: shot, encoding: 'base64' })) as string;
  return page.evaluate(async (b64) => {
    const img = new Image();
    img.src = `data:image/png;base64,${b64}`;
    await img.decode();
    const c = document.createElement('canvas');
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext('2d')!;
    g.drawImage(img, 0, 0);
    const d = g.getImageData(0, 0, c.width, c.height).data;
    const levels = new Set<number>();
    let lit = 0;
    for (let k = 0; k < d.length; k += 4) {
      const v = (d[k] + d[k + 1] + d[k + 2]) / 3;
      levels.add(Math.round(v));
      if (v > 16) lit++;
    }
    return { width: c.width, height: c.height, levels: levels.size, lit: lit / (d.length / 4) };
  }, png);
}

viewerTest('the study browser opens a CT study in OHIF, which draws a slice with no console error', async () => {
  const page = await browser.newPage();
  const problems = watchPage(page);
  const ct = await data.db('dicom_metadata').where({ modality: 'CT' }).first('study_instance_uid');
  await page.goto(`${server.base}/studies/${encodeURIComponent(ct.study_instance_uid)}`, { waitUntil: 'load' });
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a.ohif')]);
  expect(page.url()).toBe(`${server.base}/viewer/viewer?StudyInstanceUIDs=${encodeURIComponent(ct.study_instance_uid)}`);

  // Wait until a viewport shows an image: many gray levels, a good part of it not black.
  let stats: Awaited<ReturnType<typeof canvasStats>> = null;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    stats = await canvasStats(page).catch(() => null);
    if (stats && stats.levels > 32 && stats.lit > 0.05) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  // For the screenshot: close OHIF's first-visit tour and its investigational-use notice, as a user would.
  for (const label of ['Skip all', 'Confirm and hide']) {
    await page.evaluate((text) => {
      const button = [...document.querySelectorAll<HTMLElement>('button, a, span, div')].find((el) => el.childElementCount === 0 && el.textContent?.trim() === text);
      (button?.closest('button') ?? button)?.click();
    }, label);
  }
  await new Promise((r) => setTimeout(r, 1500)); // let the first render settle before the screenshot
  fs.writeFileSync(screenshotPath('ohif-viewer.png', data.tmp), await page.screenshot({ type: 'png' }));
  expect(stats).not.toBeNull();
  expect(stats!.levels).toBeGreaterThan(32);
  expect(stats!.lit).toBeGreaterThan(0.05);
  expect(problems).toEqual([]);
  await page.close();
});
