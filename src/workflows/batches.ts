/**
 * processBatches: runs one per-file stage (validate or metadata) as batch activities, `concurrency` at a time,
 * and continues as new before its history grows long, so 250,000 files fit easily.
 */
import { continueAsNew, getExternalWorkflowHandle, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { batchDoneSignal } from './messages';
import type { BatchResult, BatchStageInput, BatchStageResult } from './types';

const { validateBatch, readMetadataBatch } = proxyActivities<typeof activities>({
  startToCloseTimeout: '2 hours',
  // Batches heartbeat every second; a worker that dies is noticed within this and its batch resumes elsewhere.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/** Well under Temporal's 51,200-event limit; the SDK may also suggest it earlier. */
const HISTORY_EVENTS_BEFORE_CONTINUE = 10_000;

export async function processBatches(input: BatchStageInput): Promise<BatchStageResult> {
  const runBatch = input.stage === 'validate' ? validateBatch : readMetadataBatch;
  const parent = getExternalWorkflowHandle(input.parentWorkflowId);
  let { nextBatch, processed, invalid } = input;
  const inFlight = new Map<number, Promise<BatchResult>>();

  const limit = input.historyLimit ?? HISTORY_EVENTS_BEFORE_CONTINUE;
  const historyIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > limit;

  async function settleOne(): Promise<void> {
    const result = await Promise.race(inFlight.values());
    inFlight.delete(result.batchIndex);
    processed += result.processed;
    invalid += result.invalid;
    // Progress for the parent's query; losing one (parent gone) must not fail the stage.
    await parent.signal(batchDoneSignal, { stage: input.stage, processed: result.processed, invalid: result.invalid }).catch(() => undefined);
  }

  while (nextBatch < input.batchCount) {
    if (historyIsLong()) {
      // Everything below nextBatch is finished once the in-flight batches settle.
      while (inFlight.size > 0) await settleOne();
      return continueAsNew<typeof processBatches>({ ...input, nextBatch, processed, invalid });
    }
    const batchIndex = nextBatch++;
    inFlight.set(batchIndex, runBatch({ outDir: input.outDir, batchIndex }));
    if (inFlight.size >= input.concurrency) await settleOne();
  }
  while (inFlight.size > 0) await settleOne();
  return { processed, invalid };
}
