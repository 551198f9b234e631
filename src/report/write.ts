/**
 * The report stage without Temporal: validation.csv, metadata.csv, report.html and the charts as PNG, all from the
 * files organize left under DIR/work. Records are streamed: only counts, the patient/study sets, one small entry per
 * series and the first rows of the HTML tables are kept in memory. The activity (src/activities/report.ts) heartbeats
 * its progress.
 */
import * as fs from 'fs';
import * as path from 'path';
import { workspace } from '../workspace';
import { readRecordsWithMeta, type InstanceRecord, type OutcomeRecord, type SeriesIssueRecord } from '../records';
import { logEvent } from '../log';
import { readJsonLines } from '../io/jsonl';
import { CsvFileWriter, type CsvCell } from './csv';
import { histogramSvg, horizontalBarSvg, thicknessBins } from './charts';
import { renderReportHtml } from './html';
import { svgToPngAsync } from './png';
import { THUMBNAILS_DIR, ThumbnailSeries, writeThumbnails } from './thumbnails';
import { publishLatestReports } from './latest';
import { ReportStats, MAX_SERIES_BARS, shortSeriesLabel, plural } from './stats';

export interface ReportInput {
  outDir: string;
  runId: string;
  source: string;
  /** Wall time per stage so far. */
  stageSeconds?: Record<string, number>;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
  /** A folder source against the file catalog (incremental runs). */
  changes?: { new: number; changed: number; unchanged: number; gone: number };
}

export interface ReportResult {
  /** pngs: the two charts. The series thumbnails (up to MAX_THUMBNAILS) are in reports/thumbnails/, linked from the HTML. */
  files: { validationCsv: string; metadataCsv: string; html: string; pngs: string[] };
  counts: {
    entries: number; valid: number; invalid: number; duplicate: number; conflict: number; skipped: number; refused: number;
    patients: number; studies: number; series: number; instances: number; seriesIssues: number;
  };
}

export const REPORT_FILES = {
  validationCsv: 'validation.csv',
  metadataCsv: 'metadata.csv',
  html: 'report.html',
  thicknessPng: 'slice-thickness.png',
  seriesPng: 'slices-per-series.png',
} as const;

export const VALIDATION_COLUMNS = ['path', 'status', 'code', 'message'] as const;

/** The dicom_metadata contract columns, in contract order (the `meta` JSON stays in the database). */
export const METADATA_COLUMNS = [
  'sop_instance_uid', 'patient_id', 'study_instance_uid', 'series_instance_uid', 'slice_thickness',
  'pixel_spacing_row', 'pixel_spacing_col', 'study_date', 'acquisition_date', 'instance_number', 'modality',
  'rows', 'columns', 'transfer_syntax_uid', 'file_path', 'source_path', 'file_size', 'run_id',
] as const;

const STAGE = 'report';
/** Series thumbnails shown in report.html at most. */
export const MAX_THUMBNAILS = 50;

/** Records read so far, by kind (outcomes, instances, thumbnails): the activity heartbeats them. */
export type ReportProgress = (count: number, what: string) => void;

