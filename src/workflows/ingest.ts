/**
 * ingestDataset: the whole pipeline, one retryable activity per stage, read top to bottom:
 *
 *   download (URLs only) → extract → validate → extract metadata → organize → load database → report
 *
 * The two per-file stages run as child workflows (processBatches) that fan out batch activities and
 * continue-as-new, so the history stays small whatever the number of files. Every payload is paths and
 * counts; the stages hand data to each other through files under DIR/work.
 */
import {
  ApplicationFailure,
  executeChild,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities';
import { BatchStageResult, IngestInput, IngestSummary, Progress, StageName, STAGES } from './types';
import { processBatches } from './batches';
import { batchDoneSignal, progressQuery } from './messages';

/** Errors a retry cannot fix: the input itself is wrong. */
const BAD_INPUT = ['HttpClientError', 'Sha256Mismatch', 'NotAZip', 'ZipTooLarge', 'SourceNotFound'];

const { download } = proxyActivities<typeof activities>({
  startToCloseTimeout: '12 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: BAD_INPUT },
});
const { extract, organize } = proxyActivities<typeof activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: BAD_INPUT },
});
const { loadDatabase } = proxyActivities<typeof activities>({
  startToCloseTimeout: '6 hours',
  heartbeatTimeout: '60 seconds',
  // A database that is down for a while should not fail the run: retry for about half an hour.
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes', maximumAttempts: 20 },
});
const { writeReport } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: '60 seconds',
  retry: { initialInterval: '2 seconds', maximumAttempts: 3 },
});


export async function ingestDataset(input: IngestInput): Promise<IngestSummary> {
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
  async function stage<T>(name: StageName, run: () => Promise<T>): Promise<T> {
    const entry = progress.stages.find((s) => s.stage === name)!;
    progress.stage = name;
    entry.state = 'running';
    const started = Date.now();
    try {
      const result = await run();
      entry.state = 'done';
      entry.seconds = stageSeconds[name] = (Date.now() - started) / 1000;
      return result;
    } catch (err) {
      const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      throw ApplicationFailure.create({ type: `StageFailed:${name}`, message: `stage ${name} failed: ${cause}`, cause: err as Error, nonRetryable: true });
    }
  }

  function batched(name: 'validate' | 'metadata', batchCount: number): Promise<BatchStageResult> {
    return executeChild(processBatches, {
      workflowId: `${workflowInfo().workflowId}/${name}`,
      args: [{ stage: name, outDir: input.outDir, batchCount, concurrency: input.concurrency, parentWorkflowId: workflowInfo().workflowId, nextBatch: 0, processed: 0, invalid: 0, historyLimit: input.historyLimit }],
    });
  }

  const { outDir, runId } = input;
  const zipOrFolder =
    input.sourceKind === 'url'
      ? (await stage('download', () => download({ url: input.source, outDir, sha256: input.sha256 }))).zipPath
      : input.source;
  const found = await stage('extract', () => extract({ source: zipOrFolder, outDir, batchSize: input.batchSize, maxUncompressedBytes: input.maxUncompressedBytes }));
  progress.found = found.entries;
  progress.candidates = found.candidates;

  const validated = await stage('validate', () => batched('validate', found.batchCount));
  progress.validated = validated.processed; // exact totals, whatever signals arrived
  progress.invalid = validated.invalid;
  const read = await stage('metadata', () => batched('metadata', found.batchCount));
  progress.metadataRead = read.processed;

  await stage('organize', () => organize({ outDir, batchCount: found.batchCount }));
  // The catalog and the report say where the run came from; a presigned URL's query (its signature) is left out.
  const source = input.source.split('?')[0];
  await stage('load', () => loadDatabase({ outDir, dbUrl: input.dbUrl, runId, source }));
  const report = await stage('report', () => writeReport({ outDir, runId, source, stageSeconds }));
  progress.stage = 'done';

  return {
    runId,
    source: input.source,
    outDir,
    counts: report.counts,
    stageSeconds,
    outputs: {
      organized: `${outDir}/organized`,
      database: input.dbUrl ?? `${outDir}/dicom.db`,
      reports: [report.files.validationCsv, report.files.metadataCsv, report.files.html, ...report.files.pngs],
      log: `${outDir}/logs/dicomflow.jsonl`,
    },
  };
}
