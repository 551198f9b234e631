/**
 * Where everything lives under the output folder DIR. Every stage reads and writes files here;
 * Temporal payloads carry only these paths, a run's scratch key and counts, never file lists.
 *
 * Shared by every run into DIR: organized/ (the tree), the catalog (dicom.db), logs/, temporal/.
 * Each run's own, named by its scratch key (scratchKey(runId) in contract.ts), so runs into the same DIR at the same
 * time never touch each other's files:
 *
 *   DIR/work/runs/<key>/            the run's scratch: entries.jsonl, batches/, validate/, metadata/, outcomes.jsonl,
 *                                   instances.jsonl, series-issues.jsonl, organize.json, extracted/ (the zip's
 *                                   entries, hard-linked into the tree), download/source.zip (URL sources).
 *                                   Removed when the run completes, unless `ingest --keep-work`.
 *   DIR/reports/runs/<key>/         the run's reports (validation.csv, metadata.csv, report.html, *.png, thumbnails/);
 *   DIR/reports/latest              → runs/<key> of the run that finished last, and DIR/reports/<file> → latest/<file>,
 *                                   so DIR/reports/validation.csv etc. always show one whole run.
 *
 * Without a key (runs started before per-run scratch, and the core modules' own tests) the scratch is shared:
 * DIR/work/<files>, DIR/extracted/, DIR/download/, and the reports go straight into DIR/reports.
 */
import * as path from 'path';
import { SCRATCH_KEY_PATTERN } from './contract';

export type Stage = 'download' | 'extract' | 'validate' | 'metadata' | 'organize' | 'load' | 'report';

export interface Workspace {
  root: string;
  /** The run's scratch key, or undefined for the shared layout of earlier versions. */
  runKey: string | undefined;
  downloadDir: string; // <scratch>/download/source.zip for URL sources
  extractedDir: string; // <scratch>/extracted/<zip entry path> (nested zips under <entry>.d/)
  organizedDir: string; // DIR/organized/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm
  reportsDir: string; // DIR/reports/runs/<key> (shared layout: DIR/reports): validation.csv, metadata.csv, report.html, *.png
  /** DIR/reports: the latest run's reports, through links (shared layout: the reports themselves). */
  reportsRoot: string;
  logsDir: string; // DIR/logs: structured JSON-lines log
  workDir: string; // DIR/work/runs/<key> (shared layout: DIR/work): manifests and per-batch results
  temporalDir: string; // DIR/temporal: embedded dev server state (SQLite history, ports, log)
  dbFile: string; // DIR/dicom.db: the default SQLite catalog
  /** What a completed run removes: its scratch folder (nothing in the shared layout). */
  scratchDirs: string[];
  /** One EntryRecord per entry found in the source, in source order (written by extract). */
  entriesManifest: string;
  /** A zip source's SHA-256, hex, taken beside its extraction (written by extract; the file catalog records it). */
  sourceSha256: string;
  /** Candidate entries (status null) of batch i, as EntryRecord lines: <work>/batches/batch-000042.jsonl */
  candidateBatch(batchIndex: number): string;
  /** Per-batch results of a batched stage: <work>/<stage>/batch-000042.jsonl */
  batchFile(stage: 'validate' | 'metadata', batchIndex: number): string;
  /** One OutcomeRecord per entry, final status (written by organize). */
  outcomes: string;
  /** One InstanceRecord per unique SOP instance placed in the tree (written by organize). */
  instances: string;
  /** One SeriesIssueRecord per finding (written by organize). */
  seriesIssues: string;
}

/** DIR's layout; with `runKey`, the run's own scratch and reports folders. */
export function workspace(outDir: string, runKey?: string): Workspace {
  if (runKey !== undefined && !SCRATCH_KEY_PATTERN.test(runKey)) throw new Error(`not a run scratch key: ${JSON.stringify(runKey)}`);
  const root = path.resolve(outDir);
  const runDir = runKey === undefined ? undefined : path.join(root, 'work', 'runs', runKey);
  const workDir = runDir ?? path.join(root, 'work');
  const reportsRoot = path.join(root, 'reports');
  return {
    root,
    runKey,
    downloadDir: runDir ? path.join(runDir, 'download') : path.join(root, 'download'),
    extractedDir: runDir ? path.join(runDir, 'extracted') : path.join(root, 'extracted'),
    organizedDir: path.join(root, 'organized'),
    reportsDir: runKey === undefined ? reportsRoot : path.join(reportsRoot, 'runs', runKey),
    reportsRoot,
    logsDir: path.join(root, 'logs'),
    workDir,
    temporalDir: path.join(root, 'temporal'),
    dbFile: path.join(root, 'dicom.db'),
    scratchDirs: runDir ? [runDir] : [],
    entriesManifest: path.join(workDir, 'entries.jsonl'),
    sourceSha256: path.join(workDir, 'source.sha256'),
    candidateBatch: (i) => path.join(workDir, 'batches', `batch-${String(i).padStart(6, '0')}.jsonl`),
    batchFile: (stage, i) => path.join(workDir, stage, `batch-${String(i).padStart(6, '0')}.jsonl`),
    outcomes: path.join(workDir, 'outcomes.jsonl'),
    instances: path.join(workDir, 'instances.jsonl'),
    seriesIssues: path.join(workDir, 'series-issues.jsonl'),
  };
}

/**
 * An export's scratch: DIR/work/exports/<key>/ (key: the export id, a safe folder name) holding request.json (what
 * the client asked: selection, format, options, the key file's path, never the key), plan.json, batches/ (the series
 * of each batch activity) and results/ (each batch's outcomes; partial files while a batch runs).
 */
export interface ExportWorkspace {
  dir: string;
  request: string;
  plan: string;
  batch(i: number): string;
  result(i: number): string;
  partial(i: number): string;
}

export function exportWorkspace(outDir: string, exportKey: string): ExportWorkspace {
  if (!SCRATCH_KEY_PATTERN.test(exportKey)) throw new Error(`not an export key: ${JSON.stringify(exportKey)}`);
  const dir = path.join(path.resolve(outDir), 'work', 'exports', exportKey);
  const n = (i: number) => String(i).padStart(6, '0');
  return {
    dir,
    request: path.join(dir, 'request.json'),
    plan: path.join(dir, 'plan.json'),
    batch: (i) => path.join(dir, 'batches', `batch-${n(i)}.json`),
    result: (i) => path.join(dir, 'results', `batch-${n(i)}.json`),
    partial: (i) => path.join(dir, 'results', `batch-${n(i)}.partial.jsonl`),
  };
}

/** Where an export's key and mapping live without --key-file: DIR/export-keys/ (never inside the export). */
export function exportKeysDir(outDir: string): string {
  return path.join(path.resolve(outDir), 'export-keys');
}
