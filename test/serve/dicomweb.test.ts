/**
 * DICOMweb of `dicomflow serve` on a real catalog: a `synth --broken` dataset ingested by the real CLI (SQLite, and
 * PostgreSQL when its server is there), the serve handlers on a real HTTP server on 127.0.0.1, and `dicomweb-client`
 * (the client OHIF uses) for searches and retrievals. Expected values come from the synth manifest, the organized
 * files and plain queries of the catalog, never from the code under test.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import type * as http from 'http';
import type { Knex } from 'knex';
import { api } from 'dicomweb-client';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { createServeServer } from '../../src/serve/server';
import { serveHandlers } from '../../src/serve/handlers';
import type { ServeContext } from '../../src/serve/http';
import type { DicomJson } from '../../src/dicom/types';
import { runCli } from '../helpers/cli';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { catalogDialects } from '../helpers/tools';

// dicomweb-client speaks XMLHttpRequest.
// eslint-disable-next-line @typescript-eslint/no-require-imports
(global as unknown as { XMLHttpRequest: unknown }).XMLHttpRequest = require('xhr2');

jest.setTimeout(300_000);

/** What these tests call of dicomweb-client (its own typings require options the calls do not need). */
interface Client {
  searchForStudies(o?: object): Promise<DicomJson[]>;
  searchForSeries(o?: object): Promise<DicomJson[]>;
  searchForInstances(o?: object): Promise<DicomJson[]>;
  retrieveInstance(o: object): Promise<ArrayBuffer>;
  retrieveSeries(o: object): Promise<ArrayBuffer[]>;
  retrieveStudyMetadata(o: object): Promise<DicomJson[]>;
  retrieveSeriesMetadata(o: object): Promise<DicomJson[]>;
  retrieveInstanceMetadata(o: object): Promise<DicomJson[]>;
  retrieveInstanceFrames(o: object): Promise<ArrayBuffer[]>;
  retrieveBulkData(o: object): Promise<ArrayBuffer[]>;
}

/** No TEMPORAL_ADDRESS from the environment: the ingest starts DIR's own server. */
const LOCAL = { TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined };

let tmp: string;
let zip: string;
let manifest: SynthManifest;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-dicomweb-'));
  zip = path.join(tmp, 'lidc.zip');
  manifest = await synthesize({ patients: 4, slices: 5, size: 48, broken: true, seed: 11, out: zip });
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const str = (el: DicomJson, tag: string): string | undefined => {
  const v = el[tag]?.Value?.[0];
  if (v === undefined) return undefined;
  return typeof v === 'object' && v !== null ? (v as { Alphabetic?: string }).Alphabetic : String(v);
};
const values = (el: DicomJson, tag: string): unknown[] => el[tag]?.Value ?? [];
const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const sorted = <T>(xs: T[]) => [...xs].sort();

interface StudyFacts {
  uid: string;
  patientId: string | null;
  patientName: string | null;
  date: string; // YYYYMMDD
  modalities: string[];
  series: Set<string>;
  instances: number;
}

