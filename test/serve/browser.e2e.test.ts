/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The study browser of `dicomflow serve` in headless Chromium, over a real `synth --broken` ingest: patients →
 * study → series → instance by clicking links, every count checked against the catalog (SQL here), thumbnails that
 * are real PNGs drawn from the organized files, the run's problems with their codes, the search, and keys that are
 * not the catalog's (or try to leave a folder) answered 404.
 */
import * as fs from 'fs';
import type { Browser, Page } from 'puppeteer-core';
import { browserHandler } from '../../src/serve/browser';
import { CHROMIUM, requireTool } from '../helpers/tools';
import { get, ingestSynth, launchChromium, pngSize, screenshotPath, serve, watchPage, type Ingested, type Served } from '../helpers/serve-ui';

jest.setTimeout(300_000);

const chromium = requireTool(CHROMIUM);

let data: Ingested;
let server: Served;
let browser: Browser;
let page: Page;
let problems: string[];

const int = (text: string | null | undefined) => Number(String(text ?? '').replace(/,/g, ''));

beforeAll(async () => {
  if (!chromium.runs) return;
  data = await ingestSynth({ patients: 3, slices: 24, size: 256 });
  server = await serve(data.db, data.dir, [browserHandler], { temporalUiUrl: 'http://127.0.0.1:9/ui' });
  browser = await launchChromium(chromium.path());
  page = await browser.newPage();
  problems = watchPage(page);
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await data?.cleanup();
});

async function click(selector: string): Promise<void> {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click(selector)]);
}

/** Waits until every <img> matching `selector` finished loading; returns their natural widths. */
async function imageWidths(selector: string): Promise<number[]> {
  await page.waitForFunction((s) => [...document.querySelectorAll<HTMLImageElement>(s)].every((i) => i.complete), {}, selector);
  return page.$$eval(selector, (imgs) => (imgs as HTMLImageElement[]).map((i) => i.naturalWidth));
}

