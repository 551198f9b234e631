/**
 * The export's selection over a real catalog (SQLite, and PostgreSQL when its server is there): each flag narrows it,
 * --where runs over series_summary, read-only (a write inside it fails on PostgreSQL), and is refused with `;`.
 */
import type { Knex } from 'knex';
import { openCatalog } from '../../src/db/catalog';
import { selectSeries, seriesInstances, SelectionError, type Selection } from '../../src/export/select';
import { catalogFactory } from '../db/fixtures';
import { catalogDialects } from '../helpers/tools';

const catalogs = catalogFactory();
afterAll(() => catalogs.cleanup());

/** Series: A (CT, 5 slices of 1 mm, patient P1), B (CT, 3 slices of 2.5 mm, P1, with an issue), C (CR, 1, P2). */
async function fill(db: Knex): Promise<void> {
  const row = (series: string, k: number, over: Record<string, unknown>) => ({
    sop_instance_uid: `${series}.${k}`,
    study_instance_uid: `${series.slice(0, 3)}study`,
    series_instance_uid: series,
    instance_number: k,
    file_path: `organized/x/${series}.${k}.dcm`,
    source_path: `s/${series}.${k}`,
    file_size: 1000 + k,
    run_id: 'r1',
    ...over,
  });
  await db('dicom_metadata').insert([
    ...[1, 2, 3, 4, 5].map((k) => row('1.1.A', k, { patient_id: 'P1', modality: 'CT', slice_thickness: 1 })),
    ...[1, 2, 3].map((k) => row('1.1.B', k, { patient_id: 'P1', modality: 'CT', slice_thickness: 2.5 })),
    row('1.2.C', 1, { patient_id: 'P2', modality: 'CR', slice_thickness: null }),
  ]);
  await db('series_issues').insert({ series_instance_uid: '1.1.B', code: 'INSTANCE_NUMBER_GAP', message: 'gap 2-4', run_id: 'r1' });
}

describe.each(catalogDialects())('%s catalog', (dialect) => {
  let db: Knex;
  beforeAll(async () => {
    db = await openCatalog(await catalogs.fresh(dialect));
    await fill(db);
  });
  afterAll(() => db.destroy());

  const uids = async (sel: Selection) => (await selectSeries(db, sel)).map((s) => s.seriesInstanceUid);

  test('each flag narrows the selection', async () => {
    expect(await uids({})).toEqual(['1.1.A', '1.1.B', '1.2.C']);
    expect(await uids({ modality: ['ct'] })).toEqual(['1.1.A', '1.1.B']);
    expect(await uids({ minSlices: 4 })).toEqual(['1.1.A']);
    expect(await uids({ maxThickness: 2 })).toEqual(['1.1.A']);
    expect(await uids({ noSeriesIssues: true })).toEqual(['1.1.A', '1.2.C']);
    expect(await uids({ patients: ['P2'] })).toEqual(['1.2.C']);
    expect(await uids({ series: ['1.1.B', '1.2.C'], modality: ['CT'] })).toEqual(['1.1.B']);
    expect(await uids({ where: "slice_count = 3 OR modality = 'CR'" })).toEqual(['1.1.B', '1.2.C']);
    expect(await uids({ where: "modality = '?'" })).toEqual([]); // a ? is the user's, not a binding
    const [a] = await selectSeries(db, { series: ['1.1.A'] });
    expect(a).toEqual({ seriesInstanceUid: '1.1.A', studyInstanceUid: '1.1study', patientId: 'P1', modality: 'CT', instances: 5, bytes: 5015, maxSliceThickness: 1, issues: [] });
    const [b] = await selectSeries(db, { series: ['1.1.B'] });
    expect(b.issues).toEqual([{ code: 'INSTANCE_NUMBER_GAP', message: 'gap 2-4' }]);
    expect((await seriesInstances(db, '1.1.B')).map((i) => i.sopInstanceUid)).toEqual(['1.1.B.1', '1.1.B.2', '1.1.B.3']);
  });

  test('--where: refused with ";", a condition that does not run is a SelectionError, and it cannot write', async () => {
    await expect(selectSeries(db, { where: '1=1; DELETE FROM runs' })).rejects.toThrow(SelectionError);
    await expect(selectSeries(db, { where: 'no_such_column = 1' })).rejects.toThrow(/does not run over series_summary/);
    if (dialect === 'postgres') {
      await db.raw('CREATE SEQUENCE export_probe');
      // nextval writes: refused in the read-only transaction.
      await expect(selectSeries(db, { where: "nextval('export_probe') > 0" })).rejects.toThrow(/read-only/);
    } else {
      // query_only is on for the selection and off again afterwards: the catalog still takes writes.
      await selectSeries(db, { where: '1=1' });
      await db('runs').insert({ run_id: 'probe', loaded_at: 'now', instances: 0, validation_rows: 0, series_issues: 0 });
      expect(await db('runs').where({ run_id: 'probe' }).first()).toBeDefined();
    }
  });
});