describe.each(catalogDialects())('DICOMweb on a %s catalog', (dialect) => {
  let dir: string;
  let dbUrl: string | undefined;
  let pg: TestPostgres | undefined;
  let db: Knex;
  let server: http.Server;
  let base: string;
  let dw: Client;
  let studies: Map<string, StudyFacts>;

  beforeAll(async () => {
    dir = path.join(tmp, `out-${dialect}`);
    if (dialect === 'postgres') {
      pg = await startPostgres();
      dbUrl = pg.url;
    }
    const ingest = await runCli(['ingest', zip, '--out', dir, ...(dbUrl ? ['--db', dbUrl] : [])], { env: LOCAL });
    expect(ingest.stderr).toBe('');
    expect(ingest.code).toBe(0);
    db = await openCatalog({ outDir: dir, dbUrl });
    const ctx: ServeContext = { db, dialect, outDir: dir, baseUrl: '' };
    server = createServeServer(ctx, serveHandlers);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    ctx.baseUrl = base;
    dw = new api.DICOMwebClient({ url: `${base}/dicomweb` } as never) as unknown as Client;

    // The facts each study should show, from the manifest and (for the names) the catalog's headers.
    const names = new Map<string, string | null>();
    for (const r of (await db('dicom_metadata').select('study_instance_uid', 'meta')) as { study_instance_uid: string; meta: unknown }[]) {
      const meta = (typeof r.meta === 'string' ? JSON.parse(r.meta) : r.meta) as DicomJson;
      names.set(r.study_instance_uid, str(meta, '00100010') ?? null);
    }
    studies = new Map();
    for (const i of manifest.instances) {
      let s = studies.get(i.studyInstanceUid);
      if (!s) {
        s = { uid: i.studyInstanceUid, patientId: i.patientId, patientName: names.get(i.studyInstanceUid) ?? null, date: (i.studyDate ?? '').replace(/-/g, ''), modalities: [], series: new Set(), instances: 0 };
        studies.set(s.uid, s);
      }
      if (i.modality && !s.modalities.includes(i.modality)) s.modalities.push(i.modality);
      s.series.add(i.seriesInstanceUid);
      s.instances++;
    }
    expect(studies.size).toBeGreaterThanOrEqual(4);
  });

  afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await db?.destroy();
    if (dir) await runCli(['server', 'stop', '--out', dir]);
    await pg?.stop();
  });

  const uids = (rows: DicomJson[], tag = '0020000D') => sorted(rows.map((r) => str(r, tag)!));
  /** The studies a predicate picks: never none, so a search that finds nothing cannot pass for one that works. */
  const studiesWhere = (pred: (s: StudyFacts) => boolean) => {
    const picked = sorted([...studies.values()].filter(pred).map((s) => s.uid));
    expect(picked.length).toBeGreaterThan(0);
    return picked;
  };

  test('searchForStudies: every study with its counts, modalities, patient and date (what OHIF\'s study list shows)', async () => {
    const rows = await dw.searchForStudies();
    expect(uids(rows)).toEqual(sorted([...studies.keys()]));
    for (const row of rows) {
      const s = studies.get(str(row, '0020000D')!)!;
      expect(values(row, '00201208')).toEqual([s.instances]); // NumberOfStudyRelatedInstances
      expect(values(row, '00201206')).toEqual([s.series.size]); // NumberOfStudyRelatedSeries
      expect(sorted(values(row, '00080061') as string[])).toEqual(sorted(s.modalities)); // ModalitiesInStudy
      expect(str(row, '00100020') ?? null).toEqual(s.patientId || null);
      expect(str(row, '00100010') ?? null).toEqual(s.patientName || null);
      expect(str(row, '00080020') ?? '').toBe(s.date);
      expect(row['00081190'].Value![0]).toBe(`${base}/dicomweb/studies/${s.uid}`); // RetrieveURL
      for (const tag of ['00080050', '00081030', '00080030', '00100040']) expect(row[tag]).toBeDefined(); // accession, description, time, sex
    }
  });

  test('QIDO matching: PatientID, PatientName wildcards, StudyDate ranges, UID lists, ModalitiesInStudy', async () => {
    const some = [...studies.values()].find((s) => s.patientId && s.patientName)!;
    expect(uids(await dw.searchForStudies({ queryParams: { PatientID: some.patientId } }))).toEqual(studiesWhere((s) => s.patientId === some.patientId));

    // PatientName: a prefix in the other letter case with *, and a ? for one character (PN matches ignore case).
    const name = some.patientName!;
    const prefix = name.slice(0, 3).replace(/[A-Za-z]/g, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()));
    expect(uids(await dw.searchForStudies({ queryParams: { PatientName: `${prefix}*` } }))).toEqual(
      studiesWhere((s) => !!s.patientName && asciiLower(s.patientName).startsWith(asciiLower(prefix))),
    );
    const oneChar = `${name[0]}?${name.slice(2)}`;
    expect(uids(await dw.searchForStudies({ queryParams: { PatientName: oneChar } }))).toEqual(
      studiesWhere((s) => !!s.patientName && s.patientName.length === name.length && s.patientName[0] === name[0] && s.patientName.slice(2) === name.slice(2)),
    );
    expect(await dw.searchForStudies({ queryParams: { PatientName: 'Nobody^Here*' } })).toEqual([]);

    // StudyDate: a closed range, open ends, one day.
    const dates = sorted([...studies.values()].map((s) => s.date).filter(Boolean));
    const [lo, hi] = [dates[1], dates[dates.length - 2]];
    expect(uids(await dw.searchForStudies({ queryParams: { StudyDate: `${lo}-${hi}` } }))).toEqual(studiesWhere((s) => s.date >= lo && s.date <= hi));
    expect(uids(await dw.searchForStudies({ queryParams: { StudyDate: `${hi}-` } }))).toEqual(studiesWhere((s) => s.date >= hi));
    expect(uids(await dw.searchForStudies({ queryParams: { StudyDate: `-${lo}` } }))).toEqual(studiesWhere((s) => s.date !== '' && s.date <= lo));
    expect(uids(await dw.searchForStudies({ queryParams: { StudyDate: lo } }))).toEqual(studiesWhere((s) => s.date === lo));

    // StudyInstanceUID lists: comma-separated, and the key repeated.
    const two = sorted([...studies.keys()].slice(0, 2));
    expect(uids(await dw.searchForStudies({ queryParams: { StudyInstanceUID: two.join(',') } }))).toEqual(two);
    expect(uids(await getJson(`/dicomweb/studies?StudyInstanceUID=${two[0]}&StudyInstanceUID=${two[1]}`))).toEqual(two);

    // ModalitiesInStudy, with fuzzymatching (ignored) as OHIF sends it.
    const mod = [...studies.values()].flatMap((s) => s.modalities).find((m) => m !== 'CT')!;
    expect(uids(await dw.searchForStudies({ queryParams: { ModalitiesInStudy: mod, fuzzymatching: 'false' } }))).toEqual(studiesWhere((s) => s.modalities.includes(mod)));
    expect(uids(await dw.searchForStudies({ queryParams: { ModalitiesInStudy: `CT,${mod}` } }))).toEqual(studiesWhere((s) => s.modalities.includes('CT') || s.modalities.includes(mod)));
  });

  test('limit and offset page the answers; a Warning says more are there; includefield', async () => {
    const all = uids(await dw.searchForStudies());
    const pages: string[] = [];
    for (let offset = 0; offset < all.length + 2; offset += 2) {
      const res = await fetch(`${base}/dicomweb/studies?limit=2&offset=${offset}`);
      const page = (await res.json()) as DicomJson[];
      expect(page.length).toBeLessThanOrEqual(2);
      expect(res.headers.get('warning') !== null).toBe(offset + 2 < all.length);
      pages.push(...page.map((r) => str(r, '0020000D')!));
    }
    expect(pages).toEqual(all); // in order, each once

    const [one] = await dw.searchForStudies({ queryParams: { limit: 1, includefield: 'all' } });
    expect(one['00100040']).toBeDefined();
    const [withField] = await dw.searchForStudies({ queryParams: { limit: 1, includefield: '00081030,00080060' } });
    expect(withField['00081030']?.Value?.length).toBe(1);
    expect(withField['00080060']?.Value?.length).toBe(1);

    const warn = await fetch(`${base}/dicomweb/studies?NoSuchKeyword=1`);
    expect(warn.status).toBe(200);
    expect(warn.headers.get('warning')).toMatch(/NoSuchKeyword/);
    expect((await fetch(`${base}/dicomweb/studies?Gr%C3%BC%C3%9Fe%22=1`)).status).toBe(200); // named in the header as ASCII
    const bad = await fetch(`${base}/dicomweb/studies?StudyDate=yesterday`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/StudyDate|00080020/);
    expect((await fetch(`${base}/dicomweb/studies?limit=-1`)).status).toBe(400);
  });

  test('series and instance searches of a study', async () => {
    const s = [...studies.values()].find((x) => x.series.size > 1) ?? [...studies.values()][0];
    const series = await dw.searchForSeries({ studyInstanceUID: s.uid });
    expect(uids(series, '0020000E')).toEqual(sorted([...s.series]));
    for (const row of series) {
      const uid = str(row, '0020000E')!;
      const inSeries = manifest.instances.filter((i) => i.seriesInstanceUid === uid);
      expect(values(row, '00201209')).toEqual([inSeries.length]); // NumberOfSeriesRelatedInstances
      expect(str(row, '00080060')).toBe(inSeries[0].modality);
      const instances = await dw.searchForInstances({ studyInstanceUID: s.uid, seriesInstanceUID: uid });
      // In slice order.
      expect(instances.map((r) => str(r, '00080018'))).toEqual(
        [...inSeries].sort((a, b) => (a.instanceNumber ?? 0) - (b.instanceNumber ?? 0) || (a.sopInstanceUid < b.sopInstanceUid ? -1 : 1)).map((i) => i.sopInstanceUid),
      );
      expect(values(instances[0], '00280010')).toEqual([inSeries[0].rows]);
    }
    const ct = await dw.searchForSeries({ queryParams: { Modality: 'CT' } });
    expect(uids(ct, '0020000E')).toEqual(sorted([...new Set(manifest.instances.filter((i) => i.modality === 'CT').map((i) => i.seriesInstanceUid))]));
    const bySop = await dw.searchForInstances({ queryParams: { SOPInstanceUID: manifest.instances[0].sopInstanceUid } });
    expect(bySop.map((r) => str(r, '00080018'))).toEqual([manifest.instances[0].sopInstanceUid]);
  });

  /** A CT instance: its catalog row and header. */
  async function ctInstance(): Promise<{ study: string; series: string; sop: string; file: string; meta: DicomJson }> {
    const row = (await db('dicom_metadata')
      .where({ modality: 'CT' })
      .whereIn('transfer_syntax_uid', ['1.2.840.10008.1.2', '1.2.840.10008.1.2.1'])
      .orderBy('sop_instance_uid')
      .first()) as Record<string, unknown>;
    const meta = (typeof row.meta === 'string' ? JSON.parse(row.meta) : row.meta) as DicomJson;
    return { study: row.study_instance_uid as string, series: row.series_instance_uid as string, sop: row.sop_instance_uid as string, file: path.join(dir, row.file_path as string), meta };
  }

  test('WADO-RS: an instance\'s bytes equal the organized file; a series gives each of its files', async () => {
    const i = await ctInstance();
    const got = await dw.retrieveInstance({ studyInstanceUID: i.study, seriesInstanceUID: i.series, sopInstanceUID: i.sop });
    expect(Buffer.from(got).equals(fs.readFileSync(i.file))).toBe(true);

    const parts = await dw.retrieveSeries({ studyInstanceUID: i.study, seriesInstanceUID: i.series });
    const rows = (await db('dicom_metadata').where('series_instance_uid', i.series).select('file_path')) as { file_path: string }[];
    expect(parts.length).toBe(rows.length);
    const files = new Set(rows.map((r) => fs.readFileSync(path.join(dir, r.file_path)).toString('base64')));
    for (const p of parts) expect(files.has(Buffer.from(p).toString('base64'))).toBe(true);

    // curl-style: the bare application/dicom for one instance.
    const single = await fetch(`${base}/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}`, { headers: { accept: 'application/dicom' } });
    expect(single.headers.get('content-type')).toMatch(/^application\/dicom/);
    expect(Buffer.from(await single.arrayBuffer()).equals(fs.readFileSync(i.file))).toBe(true);
    // Transcoding is not offered.
    const other = await fetch(`${base}/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}`, { headers: { accept: 'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50' } });
    expect(other.status).toBe(406);
  });

  test('WADO-RS metadata (study, series, instance), bulk data and frames', async () => {
    const i = await ctInstance();
    const study = await dw.retrieveStudyMetadata({ studyInstanceUID: i.study });
    expect(sorted(study.map((m) => str(m, '00080018')!))).toEqual(sorted(manifest.instances.filter((x) => x.studyInstanceUid === i.study).map((x) => x.sopInstanceUid)));
    const series = await dw.retrieveSeriesMetadata({ studyInstanceUID: i.study, seriesInstanceUID: i.series });
    expect(sorted(series.map((m) => str(m, '00080018')!))).toEqual(sorted(manifest.instances.filter((x) => x.seriesInstanceUid === i.series).map((x) => x.sopInstanceUid)));
    const [meta] = await dw.retrieveInstanceMetadata({ studyInstanceUID: i.study, seriesInstanceUID: i.series, sopInstanceUID: i.sop });
    // The catalog's header, with its bulk data as URLs of this server.
    expect(str(meta, '00100010')).toBe(str(i.meta, '00100010'));
    expect(values(meta, '00280010')).toEqual(values(i.meta, '00280010'));
    const pixelUri = meta['7FE00010'].BulkDataURI!;
    expect(pixelUri).toBe(`${base}/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}/bulk/7FE00010/${/offset=(\d+)/.exec(i.meta['7FE00010'].BulkDataURI!)![1]}`);
    const [offset, length] = /offset=(\d+)&length=(\d+)/.exec(i.meta['7FE00010'].BulkDataURI!)!.slice(1).map(Number);
    const pixels = fs.readFileSync(i.file).subarray(offset, offset + length);
    const [bulk] = await dw.retrieveBulkData({ BulkDataURI: pixelUri });
    expect(Buffer.from(bulk).equals(pixels)).toBe(true);

    const [frame] = await dw.retrieveInstanceFrames({ studyInstanceUID: i.study, seriesInstanceUID: i.series, sopInstanceUID: i.sop, frameNumbers: '1' });
    const rows = values(i.meta, '00280010')[0] as number;
    const columns = values(i.meta, '00280011')[0] as number;
    expect(frame.byteLength).toBe(rows * columns * 2);
    expect(Buffer.from(frame).equals(pixels.subarray(0, rows * columns * 2))).toBe(true);
    const past = await fetch(`${base}/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}/frames/2`);
    expect(past.status).toBe(404);
  });

  test('rendered and thumbnail PNGs of an instance and a series are real PNGs of the right size', async () => {
    const i = await ctInstance();
    const rows = values(i.meta, '00280010')[0] as number;
    const columns = values(i.meta, '00280011')[0] as number;
    const instanceUrl = `/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}`;
    const rendered = await png(`${instanceUrl}/rendered`);
    expect([rendered.width, rendered.height]).toEqual([columns, rows]);
    expect(new Set(rendered.pixels).size).toBeGreaterThan(10); // an image, not a flat field
    const frame = await png(`${instanceUrl}/frames/1/rendered?window=40,400`);
    expect([frame.width, frame.height]).toEqual([columns, rows]);
    const small = await png(`${instanceUrl}/rendered?viewport=24,24`);
    expect(Math.max(small.width, small.height)).toBe(24);
    const thumb = await png(`/dicomweb/studies/${i.study}/series/${i.series}/thumbnail`);
    expect(Math.max(thumb.width, thumb.height)).toBeLessThanOrEqual(128);
    expect((await fetch(`${base}${instanceUrl}/rendered`, { headers: { accept: 'image/jpeg' } })).status).toBe(406);
  });

  test('unknown UIDs and traversal attempts are 404; writes are 405', async () => {
    const i = await ctInstance();
    const other = [...studies.keys()].find((s) => s !== i.study)!;
    const paths = [
      '/dicomweb/studies/1.2.3.4.5/series',
      `/dicomweb/studies/1.2.3.4.5`,
      `/dicomweb/studies/${other}/series/${i.series}`, // a series of another study
      `/dicomweb/studies/${i.study}/series/${i.series}/instances/1.2.3`,
      `/dicomweb/studies/${other}/series/${i.series}/instances/${i.sop}`,
      '/dicomweb/studies/..%2F..%2Fetc/series',
      '/dicomweb/studies/..%2F..%2F..%2F..%2Fetc%2Fpasswd',
      `/dicomweb/studies/${i.study}/series/..%2F..%2F..%2Fdicom.db`,
      `/dicomweb/studies/${i.study}/series/${i.series}/instances/..%2F..%2F..%2F..%2Fdicom.db`,
      `/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}/bulk/7FE00010/0`, // not an offset of its header
      `/dicomweb/studies/${i.study}/series/${i.series}/instances/${i.sop}/bulk/..%2F..%2Fx/1`,
      '/dicomweb/studies/%E0%A4%A',
      '/dicomweb/studies/%2e%2e/%2e%2e/series',
      '/dicomweb/%2e%2e/dicom.db',
      '/dicomweb/organized',
      `/dicomweb/studies/${i.study}/nothing`,
    ];
    for (const p of paths) {
      const res = await fetch(`${base}${p}`);
      expect([p, res.status]).toEqual([p, 404]);
    }
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const res = await fetch(`${base}/dicomweb/studies`, { method, body: method === 'DELETE' ? undefined : 'x' });
      expect([method, res.status]).toEqual([method, 405]);
    }
  });

  async function getJson(p: string): Promise<DicomJson[]> {
    const res = await fetch(`${base}${p}`, { headers: { accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/dicom+json');
    return (await res.json()) as DicomJson[];
  }

  async function png(p: string): Promise<{ width: number; height: number; pixels: Uint8Array }> {
    const res = await fetch(`${base}${p}`, { headers: { accept: 'image/png' } });
    expect([p, res.status]).toEqual([p, 200]);
    expect(res.headers.get('content-type')).toBe('image/png');
    return decodePng(Buffer.from(await res.arrayBuffer()));
  }
});

/** A minimal PNG reader (8-bit grayscale, filter 0 as encoded here): signature, chunk CRCs' framing, IHDR, IDAT. */
function decodePng(buf: Buffer): { width: number; height: number; pixels: Uint8Array } {
  expect(buf.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  let pos = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  let ended = false;
  while (pos < buf.length) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    const data = buf.subarray(pos + 8, pos + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([data[8], data[9]]).toEqual([8, 0]);
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') ended = true;
    pos += 12 + length;
  }
  expect(ended).toBe(true);
  const raw = zlib.inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width + 1) * height);
  const pixels = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) pixels.set(raw.subarray(y * (width + 1) + 1, (y + 1) * (width + 1)), y * width);
  return { width, height, pixels };
}
