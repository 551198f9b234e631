// Workflows registered with the worker (bundled for Temporal's deterministic sandbox: no Node APIs in here).
export { ingestDataset } from './ingest';
export { processBatches } from './batches';
export { progressQuery, batchDoneSignal } from './messages';
export { exportDataset } from './export';
