/**
 * The study and series searches of DICOMweb read indexes, never the rows of dicom_metadata (whose headers make a row
 * kilobytes): SQLite's query plan for each search, on a migrated catalog. At 250,000 instances a table scan reads the
 * headers of all of them; the covering index holds only the keys.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Knex } from 'knex';
import { openCatalog } from '../../src/db/catalog';
import { parseQuery, seriesSearchSql, studySearchSql } from '../../src/serve/dicomweb-query';

let tmp: string;
let db: Knex;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-plan-'));
  db = await openCatalog({ outDir: tmp });
  const rows = [];
  for (let k = 0; k < 200; k++) {
    rows.push({
      sop_instance_uid: `1.2.3.${k}`,
      patient_id: `P${k % 7}`,
      study_instance_uid: `1.2.${k % 20}`,
      series_instance_uid: `1.2.${k % 20}.${k % 3}`,
      study_date: `2020-01-${String((k % 20) + 1).padStart(2, '0')}`,
      modality: k % 3 === 0 ? 'CR' : 'CT',
      instance_number: k,
      file_path: `organized/x/${k}.dcm`,
      source_path: `${k}.dcm`,
      file_size: 1,
      run_id: 'r',
      meta: JSON.stringify({ '00100010': { vr: 'PN', Value: [{ Alphabetic: `Doe^${k % 7}` }] } }),
    });
  }
  await db('dicom_metadata').insert(rows);
});

afterAll(async () => {
  await db?.destroy();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

async function plan(sql: { text: string; bindings: unknown[] }): Promise<string[]> {
  const rows = (await db.raw(`EXPLAIN QUERY PLAN ${sql.text}`, sql.bindings as Knex.RawBinding[])) as { detail: string }[];
  return rows.map((r) => r.detail);
}

/** Plan steps that read every row of dicom_metadata (from the table, or through an index that does not cover). */
const tableScans = (steps: string[]) => steps.filter((s) => /^SCAN (dicom_metadata|d|m)\b/.test(s) && !/USING COVERING INDEX/.test(s));

test.each([
  ['every study', ''],
  ['by PatientID', 'PatientID=P1'],
  ['by a StudyDate range', 'StudyDate=20200103-20200110'],
  ['by ModalitiesInStudy', 'ModalitiesInStudy=CR'],
  ['by a StudyInstanceUID list', 'StudyInstanceUID=1.2.1,1.2.2'],
  ['by PatientName (on one header per study)', 'PatientName=doe*'],
])('study search %s: no scan of the rows', async (_what, query) => {
  const steps = await plan(studySearchSql('sqlite', parseQuery(new URLSearchParams(query), 'study')));
  expect(steps.join('\n')).toMatch(/dicom_metadata_study_cover_idx|dicom_metadata_patient_idx/);
  expect(tableScans(steps)).toEqual([]);
  // And the search gives what the rows say.
  const sql = studySearchSql('sqlite', parseQuery(new URLSearchParams(query), 'study'));
  const got = ((await db.raw(sql.text, sql.bindings as Knex.RawBinding[])) as { study: string }[]).map((r) => r.study);
  expect(got.length).toBeGreaterThan(0);
});

test.each([
  ['of a study', { study: '1.2.3' }, ''],
  ['of every study by Modality', {}, 'Modality=CR'],
])('series search %s: no scan of the rows', async (_what, scope, query) => {
  const steps = await plan(seriesSearchSql('sqlite', parseQuery(new URLSearchParams(query), 'series'), scope));
  expect(tableScans(steps)).toEqual([]);
});