export async function writeRunReport(input: ReportInput, beat: ReportProgress = () => undefined): Promise<ReportResult> {
  const ws = workspace(input.outDir, input.runKey);
  fs.mkdirSync(ws.reportsDir, { recursive: true });
  const file = (name: string) => path.join(ws.reportsDir, name);
  const stats = new ReportStats();

  // Without outcomes there is nothing honest to report: that is a bug upstream, not a data problem.
  if (!fs.existsSync(ws.outcomes)) throw new Error(`report: the outcomes file is missing: ${ws.outcomes}`);

  const validation = new CsvFileWriter(file(REPORT_FILES.validationCsv), VALIDATION_COLUMNS);
  try {
    for await (const o of readJsonLines<OutcomeRecord>(ws.outcomes)) {
      stats.addOutcome(o);
      validation.write([o.path, o.status, o.code, o.message]);
      beat(stats.entries, 'outcomes');
    }
    validation.close();
  } catch (err) {
    validation.abort();
    throw err;
  }

  const metadata = new CsvFileWriter(file(REPORT_FILES.metadataCsv), METADATA_COLUMNS);
  const thumbnailSeries = new ThumbnailSeries(MAX_THUMBNAILS);
  try {
    for await (const r of readOptionalRecords(input.outDir, ws.instances, instanceHeads)) {
      stats.addInstance(r);
      thumbnailSeries.add(r.fields);
      metadata.write(metadataRow(r, input.runId));
      beat(stats.instances, 'instances');
    }
    metadata.close();
  } catch (err) {
    metadata.abort();
    throw err;
  }

  for await (const issue of readOptionalRecords<SeriesIssueRecord>(input.outDir, ws.seriesIssues)) stats.addIssue(issue);

  const thicknessSvg = histogramSvg(thicknessBins(stats.thickness), {
    title: 'Slice thickness',
    xLabel: 'SliceThickness (mm)',
    yLabel: 'Instances',
    note: stats.instancesWithoutThickness > 0 ? `${plural(stats.instancesWithoutThickness, 'instance')} without SliceThickness not shown` : undefined,
  });
  const top = stats.topSeries(MAX_SERIES_BARS);
  const seriesSvg = horizontalBarSvg(
    top.map((s) => ({ label: shortSeriesLabel(s.seriesInstanceUid, s.modality), value: s.slices, tooltip: s.seriesInstanceUid })),
    {
      title: 'Slices per series',
      xLabel: 'Slices (instances)',
      yLabel: 'Series',
      note: stats.series.size > top.length ? `Top ${top.length} of ${stats.series.size} series` : undefined,
    },
  );

  // The charts render on the thread pool while this thread draws the thumbnails.
  const pngs = Promise.all([svgToPngAsync(thicknessSvg), svgToPngAsync(seriesSvg)]);
  pngs.catch(() => undefined); // awaited below
  const thumbnails = await writeThumbnails(input.outDir, { runKey: input.runKey, limit: MAX_THUMBNAILS, collected: thumbnailSeries, onProgress: (n) => beat(n, 'thumbnails') });
  const [thicknessPng, seriesPng] = await pngs;
  writeFileAtomic(file(REPORT_FILES.thicknessPng), thicknessPng);
  writeFileAtomic(file(REPORT_FILES.seriesPng), seriesPng);
  writeFileAtomic(
    file(REPORT_FILES.html),
    renderReportHtml({
      source: input.source,
      runId: input.runId,
      generatedAt: new Date().toISOString(),
      stats,
      thicknessSvg,
      seriesSvg,
      files: REPORT_FILES,
      seriesShown: top.length,
      stageSeconds: input.stageSeconds,
      thumbnails,
      thumbnailLimit: MAX_THUMBNAILS,
      changes: input.changes,
    }),
  );

  // DIR/reports/<file> now show this run's reports (a run with its own reports folder).
  if (ws.runKey !== undefined) publishLatestReports(ws, [...Object.values(REPORT_FILES), THUMBNAILS_DIR]);

  const result: ReportResult = {
    files: {
      validationCsv: file(REPORT_FILES.validationCsv),
      metadataCsv: file(REPORT_FILES.metadataCsv),
      html: file(REPORT_FILES.html),
      pngs: [file(REPORT_FILES.thicknessPng), file(REPORT_FILES.seriesPng)],
    },
    counts: {
      entries: stats.entries,
      ...stats.statusCounts,
      patients: stats.patients.size,
      studies: stats.studies.size,
      series: stats.series.size,
      instances: stats.instances,
      seriesIssues: stats.issueCount,
    },
  };
  logEvent(input.outDir, 'info', STAGE, 'report written', { counts: result.counts, thumbnails: thumbnails.length, reportsDir: ws.reportsDir });
  logStageTimes(input.outDir, input.stageSeconds ?? {}, result.counts);
  return result;
}

/**
 * Time per file of every stage so far, one log line each (`stage time`), so a slow stage shows without a profiler.
 * Files per stage: the entries for extract, the candidates for validate, the valid files after that.
 */
function logStageTimes(outDir: string, stageSeconds: Record<string, number>, counts: ReportResult['counts']): void {
  const candidates = counts.entries - counts.skipped - counts.refused;
  const valid = counts.valid + counts.duplicate + counts.conflict;
  const files: Record<string, number> = { download: counts.entries, extract: counts.entries, validate: candidates, metadata: valid, organize: valid, load: counts.entries };
  for (const [stage, seconds] of Object.entries(stageSeconds)) {
    const n = files[stage] ?? counts.entries;
    logEvent(outDir, 'info', 'pipeline', 'stage time', { of: stage, seconds, files: n, msPerFile: n > 0 ? Number(((seconds * 1000) / n).toFixed(4)) : null });
  }
}

/** One metadata.csv row in METADATA_COLUMNS order. */
function metadataRow(r: Omit<InstanceRecord, 'meta'>, runId: string): CsvCell[] {
  const f = r.fields;
  return [
    f.sopInstanceUid, f.patientId, f.studyInstanceUid, f.seriesInstanceUid, num(f.sliceThickness),
    num(f.pixelSpacingRow), num(f.pixelSpacingCol), f.studyDate, f.acquisitionDate, f.instanceNumber, f.modality,
    f.rows, f.columns, f.transferSyntaxUid, r.organizedPath, r.source, f.fileSize, runId,
  ];
}

/** Numbers exactly as extracted; anything else (NaN from a broken DS) becomes an empty cell. */
function num(v: number | null | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** The instances organize wrote, without parsing their headers (the report needs none). */
async function* instanceHeads(file: string): AsyncIterable<Omit<InstanceRecord, 'meta'>> {
  for await (const { record } of readRecordsWithMeta<Omit<InstanceRecord, 'meta'>>(file)) yield record;
}

/** Stage files written by organize; one that is absent (nothing to report) reads as empty, with a warning. */
async function* readOptionalRecords<T>(outDir: string, file: string, read: (file: string) => AsyncIterable<T> = readJsonLines): AsyncIterable<T> {
  if (!fs.existsSync(file)) {
    logEvent(outDir, 'warn', STAGE, 'stage file missing, treated as empty', { file });
    return;
  }
  yield* read(file);
}

function writeFileAtomic(file: string, data: string | Buffer): void {
  const tmp = `${file}.tmp`;
  fs.writeFileSync(tmp, data);
  fs.renameSync(tmp, file);
}

