import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeReport, METADATA_COLUMNS, type ReportResult } from '../../src/activities/report';
import { workspace } from '../../src/workspace';
import type { InstanceFields, InstanceRecord, OutcomeRecord, SeriesIssueRecord } from '../../src/records';
import { MockActivityEnvironment } from '@temporalio/testing';
import { writeJsonLines } from '../../src/io/jsonl';
import { countColour, decodePng, parseCsv } from '../report/helpers';

const BAR_RGB: [number, number, number] = [0x4a, 0x7b, 0xb7];
const XSS_MODALITY = '<script>alert("modality")</script>';
const XSS_PATH = 'evil/<script>alert(1)</script>.dcm';
const COMMA_QUOTE_PATH = 'dir/a,b "c".dcm';
const FORMULA_PATH = '=HYPERLINK("http://evil.example","click")';
const MULTILINE_MESSAGE = 'first line\nsecond, "quoted" line';

/** Hand-built organize output: 3 patients (one without PatientID), 3 studies, 4 series, 11 instances. */
function fixture(): { outcomes: OutcomeRecord[]; instances: InstanceRecord[]; issues: SeriesIssueRecord[] } {
  const instances: InstanceRecord[] = [];
  const outcomes: OutcomeRecord[] = [];
  let i = 0;
  const add = (source: string, f: Partial<InstanceFields> & Pick<InstanceFields, 'studyInstanceUid' | 'seriesInstanceUid' | 'sopInstanceUid'>) => {
    const fields: InstanceFields = {
      patientId: null, sliceThickness: null, pixelSpacingRow: null, pixelSpacingCol: null, studyDate: null,
      acquisitionDate: null, instanceNumber: null, modality: null, rows: null, columns: null, transferSyntaxUid: null,
      fileSize: 1000 + i, imagePositionPatient: null, imageOrientationPatient: null, ...f,
    };
    outcomes.push({ i, path: source, status: 'valid', code: 'OK', message: 'Valid DICOM instance' });
    instances.push({
      i, source, fields, meta: { '00080060': { vr: 'CS', Value: [fields.modality] } },
      organizedPath: `organized/${fields.patientId ?? '_NO_PATIENT_ID_'}/${fields.studyInstanceUid}/${fields.seriesInstanceUid}/${fields.sopInstanceUid}.dcm`,
    });
    i++;
  };
  const problem = (p: string, status: OutcomeRecord['status'], code: string, message: string) => outcomes.push({ i: i++, path: p, status, code, message });

  const ct = { patientId: 'LIDC-IDRI-0001', studyInstanceUid: '1.2.840.1.1', seriesInstanceUid: '1.2.840.1.1.100001', modality: 'CT',
    pixelSpacingRow: 0.703125, pixelSpacingCol: 0.703125, rows: 512, columns: 512, studyDate: '2000-01-01', transferSyntaxUid: '1.2.840.10008.1.2' };
  for (let k = 1; k <= 5; k++) add(`LIDC-IDRI/0001/s1/ct/1-00${k}.dcm`, { ...ct, sopInstanceUid: `1.2.840.1.1.100001.${k}`, instanceNumber: k, sliceThickness: 2.5 });
  problem('LIDC-IDRI/0001/s1/ct/1-001 copy.dcm', 'duplicate', 'DUPLICATE_INSTANCE', 'same bytes as LIDC-IDRI/0001/s1/ct/1-001.dcm');
  add('LIDC-IDRI/0001/s1/cr/1-001.dcm', { patientId: 'LIDC-IDRI-0001', studyInstanceUid: '1.2.840.1.1', seriesInstanceUid: '1.2.840.1.1.200002',
    sopInstanceUid: '1.2.840.1.1.200002.1', modality: 'CR', instanceNumber: -3, rows: 2048, columns: 2048 });
  problem(COMMA_QUOTE_PATH, 'invalid', 'NOT_DICOM', 'no DICM marker');
  problem(FORMULA_PATH, 'invalid', 'TRUNCATED', MULTILINE_MESSAGE);
  problem(XSS_PATH, 'invalid', 'EMPTY_FILE', 'The file has zero bytes. <img src=x onerror=alert(2)>');
  problem('../../etc/passwd', 'refused', 'REFUSED_UNSAFE_PATH', 'escapes the extraction folder');
  problem('__MACOSX/._1-001.dcm', 'skipped', 'SKIPPED_MACOS_METADATA', 'macOS metadata');
  // A patient ID that looks like a formula, and an HTML-ish modality.
  for (let k = 1; k <= 2; k++) {
    add(`LIDC-IDRI/0002/s/x/${k}.dcm`, { patientId: '-P2', studyInstanceUid: '1.2.840.2.1', seriesInstanceUid: '1.2.840.2.1.300003',
      sopInstanceUid: `1.2.840.2.1.300003.${k}`, modality: XSS_MODALITY, instanceNumber: k, sliceThickness: 1.25 });
  }
  problem('LIDC-IDRI/0002/s/x/1 changed.dcm', 'conflict', 'CONFLICTING_INSTANCE', 'same SOP Instance UID as LIDC-IDRI/0002/s/x/1.dcm, different bytes');
  for (let k = 1; k <= 3; k++) {
    add(`nopatient/${k}`, { studyInstanceUid: '1.2.840.3.1', seriesInstanceUid: '1.2.840.3.1.400004', sopInstanceUid: `1.2.840.3.1.400004.${k}`,
      modality: 'CT', instanceNumber: k === 3 ? 5 : k, sliceThickness: k === 3 ? 1 : 1.25 });
  }
  const issues: SeriesIssueRecord[] = [
    { seriesInstanceUid: '1.2.840.3.1.400004', code: 'INSTANCE_NUMBER_GAP', message: 'InstanceNumber jumps from 2 to 5' },
    { seriesInstanceUid: '1.2.840.3.1.400004', code: 'MIXED_SLICE_THICKNESS', message: 'SliceThickness 1, 1.25 <script>x</script>' },
  ];
  return { outcomes, instances, issues };
}

