/**
 * The study browser's queries on a PostgreSQL catalog (jsonb, string_agg, NULLS FIRST): the same pages over a real
 * `synth --broken` ingest with `--db postgres://...`, read over HTTP, their counts checked against the catalog.
 */
import { browserHandler } from '../../src/serve/browser';
import { POSTGRES, requireTool } from '../helpers/tools';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { get, ingestSynth, pngSize, serve, type Ingested, type Served } from '../helpers/serve-ui';

jest.setTimeout(300_000);

const postgres = requireTool(POSTGRES);

let pg: TestPostgres;
let data: Ingested;
let server: Served;

beforeAll(async () => {
  if (!postgres.runs) return;
  pg = await startPostgres();
  data = await ingestSynth({ patients: 3, slices: 10, size: 64, dbUrl: pg.url });
  server = await serve(data.db, data.dir, [browserHandler], { dialect: 'postgres' });
});

afterAll(async () => {
  await server?.close();
  await data?.cleanup();
  await pg?.stop();
});

const html = async (path: string) => {
  const r = await get(`${server.base}${path}`);
  expect([path, r.status]).toEqual([path, 200]);
  return r.body.toString();
};
/** The numbers in `<span class="cls">N</span>`, in page order. */
const spans = (text: string, cls: string) => [...text.matchAll(new RegExp(`<span class="${cls}">([\\d,]+)</span>`, 'g'))].map((m) => Number(m[1].replace(/,/g, '')));
const n = (v: unknown) => Number(v);

postgres.test('patients, studies, series, instances, problems and search on PostgreSQL', async () => {
  const db = data.db;
  const patients = (
    await db.raw(`SELECT patient_id, COUNT(DISTINCT study_instance_uid) AS studies, COUNT(DISTINCT series_instance_uid) AS series, COUNT(*) AS instances
                  FROM dicom_metadata GROUP BY patient_id ORDER BY patient_id NULLS FIRST`)
  ).rows as { patient_id: string | null; studies: number; series: number; instances: number }[];
  const list = await html('/patients');
  expect(spans(list, 'n-instances')).toEqual(patients.map((p) => n(p.instances)));
  expect(spans(list, 'n-studies')).toEqual(patients.map((p) => n(p.studies)));
  expect(spans(list, 'n-series')).toEqual(patients.map((p) => n(p.series)));

  const p = patients.find((x) => x.patient_id !== null)!;
  const page = await html(`/patients/${encodeURIComponent(p.patient_id!)}`);
  expect(spans(page, 'n-instances').reduce((a, b) => a + b, 0)).toBe(n(p.instances));

  const ct = await db('series_summary').where({ modality: 'CT' }).orderBy('slice_count', 'desc').first();
  const study = await html(`/studies/${encodeURIComponent(ct.study_instance_uid)}`);
  const seriesOfStudy = await db('series_summary').where({ study_instance_uid: ct.study_instance_uid });
  expect(spans(study, 'n-slices').sort()).toEqual(seriesOfStudy.map((s) => n(s.slice_count)).sort());
  const series = await html(`/series/${encodeURIComponent(ct.series_instance_uid)}`);
  expect(series).toContain(`<span id="slice-count">${n(ct.slice_count)}</span>`);
  expect(series).toMatch(/Slice spacing<\/dt><dd>[\d.]+/);
  expect(pngSize((await get(`${server.base}/series/${encodeURIComponent(ct.series_instance_uid)}/thumbnail.png`)).body).width).toBeGreaterThan(0);

  const [sop] = await db('dicom_metadata').where({ series_instance_uid: ct.series_instance_uid }).limit(1).pluck('sop_instance_uid');
  expect(await html(`/instances/${encodeURIComponent(sop)}`)).toContain(`>SOPInstanceUID</td><td class="tag">(0008,0018)</td><td>UI</td><td class="value">${sop}</td>`);

  const problems = await html('/problems');
  const codes = (await db.raw(`SELECT code, COUNT(*) AS n FROM validation_results WHERE status <> 'valid' GROUP BY code`)).rows as { code: string; n: number }[];
  for (const c of codes) expect(problems).toContain(`<code class="code">${c.code}</code>`);

  const ctStudies = (await db('dicom_metadata').where({ modality: 'CT' }).distinct('study_instance_uid')).map((r) => r.study_instance_uid as string).sort();
  const found = [...(await html('/search?modality=CT')).matchAll(/class="uid study-link">([^<]+)</g)].map((m) => m[1]).sort();
  expect(found).toEqual(ctStudies);
  const home = await html('/');
  expect(home).toContain(`<b id="total-instances">${n((await db('dicom_metadata').count({ c: '*' }))[0].c)}</b>`);
});
