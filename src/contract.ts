/**
 * The names every part of dicomflow agrees on, in one place and free of Temporal's runtime: the client, the worker,
 * the workflows and the tools import them from here. (The DIR layout is in workspace.ts, the record shapes in
 * records.ts, the catalog columns in db/migrations.ts.)
 */
export { STAGES, type StageName } from './workflows/types';

/** The task queue of the workers and the runs, unless --task-queue or DICOMFLOW_TASK_QUEUE says otherwise. */
export const DEFAULT_TASK_QUEUE = 'dicomflow';
/** The workflow type of a run. */
export const INGEST_WORKFLOW = 'ingestDataset';
/** The query that answers a run's Progress. */
export const PROGRESS_QUERY = 'progress';