describe('writeReport', () => {
  let outDir: string;
  const data = fixture();
  let result: ReportResult;

  beforeAll(async () => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-report-'));
    const ws = workspace(outDir);
    fs.mkdirSync(ws.workDir, { recursive: true });
    await writeJsonLines(ws.outcomes, data.outcomes);
    await writeJsonLines(ws.instances, data.instances);
    await writeJsonLines(ws.seriesIssues, data.issues);
    result = await writeReport({ outDir, runId: 'run-<1>', source: 'demo "lidc".zip', stageSeconds: { extract: 1.25, validate: 3.5, report: 0.04 } });
    if (process.env.DICOMFLOW_KEEP_REPORT) console.log(`report kept in ${outDir}`);
  });
  afterAll(() => {
    if (!process.env.DICOMFLOW_KEEP_REPORT) fs.rmSync(outDir, { recursive: true, force: true });
  });

  const read = (f: string) => fs.readFileSync(f, 'utf8');
  const cellOf = (html: string, id: string) => html.match(new RegExp(`id="${id}">([^<]*)<`))?.[1];

  it('returns the counts, independently computed from the fixture', () => {
    const byStatus = (s: string) => data.outcomes.filter((o) => o.status === s).length;
    const set = (f: (r: InstanceRecord) => string | null) => new Set(data.instances.map(f).filter((v) => v !== null)).size;
    expect(result.counts).toEqual({
      entries: data.outcomes.length,
      valid: byStatus('valid'), invalid: byStatus('invalid'), duplicate: byStatus('duplicate'), conflict: byStatus('conflict'),
      skipped: byStatus('skipped'), refused: byStatus('refused'),
      patients: set((r) => r.fields.patientId), studies: set((r) => r.fields.studyInstanceUid), series: set((r) => r.fields.seriesInstanceUid),
      instances: data.instances.length, seriesIssues: data.issues.length,
    });
    expect(result.counts).toMatchObject({ entries: 18, valid: 11, invalid: 3, patients: 2, studies: 3, series: 4 });
  });

  it('validation.csv has one row per entry, in source order, and parses back to the same cells', () => {
    const text = read(result.files.validationCsv);
    const rows = parseCsv(text);
    expect(rows[0]).toEqual(['path', 'status', 'code', 'message']);
    expect(rows).toHaveLength(data.outcomes.length + 1);
    // Formula-looking text comes back with its defusing quote; everything else exactly.
    const defuse = (s: string) => (/^[=+\-@\t\r]/.test(s) ? `'${s}` : s);
    expect(rows.slice(1)).toEqual(data.outcomes.map((o) => [defuse(o.path), o.status, o.code, o.message]));
    // The exact bytes for the tricky cells.
    expect(text).toContain('\r\n"dir/a,b ""c"".dcm",invalid,NOT_DICOM,no DICM marker\r\n');
    expect(text).toContain(`\r\n"'=HYPERLINK(""http://evil.example"",""click"")",invalid,TRUNCATED,"first line\nsecond, ""quoted"" line"\r\n`);
  });

  it('metadata.csv has the contract columns and one row per unique instance', () => {
    const rows = parseCsv(read(result.files.metadataCsv));
    expect(rows[0]).toEqual([...METADATA_COLUMNS]);
    expect(rows).toHaveLength(data.instances.length + 1);
    const col = (name: string) => rows[0].indexOf(name);
    const byUid = new Map(rows.slice(1).map((r) => [r[col('sop_instance_uid')], r]));
    for (const inst of data.instances) {
      const row = byUid.get(inst.fields.sopInstanceUid)!;
      expect(row[col('patient_id')]).toBe(inst.fields.patientId === null ? '' : inst.fields.patientId.startsWith('-') ? `'${inst.fields.patientId}` : inst.fields.patientId);
      expect(row[col('series_instance_uid')]).toBe(inst.fields.seriesInstanceUid);
      expect(row[col('slice_thickness')]).toBe(inst.fields.sliceThickness === null ? '' : String(inst.fields.sliceThickness));
      expect(row[col('instance_number')]).toBe(String(inst.fields.instanceNumber));
      expect(row[col('file_path')]).toBe(inst.organizedPath);
      expect(row[col('source_path')]).toBe(inst.source);
      expect(row[col('file_size')]).toBe(String(inst.fields.fileSize));
      expect(row[col('run_id')]).toBe('run-<1>');
    }
    const cr = byUid.get('1.2.840.1.1.200002.1')!;
    expect(cr[col('instance_number')]).toBe('-3'); // a number, not defused text
    expect(cr[col('study_date')]).toBe('');
    expect(rows[0]).not.toContain('meta');
  });

  it('report.html shows the summary numbers', () => {
    const html = read(result.files.html);
    const seriesCounts = new Map<string, number>();
    const studies = new Set<string>();
    for (const r of data.instances) {
      seriesCounts.set(r.fields.seriesInstanceUid, (seriesCounts.get(r.fields.seriesInstanceUid) ?? 0) + 1);
      studies.add(r.fields.studyInstanceUid);
    }
    const perSeries = [...seriesCounts.values()].reduce((a, b) => a + b, 0) / seriesCounts.size;
    expect(cellOf(html, 'avg-slices-per-series')).toBe(perSeries.toFixed(2)); // 11 / 4 = 2.75
    expect(cellOf(html, 'avg-slices-per-study')).toBe((data.instances.length / studies.size).toFixed(2));
    expect(cellOf(html, 'patients')).toBe('2');
    expect(cellOf(html, 'studies')).toBe('3');
    expect(cellOf(html, 'series')).toBe('4');
    expect(cellOf(html, 'instances')).toBe('11');
    expect(cellOf(html, 'status-invalid')).toBe('3');
    expect(cellOf(html, 'status-refused')).toBe('1');
    expect(cellOf(html, 'entries-total')).toBe('18');
    expect(cellOf(html, 'series-issues')).toBe('2');
    expect(cellOf(html, 'stage-validate')).toBe('3.50');
    expect(cellOf(html, 'stage-report')).toBe('0.04');
    expect(cellOf(html, 'stage-total')).toBe('4.79');
    expect(html).toContain('<code title="InstanceNumber values skip numbers: slices may be missing.">INSTANCE_NUMBER_GAP</code>');
    expect(cellOf(html, 'source')).toBe('demo &#34;lidc&#34;.zip');
    expect(html).toContain('INSTANCE_NUMBER_GAP');
    expect(html).toContain('href="validation.csv"');
  });

  it('report.html is self-contained and escapes everything from the inputs', () => {
    const html = read(result.files.html);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('<img');
    expect(html).toContain('evil/&#60;script&#62;alert(1)&#60;/script&#62;.dcm');
    expect(html).toContain('(&#60;script&#62;alert(&#34;…)'); // the chart label, modality cut to 16 characters
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // no external assets
    expect((html.match(/<svg /g) ?? []).length).toBe(2);
    // problem table: invalid, refused and conflict rows, not valid/skipped/duplicate
    const table = html.slice(html.indexOf('id="problem-files-table"'));
    expect((table.slice(0, table.indexOf('</table>')).match(/<tr>/g) ?? []).length).toBe(1 + 5);
  });

  it('writes both charts as non-blank PNGs', () => {
    expect(result.files.pngs.map((p) => path.basename(p))).toEqual(['slice-thickness.png', 'slices-per-series.png']);
    for (const file of result.files.pngs) {
      const png = decodePng(fs.readFileSync(file));
      expect(png.width).toBeGreaterThan(0);
      expect(png.height).toBeGreaterThan(0);
      expect(countColour(png, BAR_RGB)).toBeGreaterThan(500);
    }
  });

  it('is idempotent: a second run writes the same files', async () => {
    const snapshot = () => ({
      validation: read(result.files.validationCsv),
      metadata: read(result.files.metadataCsv),
      html: read(result.files.html).replace(/id="generated-at">[^<]*/, ''),
      pngs: result.files.pngs.map((f) => fs.readFileSync(f).toString('base64')),
      listing: fs.readdirSync(workspace(outDir).reportsDir).sort(),
    });
    const first = snapshot();
    const again = await writeReport({ outDir, runId: 'run-<1>', source: 'demo "lidc".zip', stageSeconds: { extract: 1.25, validate: 3.5, report: 0.04 } });
    expect(again).toEqual(result);
    expect(snapshot()).toEqual(first);
    expect(first.listing).toEqual(['metadata.csv', 'report.html', 'slice-thickness.png', 'slices-per-series.png', 'validation.csv']);
  });

  it('logs the finished report to the structured log', () => {
    const lines = read(path.join(workspace(outDir).logsDir, 'dicomflow.jsonl')).trim().split('\n').map((l) => JSON.parse(l));
    const done = lines.filter((l) => l.stage === 'report' && l.msg === 'report written');
    expect(done.length).toBeGreaterThanOrEqual(1);
    expect(done[0].counts.instances).toBe(11);
  });
});

