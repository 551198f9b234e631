/**
 * ingestDataset: the whole pipeline, one retryable activity per stage, read top to bottom:
 *
 *   download (URLs only) → extract → validate → extract metadata → organize → load database ∥ report
 *
 * Validate is the one header pass: batch activities sized by work (thousands of files each), run in this workflow,
 * or in a child workflow that continues as new when there are more batches than this history should hold. It
 * writes the metadata records too, so the metadata stage takes them over without reading a file again. Every
 * payload is paths and counts; the stages hand data to each other through files under the run's own scratch folder
 * DIR/work/runs/<key> (key: the run id, made a safe folder name), so runs into the same DIR never share one; a
 * completed run removes it (unless --keep-work). Runs started before that (no PER_RUN_SCRATCH marker) go on with the
 * shared DIR/work they started with.
 *
 * Runs that passed extract before batches were sized by work (no WORK_SIZED_BATCHES marker in their history) go on
 * with both per-file stages as child workflows, as they started, so they resume after an upgrade.
 */
import {
  executeChild,
  log,
  patched,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { BatchStageResult, IngestInput, IngestSummary, Progress, StageName, STAGES } from './types';
import { batchActivity, HEARTBEAT_TIMEOUT, processBatches, runBatches } from './batches';
import { batchDoneSignal, progressQuery } from './messages';
import { redactDbUrl } from '../db/credentials';
import { scratchKey } from '../contract';
import { runStage } from './stages';

/** The patch of the pipeline with work-sized batches, one header pass and a single metadata activity. */
export const WORK_SIZED_BATCHES = 'work-sized-batches';

/** The patch that loads the catalog and writes the reports side by side (both read what organize wrote). */
export const LOAD_BESIDE_REPORT = 'load-beside-report';

/** The patch that gives each run its own scratch and reports folders, and removes the scratch once the run completes. */
export const PER_RUN_SCRATCH = 'per-run-scratch';

/**
 * The patch of the file catalog (issue 8): a folder is scanned against the `files` table first (only new and changed
 * files go on), and the load stage records the run's files there.
 */
export const FILES_CATALOG = 'files-catalog';

/** Up to this many batches a stage runs in the parent's own history; more go to a child that continues as new. */
const INLINE_BATCHES = 200;

/** Errors a retry cannot fix: the input itself is wrong. */
const BAD_INPUT = ['HttpClientError', 'Sha256Mismatch', 'NotAZip', 'ZipTooLarge', 'SourceNotFound'];

const { download } = proxyActivities<typeof activities>({
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: BAD_INPUT },
});
const { extract, organize, collectMetadata } = proxyActivities<typeof activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: BAD_INPUT },
});
const { loadDatabase } = proxyActivities<typeof activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  // A database that is down for a while should not fail the run: retry for about half an hour.
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes', maximumAttempts: 20 },
});
const { writeReport } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumAttempts: 3 },
});
const { scanFolder, recordFiles } = proxyActivities<typeof activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes', maximumAttempts: 20, nonRetryableErrorTypes: BAD_INPUT },
});
const { cleanScratch } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 hour',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5 },
});

