/** Checks an ingested output folder against the synthetic dataset's ground truth. */
import * as fs from 'fs';
import * as path from 'path';
import type { Knex } from 'knex';
import type { SynthManifest } from '../../src/synth';

export function readCsv(file: string): string[][] {
  const text = fs.readFileSync(file, 'utf8');
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let k = 0; k < text.length; k++) {
    const ch = text[k];
    if (quoted) {
      if (ch === '"' && text[k + 1] === '"') (cell += '"'), k++;
      else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') row.push(cell), (cell = '');
    else if (ch === '\n') row.push(cell), rows.push(row), (row = []), (cell = '');
    else if (ch !== '\r') cell += ch;
  }
  if (cell !== '' || row.length) row.push(cell), rows.push(row);
  return rows;
}

/** Asserts the catalog and validation.csv match the manifest exactly. */
export async function expectMatchesManifest(knex: Knex, outDir: string, manifest: SynthManifest): Promise<void> {
  const rows = await knex('dicom_metadata').select().orderBy('sop_instance_uid');
  const expected = [...manifest.instances].sort((a, b) => (a.sopInstanceUid < b.sopInstanceUid ? -1 : 1));
  expect(rows.map((r) => r.sop_instance_uid)).toEqual(expected.map((e) => e.sopInstanceUid));
  for (const [k, e] of expected.entries()) {
    const r = rows[k];
    expect({
      patient_id: r.patient_id,
      study_instance_uid: r.study_instance_uid,
      series_instance_uid: r.series_instance_uid,
      slice_thickness: r.slice_thickness,
      pixel_spacing_row: r.pixel_spacing_row,
      pixel_spacing_col: r.pixel_spacing_col,
      study_date: r.study_date,
      acquisition_date: r.acquisition_date,
      instance_number: r.instance_number,
      modality: r.modality,
      rows: r.rows,
      columns: r.columns,
      transfer_syntax_uid: r.transfer_syntax_uid,
      source_path: r.source_path,
    }).toEqual({
      patient_id: e.patientId,
      study_instance_uid: e.studyInstanceUid,
      series_instance_uid: e.seriesInstanceUid,
      slice_thickness: e.sliceThickness,
      pixel_spacing_row: e.pixelSpacingRow,
      pixel_spacing_col: e.pixelSpacingCol,
      study_date: e.studyDate,
      acquisition_date: e.acquisitionDate,
      instance_number: e.instanceNumber,
      modality: e.modality,
      rows: e.rows,
      columns: e.columns,
      transfer_syntax_uid: e.transferSyntaxUid,
      source_path: e.sourcePath,
    });
    expect(fs.existsSync(path.join(outDir, r.file_path))).toBe(true);
    expect(r.file_path.startsWith('organized/')).toBe(true);
  }

  // validation.csv: one row per zip entry, with the expected status and code.
  const [header, ...lines] = readCsv(path.join(outDir, 'reports', 'validation.csv'));
  expect(header).toEqual(['path', 'status', 'code', 'message']);
  const got = lines.map(([p, status, code]) => ({ path: p, status, code })).sort((a, b) => (a.path < b.path ? -1 : 1));
  const want = manifest.entries.map(({ path: p, status, code }) => ({ path: p, status, code })).sort((a, b) => (a.path < b.path ? -1 : 1));
  expect(got).toEqual(want);

  // Series checks: exactly the planted findings (each series' codes), in the table and in the report.
  const issues = await knex('series_issues').distinct('series_instance_uid', 'code');
  const key = (i: { series: string; code: string }) => `${i.series} ${i.code}`;
  expect(issues.map((i) => key({ series: i.series_instance_uid, code: i.code })).sort()).toEqual(
    manifest.seriesIssues.map((i) => key({ series: i.seriesInstanceUid, code: i.code })).sort(),
  );
  const html = fs.readFileSync(path.join(outDir, 'reports', 'report.html'), 'utf8');
  for (const issue of manifest.seriesIssues) expect(html).toContain(issue.code);

  const summary = await knex('series_summary').select().orderBy('series_instance_uid');
  const wantSeries = [...manifest.series].sort((a, b) => (a.seriesInstanceUid < b.seriesInstanceUid ? -1 : 1));
  expect(summary.map((s) => [s.series_instance_uid, Number(s.slice_count), s.min_slice_thickness, s.max_slice_thickness])).toEqual(
    wantSeries.map((s) => [s.seriesInstanceUid, s.sliceCount, s.minSliceThickness, s.maxSliceThickness]),
  );
}

/** Every file under `root`, relative, sorted. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(root, p));
    }
  };
  walk(root);
  return out.sort();
}