describe('writeReport on edge inputs', () => {
  let outDir: string;
  beforeEach(() => {
    outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-report-'));
    fs.mkdirSync(workspace(outDir).workDir, { recursive: true });
  });
  afterEach(() => fs.rmSync(outDir, { recursive: true, force: true }));

  it('reports a run where every file was invalid (no instances, no series issues file)', async () => {
    const ws = workspace(outDir);
    await writeJsonLines(ws.outcomes, [
      { i: 0, path: 'x.dcm', status: 'invalid', code: 'NOT_DICOM', message: 'text file' },
      { i: 1, path: 'y.dcm', status: 'invalid', code: 'constructor', message: 'a code that is not in the taxonomy' },
    ]);
    await writeJsonLines(ws.instances, []);
    const r = await writeReport({ outDir, runId: 'r', source: 's' });
    expect(r.counts).toMatchObject({ entries: 2, invalid: 2, instances: 0, series: 0, seriesIssues: 0 });
    const html = read(r.files.html);
    expect(html).toMatch(/id="avg-slices-per-series">0\.00</);
    expect(html).toContain('No data');
    expect(html).not.toContain('id="stage-times"');
    expect(parseCsv(read(r.files.metadataCsv))).toHaveLength(1);
    for (const f of r.files.pngs) expect(decodePng(fs.readFileSync(f)).width).toBeGreaterThan(0);
  });

  it('heartbeats while streaming when run as an activity', async () => {
    const ws = workspace(outDir);
    const n = 25_000;
    await writeJsonLines(ws.outcomes, (function* () {
      for (let i = 0; i < n; i++) yield { i, path: `f${i}`, status: 'skipped', code: 'SKIPPED_NOT_A_FILE', message: '' };
    })());
    await writeJsonLines(ws.instances, []);
    const env = new MockActivityEnvironment();
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const r = (await env.run(writeReport, { outDir, runId: 'r', source: 's' })) as Awaited<ReturnType<typeof writeReport>>;
    expect(r.counts.skipped).toBe(n);
    // The shared helper heartbeats at once, then at most once a second (the worker's keep-alive fills the gaps).
    expect(beats[0]).toEqual({ outcomes: 1 });
    for (const b of beats) expect(Object.values(b as Record<string, number>)[0]).toBeGreaterThan(0);
  });

  it('fails clearly when the outcomes file is missing (organize did not run)', async () => {
    await expect(writeReport({ outDir, runId: 'r', source: 's' })).rejects.toThrow(/outcomes file is missing/);
  });

  it('shows the top 50 of many series and says so', async () => {
    const ws = workspace(outDir);
    const outcomes: OutcomeRecord[] = [];
    const instances: InstanceRecord[] = [];
    let i = 0;
    for (let s = 0; s < 120; s++) {
      for (let k = 0; k <= s % 7; k++) {
        const sop = `9.9.${s}.${k}`;
        outcomes.push({ i, path: `p/${sop}`, status: 'valid', code: 'OK', message: '' });
        instances.push({ i: i++, source: `p/${sop}`, organizedPath: `organized/x/${sop}.dcm`, meta: {}, fields: {
          patientId: `P${s % 10}`, studyInstanceUid: `9.9.${s % 30}`, seriesInstanceUid: `9.9.${s}`, sopInstanceUid: sop,
          sliceThickness: 0.5 + (s % 25) * 0.1, pixelSpacingRow: null, pixelSpacingCol: null, studyDate: null, acquisitionDate: null,
          instanceNumber: k + 1, modality: 'CT', rows: 512, columns: 512, transferSyntaxUid: null, fileSize: 10, imagePositionPatient: null, imageOrientationPatient: null } });
      }
    }
    await writeJsonLines(ws.outcomes, outcomes);
    await writeJsonLines(ws.instances, instances);
    const r = await writeReport({ outDir, runId: 'r', source: 's' });
    const html = read(r.files.html);
    expect(html).toContain('The 50 series with the most slices, of 120.');
    const seriesSvg = html.slice(html.indexOf('<h2>Slices per series</h2>'));
    // background + 50 bars
    expect((seriesSvg.slice(0, seriesSvg.indexOf('</svg>')).match(/<rect /g) ?? []).length).toBe(51);
    expect(r.counts).toMatchObject({ series: 120, studies: 30, patients: 10, instances: instances.length });
  });

  function read(f: string): string {
    return fs.readFileSync(f, 'utf8');
  }
});
