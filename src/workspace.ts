/**
 * Where everything lives under the output folder DIR. Every stage reads and writes files here;
 * Temporal payloads carry only these paths and counts, never file lists.
 */
import * as path from 'path';

export type Stage = 'download' | 'extract' | 'validate' | 'metadata' | 'organize' | 'load' | 'report';

export interface Workspace {
  root: string;
  downloadDir: string; // DIR/download/source.zip for URL sources
  extractedDir: string; // DIR/extracted/<zip entry path> (nested zips under <entry>.d/)
  organizedDir: string; // DIR/organized/<PatientID>/<StudyUID>/<SeriesUID>/<SOPUID>.dcm
  reportsDir: string; // DIR/reports: validation.csv, metadata.csv, report.html, *.png
  logsDir: string; // DIR/logs: structured JSON-lines log
  workDir: string; // DIR/work: manifests and per-batch results (intermediate, safe to delete after a run)
  temporalDir: string; // DIR/temporal: embedded dev server state (SQLite history, ports, log)
  dbFile: string; // DIR/dicom.db: the default SQLite catalog
  /** One EntryRecord per entry found in the source, in source order (written by extract). */
  entriesManifest: string;
  /** Candidate entries (status null) of batch i, as EntryRecord lines: DIR/work/batches/batch-000042.jsonl */
  candidateBatch(batchIndex: number): string;
  /** Per-batch results of a batched stage: DIR/work/<stage>/batch-000042.jsonl */
  batchFile(stage: 'validate' | 'metadata', batchIndex: number): string;
  /** One OutcomeRecord per entry, final status (written by organize). */
  outcomes: string;
  /** One InstanceRecord per unique SOP instance placed in the tree (written by organize). */
  instances: string;
  /** One SeriesIssueRecord per finding (written by organize). */
  seriesIssues: string;
}

export function workspace(outDir: string): Workspace {
  const root = path.resolve(outDir);
  const workDir = path.join(root, 'work');
  return {
    root,
    downloadDir: path.join(root, 'download'),
    extractedDir: path.join(root, 'extracted'),
    organizedDir: path.join(root, 'organized'),
    reportsDir: path.join(root, 'reports'),
    logsDir: path.join(root, 'logs'),
    workDir,
    temporalDir: path.join(root, 'temporal'),
    dbFile: path.join(root, 'dicom.db'),
    entriesManifest: path.join(workDir, 'entries.jsonl'),
    candidateBatch: (i) => path.join(workDir, 'batches', `batch-${String(i).padStart(6, '0')}.jsonl`),
    batchFile: (stage, i) => path.join(workDir, stage, `batch-${String(i).padStart(6, '0')}.jsonl`),
    outcomes: path.join(workDir, 'outcomes.jsonl'),
    instances: path.join(workDir, 'instances.jsonl'),
    seriesIssues: path.join(workDir, 'series-issues.jsonl'),
  };
}