export async function ingestDataset(input: IngestInput): Promise<IngestSummary> {
  // Asked once, before the first command: a run started by an earlier version (no marker in its history) keeps the
  // shared scratch of DIR/work to its end.
  // A run started by a Schedule (dicomflow watch) has no run id of its own in its input: its workflow id is one.
  const runId = input.runId || workflowInfo().workflowId;
  const runKey = patched(PER_RUN_SCRATCH) ? scratchKey(runId) : undefined;
  const fileCatalog = runKey !== undefined && patched(FILES_CATALOG);
  const progress: Progress = {
    stage: input.sourceKind === 'url' ? 'download' : 'extract',
    stages: STAGES.map((stage) => ({ stage, state: stage === 'download' && input.sourceKind !== 'url' ? 'skipped' : 'pending' })),
    found: 0,
    candidates: 0,
    validated: 0,
    invalid: 0,
    metadataRead: 0,
  };
  setHandler(progressQuery, () => progress);
  setHandler(batchDoneSignal, ({ stage, processed, invalid }) => {
    if (stage === 'validate') {
      progress.validated += processed;
      progress.invalid += invalid;
    } else {
      progress.metadataRead += processed;
    }
  });
  const stageSeconds: Record<string, number> = {};

  /** Runs one stage, keeping progress and timings, and names the stage in the failure the UI shows. */
  const stage = <T>(name: StageName, run: () => Promise<T>): Promise<T> => runStage(progress, name, run, (seconds) => (stageSeconds[name] = seconds));

  function batched(name: 'validate' | 'metadata', batchCount: number): Promise<BatchStageResult> {
    return executeChild(processBatches, {
      workflowId: `${workflowInfo().workflowId}/${name}`,
      args: [{ stage: name, outDir: input.outDir, batchCount, concurrency: input.concurrency, parentWorkflowId: workflowInfo().workflowId, nextBatch: 0, processed: 0, invalid: 0, historyLimit: input.historyLimit, runKey }],
    });
  }

  /** The validate batches: here when they are few enough, else in a child workflow. */
  async function validateBatches(batchCount: number): Promise<BatchStageResult> {
    if (batchCount > INLINE_BATCHES || input.historyLimit !== undefined) return batched('validate', batchCount);
    const total = { processed: 0, invalid: 0 };
    await runBatches({
      batchCount,
      nextBatch: 0,
      concurrency: input.concurrency,
      run: (batchIndex) => batchActivity('validate')({ outDir: input.outDir, batchIndex, runKey }),
      onDone: (r) => {
        total.processed += r.processed;
        total.invalid += r.invalid;
        progress.validated += r.processed;
        progress.invalid += r.invalid;
      },
    });
    return total;
  }

  const { outDir } = input;
  const zipOrFolder =
    input.sourceKind === 'url'
      ? (await stage('download', () => download({ url: input.source, outDir, sha256: input.sha256, runKey }))).zipPath
      : input.source;
  const found = await stage('extract', async () => {
    // A folder: only its new and changed files become the run's entries (the scan writes the manifest extract batches).
    if (fileCatalog && input.sourceKind === 'folder') progress.changes = await scanFolder({ source: zipOrFolder, outDir, dbUrl: input.dbUrl, runKey, ...(input.processAll ? { processAll: true } : {}) });
    return extract({ source: zipOrFolder, outDir, batchSize: input.batchSize, maxUncompressedBytes: input.maxUncompressedBytes, runKey });
  });
  progress.found = found.entries;
  progress.candidates = found.candidates;
  const c = progress.changes;
  if (c && c.new + c.changed + c.gone === 0 && !input.prune && found.entries === 0) {
    // A folder with nothing new, changed or gone (a scheduled run, most of the time): the file catalog notes that this
    // run saw every file, and that is all; no empty report replaces the latest one.
    const source = input.source.split('?')[0];
    await stage('load', () => recordFiles({ outDir, dbUrl: input.dbUrl, runKey, runId, source, changes: c }));
    for (const s of progress.stages) if (s.state === 'pending') s.state = 'skipped';
    if (!input.keepWork) await cleanScratch({ outDir, runKey: runKey! }).catch((err) => log.warn('the run scratch could not be removed', { runKey, error: String(err) }));
    progress.stage = 'done';
    const zero = { entries: 0, valid: 0, invalid: 0, duplicate: 0, conflict: 0, skipped: 0, refused: 0, patients: 0, studies: 0, series: 0, instances: 0, seriesIssues: 0 };
    return {
      runId,
      source: input.source,
      outDir,
      counts: zero,
      stageSeconds,
      outputs: { organized: `${outDir}/organized`, database: redactDbUrl(input.dbUrl) ?? `${outDir}/dicom.db`, reports: [], log: `${outDir}/logs/dicomflow.jsonl` },
      changes: c,
    };
  }
  // Runs that reached this point before WORK_SIZED_BATCHES go on as they started: both per-file stages as children.
  const workSized = patched(WORK_SIZED_BATCHES);
  const validated = await stage('validate', () => (workSized ? validateBatches(found.batchCount) : batched('validate', found.batchCount)));
  progress.validated = validated.processed; // exact totals, whatever progress arrived
  progress.invalid = validated.invalid;
  const read = await stage('metadata', () => (workSized ? collectMetadata({ outDir, batchCount: found.batchCount, runKey }) : batched('metadata', found.batchCount)));
  progress.metadataRead = read.processed;

  await stage('organize', () => organize({ outDir, batchCount: found.batchCount, runKey }));
  // The catalog and the report say where the run came from; a presigned URL's query (its signature) is left out.
  const source = input.source.split('?')[0];
  let sourceSha256: string | undefined;
  const load = () =>
    stage('load', async () => {
      const loaded = await loadDatabase({ outDir, dbUrl: input.dbUrl, runId, source, runKey });
      if (fileCatalog) {
        const hashSource = input.sourceKind === 'folder' ? undefined : zipOrFolder;
        const recorded = await recordFiles({ outDir, dbUrl: input.dbUrl, runKey, runId, source, changes: progress.changes, hashSource, prune: input.prune });
        if (progress.changes && input.prune) progress.changes.pruned = recorded.pruned;
        sourceSha256 = recorded.sourceSha256;
      }
      return loaded;
    });
  const writeReports = () =>
    stage('report', () => writeReport({ outDir, runId, source, stageSeconds: { ...stageSeconds }, runKey, ...(progress.changes ? { changes: progress.changes } : {}) }));
  // The report's stage times then end at organize; the summary has them all.
  const [, report] = patched(LOAD_BESIDE_REPORT) ? await Promise.all([load(), writeReports()]) : [await load(), await writeReports()];
  if (runKey !== undefined && !input.keepWork) {
    // The scratch is no longer needed: the tree, the catalog and the reports are written. A cleanup that keeps
    // failing leaves it behind, said in the log, but never fails a completed run.
    await cleanScratch({ outDir, runKey }).catch((err) => log.warn('the run scratch could not be removed', { runKey, error: String(err) }));
  }
  progress.stage = 'done';

  return {
    runId,
    source: input.source,
    outDir,
    counts: report.counts,
    stageSeconds,
    outputs: {
      organized: `${outDir}/organized`,
      // Runs started before credentials left the payloads carry the password in their input: not in the result.
      database: redactDbUrl(input.dbUrl) ?? `${outDir}/dicom.db`,
      reports: [report.files.validationCsv, report.files.metadataCsv, report.files.html, ...report.files.pngs],
      log: `${outDir}/logs/dicomflow.jsonl`,
    },
    ...(progress.changes ? { changes: progress.changes } : {}),
    ...(sourceSha256 ? { sourceSha256 } : {}),
  };
}