chromium.test('patients → study → series → instance, counts as in the catalog, thumbnails are PNGs', async () => {
  const db = data.db;
  // Patients: one row each, with their studies, series and instances.
  await page.goto(`${server.base}/patients`, { waitUntil: 'load' });
  const shown = await page.$$eval('table.patients tbody tr', (rows) =>
    rows.map((r) => ({
      id: r.querySelector('.patient-link')!.textContent,
      studies: r.querySelector('.n-studies')!.textContent,
      series: r.querySelector('.n-series')!.textContent,
      instances: r.querySelector('.n-instances')!.textContent,
    })),
  );
  type Counts = { patient_id: string | null; study_instance_uid: string; studies: number; series: number; instances: number };
  const patients: Counts[] = await db.raw(
    `SELECT patient_id, COUNT(DISTINCT study_instance_uid) AS studies, COUNT(DISTINCT series_instance_uid) AS series, COUNT(*) AS instances
     FROM dicom_metadata GROUP BY patient_id ORDER BY patient_id`,
  );
  expect(shown.map((s) => [s.id, int(s.studies), int(s.series), int(s.instances)])).toEqual(
    patients.map((p) => [p.patient_id ?? '(no PatientID)', Number(p.studies), Number(p.series), Number(p.instances)]),
  );
  expect(patients.length).toBeGreaterThanOrEqual(3);

  // The patient with the most instances → its studies.
  const top = [...patients].sort((a, b) => Number(b.instances) - Number(a.instances))[0];
  await click(`table.patients tbody tr:nth-child(${patients.indexOf(top) + 1}) .patient-link`);
  expect(decodeURIComponent(new URL(page.url()).pathname)).toBe(`/patients/${top.patient_id}`);
  const studies = await page.$$eval('table.studies tbody tr', (rows) =>
    rows.map((r) => ({ uid: r.querySelector('.study-link')!.textContent!, series: r.querySelector('.n-series')!.textContent, instances: r.querySelector('.n-instances')!.textContent })),
  );
  const studyCounts: Counts[] = await db.raw(
    `SELECT study_instance_uid, COUNT(DISTINCT series_instance_uid) AS series, COUNT(*) AS instances
     FROM dicom_metadata WHERE patient_id = ? GROUP BY study_instance_uid`,
    [top.patient_id],
  );
  expect(studies.map((s) => [s.uid, int(s.series), int(s.instances)]).sort()).toEqual(
    studyCounts.map((s) => [s.study_instance_uid, Number(s.series), Number(s.instances)]).sort(),
  );
  // Each study opens in OHIF.
  const viewerLinks = await page.$$eval('table.studies a.ohif', (as) => as.map((a) => (a as HTMLAnchorElement).getAttribute('href')));
  expect(viewerLinks).toEqual(studies.map((s) => `/viewer/viewer?StudyInstanceUIDs=${encodeURIComponent(s.uid)}`));

  // The study with a CT series → its series, slice counts and thickness ranges, a thumbnail each.
  const ctStudy = await db('dicom_metadata').where({ patient_id: top.patient_id, modality: 'CT' }).first('study_instance_uid');
  await click(`table.studies tbody tr:nth-child(${studies.findIndex((s) => s.uid === ctStudy.study_instance_uid) + 1}) .study-link`);
  const series = await page.$$eval('table.series tbody tr', (rows) =>
    rows.map((r) => ({ uid: r.querySelector('.series-link')!.textContent!, slices: r.querySelector('.n-slices')!.textContent, cells: [...r.querySelectorAll('td')].map((td) => td.textContent) })),
  );
  const seriesCounts = await db('series_summary').where({ study_instance_uid: ctStudy.study_instance_uid });
  expect(series.map((s) => [s.uid, int(s.slices)]).sort()).toEqual(seriesCounts.map((s) => [s.series_instance_uid, Number(s.slice_count)]).sort());
  for (const s of seriesCounts) {
    const row = series.find((x) => x.uid === s.series_instance_uid)!;
    const lo = s.min_slice_thickness;
    if (lo !== null) expect(row.cells[6]).toContain(String(+Number(lo).toFixed(3)));
  }
  const widths = await imageWidths('table.series img.thumb');
  const ctSeries = seriesCounts.filter((s) => s.modality === 'CT');
  expect(ctSeries.length).toBeGreaterThan(0);
  for (const s of ctSeries) expect(widths[series.findIndex((x) => x.uid === s.series_instance_uid)]).toBeGreaterThan(0);

  // A thumbnail's bytes are a PNG of at most 128 px, drawn from the organized file.
  const thumbSrc = await page.$eval('table.series img.thumb', (i) => (i as HTMLImageElement).src);
  const thumb = await get(thumbSrc);
  expect(thumb.status).toBe(200);
  expect(thumb.type).toBe('image/png');
  const size = pngSize(thumb.body);
  expect(Math.max(size.width, size.height)).toBeLessThanOrEqual(128);
  expect(size.width).toBeGreaterThan(0);

  // The CT series with the most slices → its page: slice count, strip of thumbnails, files.
  const big = [...ctSeries].sort((a, b) => Number(b.slice_count) - Number(a.slice_count))[0];
  await click(`table.series tbody tr:nth-child(${series.findIndex((x) => x.uid === big.series_instance_uid) + 1}) .series-link`);
  expect(int(await page.$eval('#slice-count', (el) => el.textContent))).toBe(Number(big.slice_count));
  const strip = await imageWidths('.strip img');
  expect(strip.length).toBe(Math.min(12, Number(big.slice_count)));
  for (const w of strip) expect(w).toBeGreaterThan(0);
  const files = await page.$$eval('table.files .instance-link', (as) => as.map((a) => a.textContent!));
  const firstFiles = await db('dicom_metadata').where({ series_instance_uid: big.series_instance_uid }).orderByRaw('CASE WHEN instance_number IS NULL THEN 1 ELSE 0 END, instance_number, sop_instance_uid').limit(50).pluck('sop_instance_uid');
  expect(files).toEqual(firstFiles);
  const pageText = await page.$eval('main', (m) => m.textContent!);
  expect(pageText).toMatch(/Slice spacing/);
  fs.writeFileSync(screenshotPath('browser-series.png', data.tmp), await page.screenshot({ type: 'png' }));

  // The first instance: its whole header from `meta`, readable.
  await click('table.files tbody tr:first-child .instance-link');
  const sop = firstFiles[0];
  const header = await page.$$eval('#header tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
  const row = (keyword: string) => header.find((r) => r[0] === keyword);
  expect(row('SOPInstanceUID')).toEqual(['SOPInstanceUID', '(0008,0018)', 'UI', sop]);
  expect(row('PatientID')?.[3]).toBe(top.patient_id);
  const metaRow = await db('dicom_metadata').where({ sop_instance_uid: sop }).first('meta');
  const meta = JSON.parse(metaRow.meta);
  expect(header.filter((r) => r.length === 4 && /^\(\w{4},\w{4}\)$/.test(r[1] ?? '')).length).toBeGreaterThanOrEqual(Object.keys(meta).length);
  expect(await imageWidths('img.preview')).toEqual([expect.any(Number)]);
  expect((await imageWidths('img.preview'))[0]).toBeGreaterThan(128);

  expect(problems).toEqual([]);
});

chromium.test('a run: its problems by code as in validation_results, its report through the whitelist', async () => {
  const db = data.db;
  const [run] = await db('runs').select('run_id');
  await page.goto(`${server.base}/runs`, { waitUntil: 'load' });
  await click('table.runs tbody tr:first-child td:first-child a');
  expect(decodeURIComponent(new URL(page.url()).pathname)).toBe(`/runs/${run.run_id}`);
  const status = await page.$eval('.status', (el) => el.textContent);
  expect(status).toBe('completed');
  const codes = await page.$$eval('table.codes tbody tr', (rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent!)));
  const want: { status: string; code: string; n: number }[] = await db.raw(
    `SELECT status, code, COUNT(*) AS n FROM validation_results WHERE status <> 'valid' GROUP BY status, code ORDER BY status, code`,
  );
  expect(codes.map(([s, c, n]) => [s, c, int(n)])).toEqual(want.map((w) => [w.status, w.code, Number(w.n)]));
  expect(codes.map((c) => c[1])).toEqual(expect.arrayContaining(['NOT_DICOM', 'TRUNCATED', 'DUPLICATE_INSTANCE', 'REFUSED_UNSAFE_PATH']));
  const temporal = await page.$eval('a.temporal', (a) => (a as HTMLAnchorElement).href);
  expect(temporal).toBe(`http://127.0.0.1:9/ui/namespaces/default/workflows/${encodeURIComponent(run.run_id)}`);

  // One code → the files with it.
  await click('table.codes tbody tr:first-child td:last-child a');
  const listed = await page.$$eval('table.problems tbody tr', (rows) => rows.map((r) => r.querySelectorAll('td')[3].textContent));
  expect(listed.length).toBe(Math.min(50, Number(want[0].n)));
  expect(new Set(listed)).toEqual(new Set([want[0].code]));

  // The report and its files, by name from the run's folder; nothing else.
  const runUrl = `${server.base}/runs/${encodeURIComponent(run.run_id)}`;
  const report = await get(`${runUrl}/report/report.html`);
  expect(report.status).toBe(200);
  expect(report.body.toString()).toContain('<html');
  expect((await get(`${runUrl}/report/validation.csv`)).body.toString()).toMatch(/^path,status,code,message/);
  const thumbName = fs.readdirSync(`${data.dir}/reports/runs`).flatMap((k) => fs.readdirSync(`${data.dir}/reports/runs/${k}/thumbnails`))[0];
  expect(pngSize((await get(`${runUrl}/report/thumbnails/${thumbName}`)).body).width).toBeGreaterThan(0);
  for (const bad of ['..%2F..%2F..%2Fdicom.db', '../../dicom.db', '%2E%2E/%2E%2E/dicom.db', 'thumbnails/..%2F..%2Freport.html', '..', 'nope.html', 'thumbnails']) {
    expect([bad, (await get(`${runUrl}/report/${bad}`)).status]).toEqual([bad, 404]);
  }
  expect((await get(`${server.base}/runs/no-such-run/report/report.html`)).status).toBe(404);
  expect(problems).toEqual([]);
});

