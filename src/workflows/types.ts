/** Inputs, results and progress of the workflows: paths and counts only, never file lists. */

export type StageName = 'download' | 'extract' | 'validate' | 'metadata' | 'organize' | 'load' | 'report';
export const STAGES: StageName[] = ['download', 'extract', 'validate', 'metadata', 'organize', 'load', 'report'];

export interface IngestInput {
  /** URL, or absolute path of a zip or folder. */
  source: string;
  sourceKind: 'url' | 'zip' | 'folder';
  outDir: string;
  runId: string;
  /** The catalog's URL without its password (workers resolve it, see db/credentials.ts); none: DIR/dicom.db. */
  dbUrl?: string;
  sha256?: string;
  /** Candidate files per batch activity (--batch-size); without it batches are sized by work. */
  batchSize?: number;
  /** Batch activities in flight at once (across all workers). */
  concurrency: number;
  maxUncompressedBytes?: number;
  /** History events after which a batch stage continues as new (default 10,000; tests set it low). */
  historyLimit?: number;
  /** Keep the run's scratch folder (DIR/work/runs/<key>) after it completes (--keep-work). */
  keepWork?: boolean;
  /** A folder: process every file, not only the new and changed ones (ingest --rerun). */
  processAll?: boolean;
  /** Remove the instances of files gone from a folder source from the catalog and the tree (--prune). */
  prune?: boolean;
}

/** What an incremental run found in a folder source, against the file catalog. */
export interface ChangeCounts {
  new: number;
  changed: number;
  unchanged: number;
  gone: number;
  /** Instances removed from the catalog and the tree (--prune). */
  pruned?: number;
}

export interface StageProgress {
  stage: StageName;
  state: 'pending' | 'running' | 'done' | 'skipped';
  seconds?: number;
  done?: number;
  total?: number;
}

export interface Progress {
  stage: StageName | 'done';
  stages: StageProgress[];
  /** Files (entries) found in the source, once extracted. */
  found: number;
  /** Files to check (entries that are neither skipped nor refused). */
  candidates: number;
  validated: number;
  invalid: number;
  metadataRead: number;
  /** A folder source against the file catalog, once scanned. */
  changes?: ChangeCounts;
}

export interface IngestSummary {
  runId: string;
  source: string;
  outDir: string;
  counts: {
    entries: number;
    valid: number;
    invalid: number;
    duplicate: number;
    conflict: number;
    skipped: number;
    refused: number;
    patients: number;
    studies: number;
    series: number;
    instances: number;
    seriesIssues: number;
  };
  stageSeconds: Record<string, number>;
  outputs: { organized: string; database: string; reports: string[]; log: string };
  /** A folder source: new, changed, unchanged and gone files against the runs before (file catalog runs only). */
  changes?: ChangeCounts;
  /** SHA-256 of a zip source (a URL's download), hex: the same zip again is not run again (file catalog runs only). */
  sourceSha256?: string;
}

/** Input of the child workflow that runs one batched stage; carried across continue-as-new. */
export interface BatchStageInput {
  stage: 'validate' | 'metadata';
  outDir: string;
  batchCount: number;
  concurrency: number;
  /** Parent to report progress to. */
  parentWorkflowId: string;
  /** First batch not yet finished (continue-as-new resumes here). */
  nextBatch: number;
  processed: number;
  invalid: number;
  historyLimit?: number;
  /** The run's scratch key (absent for runs of the shared layout). */
  runKey?: string;
}

export interface BatchStageResult {
  processed: number;
  invalid: number;
}

/** What one batch activity reports. */
export interface BatchResult {
  batchIndex: number;
  processed: number;
  invalid: number;
}

/** The stages of an exportDataset run. */
export type ExportStageName = 'select' | 'export' | 'manifest';
export const EXPORT_STAGES: ExportStageName[] = ['select', 'export', 'manifest'];

export interface ExportInput {
  outDir: string;
  /** The export's scratch key: DIR/work/exports/<key>/request.json says what to export (workspace.ts). */
  exportKey: string;
  /** The catalog's URL without its password; none: DIR/dicom.db. */
  dbUrl?: string;
  /** Batch activities in flight at once. */
  concurrency: number;
}

export interface ExportProgress {
  stage: ExportStageName | 'done';
  stages: { stage: ExportStageName; state: 'pending' | 'running' | 'done'; seconds?: number }[];
  /** From the plan: what the selection holds. */
  series: number;
  instances: number;
  bytes: number;
  batchCount: number;
  /** Finished batches' totals. */
  batchesDone: number;
  instancesDone: number;
  withheld: number;
  skipped: number;
}
