/**
 * The names every part of dicomflow agrees on, in one place and free of Temporal's runtime: the client, the worker,
 * the workflows and the tools import them from here. (The DIR layout is in workspace.ts, the record shapes in
 * records.ts, the catalog columns in db/migrations.ts.)
 */
import type { ExportStageName, StageName } from './workflows/types';
export { STAGES, EXPORT_STAGES, type StageName, type ExportStageName } from './workflows/types';

/** The task queue of the workers and the runs, unless --task-queue or DICOMFLOW_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'dicomflow';
/** The workflow type of a run. */
export const INGEST_WORKFLOW = 'ingestDataset';
/** The workflow type of an export (`dicomflow export`). */
export const EXPORT_WORKFLOW = 'exportDataset';
/** The query that answers a run's Progress (an export's ExportProgress). */
export const PROGRESS_QUERY = 'progress';

/**
 * The name of a run's own scratch folder (DIR/work/runs/<key>) and reports folder (DIR/reports/runs/<key>): its run
 * id made safe as one path component (only A-Z a-z 0-9 . _ -, no leading dot, at most 80 characters; a run id that
 * had to change gets a short hash so two run ids never share a folder). Pure and deterministic: the workflow
 * computes it from its input, the client and the tests from the same run id.
 */
export function scratchKey(runId: string): string {
  const safe = runId
    .replace(/[^A-Za-z0-9._-]/g, '_')
    .replace(/^\.+/, (dots) => '_'.repeat(dots.length))
    .slice(0, 80);
  if (safe === runId && safe !== '') return safe;
  let hash = 0x811c9dc5; // FNV-1a, 32 bits
  for (let k = 0; k < runId.length; k++) hash = Math.imul(hash ^ runId.charCodeAt(k), 0x01000193) >>> 0;
  return `${safe || '_'}~${hash.toString(16).padStart(8, '0')}`;
}

/** What scratchKey gives: an activity refuses any other key (a key is one folder name, never a path). */
export const SCRATCH_KEY_PATTERN = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,79}(~[0-9a-f]{8})?$/;

/** The stage each activity belongs to (the name the progress line and the workflow's failure use). */
export const ACTIVITY_STAGE: Record<string, StageName> = {
  download: 'download',
  extract: 'extract',
  validateBatch: 'validate',
  collectMetadata: 'metadata',
  readMetadataBatch: 'metadata',
  organize: 'organize',
  loadDatabase: 'load',
  writeReport: 'report',
  scanFolder: 'extract',
  recordFiles: 'load',
};

/** The stage each export activity belongs to. */
export const EXPORT_ACTIVITY_STAGE: Record<string, ExportStageName> = {
  planExport: 'select',
  exportBatch: 'export',
  finishExport: 'manifest',
};

/** The workflow id of an export: its id (a hash of what it exports and the key's fingerprint, see client/export.ts). */
export const exportWorkflowId = (exportId: string): string => `dicomflow-export-${exportId}`;