chromium.test('search by PatientID (wildcards), modality, date range and text', async () => {
  const db = data.db;
  const uidsOn = async (query: string) => {
    await page.goto(`${server.base}/search?${query}`, { waitUntil: 'load' });
    return (await page.$$eval('table.studies .study-link', (as) => as.map((a) => a.textContent!))).sort();
  };
  const studiesWhere = async (build: (q: ReturnType<typeof db>) => unknown) => {
    const qb = db('dicom_metadata');
    build(qb);
    return ((await qb.distinct('study_instance_uid')) as { study_instance_uid: string }[]).map((r) => r.study_instance_uid).sort();
  };
  const [p] = await db('dicom_metadata').whereNotNull('patient_id').orderBy('patient_id').limit(1).pluck('patient_id');
  expect(await uidsOn(`patient=${encodeURIComponent(p)}`)).toEqual(await studiesWhere((q) => q.where({ patient_id: p })));
  const prefix = p.slice(0, 4);
  expect(await uidsOn(`patient=${encodeURIComponent(`${prefix}*`)}`)).toEqual(await studiesWhere((q) => q.where('patient_id', 'like', `${prefix}%`)));
  expect(await uidsOn('modality=CT')).toEqual(await studiesWhere((q) => q.where({ modality: 'CT' })));
  const dates = (await db('dicom_metadata').whereNotNull('study_date').distinct('study_date').orderBy('study_date')).map((r) => r.study_date as string);
  expect(dates.length).toBeGreaterThan(1);
  const [from, to] = [dates[0], dates[Math.floor((dates.length - 1) / 2)]];
  const ranged = await uidsOn(`from=${from}&to=${to}`);
  expect(ranged).toEqual(await studiesWhere((q) => q.whereBetween('study_date', [from, to])));
  expect(ranged.length).toBeGreaterThan(0);
  const [series] = await db('dicom_metadata').limit(1).pluck('series_instance_uid');
  // Free text: found in a PatientID or a study or series UID (case-insensitive), or a SOP Instance UID.
  const text = series.slice(-6);
  expect(await uidsOn(`q=${encodeURIComponent(text)}`)).toEqual(
    await studiesWhere((q) => q.where((w) => ['patient_id', 'study_instance_uid', 'series_instance_uid'].reduce((acc, c) => acc.orWhere(c, 'like', `%${text}%`), w))),
  );
  const [sop] = await db('dicom_metadata').where({ modality: 'CT' }).limit(1).pluck('sop_instance_uid');
  expect(await uidsOn(`q=${encodeURIComponent(sop)}`)).toContain((await db('dicom_metadata').where({ sop_instance_uid: sop }).first('study_instance_uid')).study_instance_uid);
  expect(await uidsOn(`q=${p.toLowerCase()}`)).toEqual(await studiesWhere((q) => q.where({ patient_id: p })));
  expect(await uidsOn(`q=${encodeURIComponent(series)}`)).toContain((await db('dicom_metadata').where({ series_instance_uid: series }).first('study_instance_uid')).study_instance_uid);
  expect(await uidsOn('q=no-such-thing-anywhere')).toEqual([]);
  expect(problems).toEqual([]);
});

chromium.test('keys that are not the catalog’s are 404, never a file', async () => {
  const b = server.base;
  for (const url of [
    '/instances/1.2.3.4/thumbnail.png',
    '/instances/..%2F..%2Fdicom.db/thumbnail.png',
    '/series/..%2F..%2F..%2Fetc%2Fpasswd/thumbnail.png',
    '/series/1.2.3',
    '/studies/1.2.3',
    '/patients/nobody',
    '/instances/1.2.3',
    '/instances/1.2.3/meta.json',
    '/static/../package.json',
    '/static/browser.css/..%2F..%2Fpackage.json',
    '/runs/nope',
  ]) {
    expect([url, (await get(`${b}${url}`)).status]).toEqual([url, 404]);
  }
  const [sop] = await data.db('dicom_metadata').where({ modality: 'CT' }).limit(1).pluck('sop_instance_uid');
  expect((await get(`${b}/instances/${sop}/thumbnail.png?size=9999`)).status).toBe(404);
  expect(pngSize((await get(`${b}/instances/${sop}/thumbnail.png?size=512`)).body).width).toBe(256); // never enlarged
  const css = await get(`${b}/static/browser.css`);
  expect([css.status, css.type]).toEqual([200, 'text/css; charset=utf-8']);
});
