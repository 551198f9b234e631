/**
 * A per-file stage as batch activities, `concurrency` at a time over every worker of the task queue.
 * runBatches is the loop; processBatches runs it as a child workflow that continues as new before its history
 * grows long, for stages with more batches than a parent's history should hold (a tiny --batch-size on 250,000 files).
 */
import { continueAsNew, getExternalWorkflowHandle, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { batchDoneSignal } from './messages';
import type { BatchResult, BatchStageInput, BatchStageResult } from './types';

/**
 * How long an activity may go without a heartbeat before Temporal hands it to another worker (or to the next
 * `dicomflow ingest` after a killed one). Every activity heartbeats at least every second while it runs (the worker's
 * keep-alive, src/activities/heartbeat.ts), and the worker sends one every 2 s at most: five missed in a row mean
 * the worker is gone. (Activity options are not part of replay: changing them needs no patch.)
 */
export const HEARTBEAT_TIMEOUT = '10 seconds';

const { validateBatch, readMetadataBatch } = proxyActivities<typeof activities>({
  startToCloseTimeout: '2 hours',
  // Through the task queue, never handed straight back to the worker that runs this workflow: the batches of one
  // run spread over every worker polling the queue.
  allowEagerDispatch: false,
  // A worker that dies is noticed within this and its batch resumes elsewhere, from its heartbeated cursor.
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

export const batchActivity = (stage: 'validate' | 'metadata') => (stage === 'validate' ? validateBatch : readMetadataBatch);

/** Well under Temporal's 51,200-event limit; the SDK may also suggest it earlier. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 10_000;

export interface BatchLoop {
  batchCount: number;
  /** First batch to start (those below are finished). */
  nextBatch: number;
  concurrency: number;
  run: (batchIndex: number) => Promise<BatchResult>;
  /** Each finished batch, as it finishes. */
  onDone: (result: BatchResult) => Promise<void> | void;
  /** Asked before each start: true stops starting batches (the in-flight ones are settled first). */
  stopEarly?: () => boolean;
}

/** Runs batches nextBatch..batchCount-1, `concurrency` at once. Returns the first batch not started. */
export async function runBatches(loop: BatchLoop): Promise<number> {
  const inFlight = new Map<number, Promise<BatchResult>>();
  let next = loop.nextBatch;
  const settleOne = async () => {
    const result = await Promise.race(inFlight.values());
    inFlight.delete(result.batchIndex);
    await loop.onDone(result);
  };
  while (next < loop.batchCount) {
    if (loop.stopEarly?.()) break;
    const batchIndex = next++;
    inFlight.set(batchIndex, loop.run(batchIndex));
    if (inFlight.size >= loop.concurrency) await settleOne();
  }
  while (inFlight.size > 0) await settleOne();
  return next;
}

export async function processBatches(input: BatchStageInput): Promise<BatchStageResult> {
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  let { processed, invalid } = input;
  const limit = input.historyLimit ?? HISTORY_EVENTS_BEFORE_CONTINUE;
  const historyIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > limit;

  const next = await runBatches({
    batchCount: input.batchCount,
    nextBatch: input.nextBatch,
    concurrency: input.concurrency,
    run: (batchIndex) => batchActivity(input.stage)({ outDir: input.outDir, batchIndex, runKey: input.runKey }),
    onDone: async (result) => {
      processed += result.processed;
      invalid += result.invalid;
      // Progress for the parent's query; losing one (parent gone) must not fail the stage.
      await parent.signal(batchDoneSignal, { stage: input.stage, processed: result.processed, invalid: result.invalid }).catch(() => undefined);
    },
    stopEarly: historyIsLong,
  });
  // Everything below `next` is finished: the in-flight batches were settled.
  if (next < input.batchCount) return continueAsNew<typeof processBatches>({ ...input, nextBatch: next, processed, invalid });
  return { processed, invalid };
}
