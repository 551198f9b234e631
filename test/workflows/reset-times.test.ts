/**
 * Time per stage after a Reset from the Temporal UI, on a real dev server. A run's validate stage fails at its third
 * batch (a folder stands where that batch writes its results: every attempt fails), the run sits failed for a while,
 * the folder is removed and the run is Reset to the workflow task that scheduled that batch. The validate stage
 * started before the Reset point and ends after it, so the workflow's own figure for it holds the retries and the
 * idle time; the summary's figure (from the activities that ran, stage-times.ts) does not.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { Worker } from '@temporalio/worker';
import { WorkflowFailedError } from '@temporalio/client';
import * as activities from '../../src/activities';
import { ingestDataset } from '../../src/workflows';
import { synthesize } from '../../src/synth';
import { workspace } from '../../src/workspace';
import { scratchKey } from '../../src/contract';
import { measuredStageSeconds, stageSecondsFromHistory } from '../../src/client/stage-times';
import { temporalSuite } from '../helpers/temporal';

jest.setTimeout(300_000);

const suite = temporalSuite('dicomflow-reset-');



const IDLE_MS = 5000;

test('after a Reset, the time per stage counts the activities that ran, not the time the run sat failed', async () => {
  const zip = path.join(suite.parent, 'small.zip');
  await synthesize({ patients: 2, slices: 4, size: 32, broken: false, seed: 3, out: zip });
  const outDir = path.join(suite.parent, 'out');
  // Batch 2 of validate cannot write its results: every attempt fails, then the stage and the run do.
  const blocked = workspace(outDir, scratchKey('reset-run')).batchFile('validate', 2);
  fs.mkdirSync(blocked, { recursive: true });

  const taskQueue = 'reset-times';
  const newWorker = () => Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowsPath: require.resolve('../../src/workflows'), activities });
  const workflowId = 'reset-times';
  const input = { source: zip, sourceKind: 'zip' as const, outDir, runId: 'reset-run', batchSize: 3, concurrency: 1 };
  const failed = await (await newWorker()).runUntil(
    suite.env.client.workflow.execute(ingestDataset, { taskQueue, workflowId, args: [input] }).then(
      () => null,
      (err: unknown) => err,
    ),
  );
  expect(failed).toBeInstanceOf(WorkflowFailedError);
  expect((failed as WorkflowFailedError).cause?.message).toMatch(/^stage validate failed: .*EISDIR/);

  // The run sits failed; then the cause is removed and the run is Reset to the task that scheduled batch 2.
  await new Promise((resolve) => setTimeout(resolve, IDLE_MS));
  fs.rmdirSync(blocked);
  const failedRun = suite.env.client.workflow.getHandle(workflowId);
  const { runId: failedRunId } = await failedRun.describe();
  const { events } = await failedRun.fetchHistory();
  const batches = events!.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'validateBatch');
  expect(batches.length).toBe(3); // batches 0, 1, 2, one at a time
  const { runId: resetRunId } = await suite.env.client.workflowService.resetWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId, runId: failedRunId },
    workflowTaskFinishEventId: batches[2].activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId,
    requestId: randomUUID(),
    reason: 'batch 2 can write its results again',
  });
  const resetRun = suite.env.client.workflow.getHandle(workflowId, resetRunId!);
  const summary = await (await newWorker()).runUntil(resetRun.result());
  expect(summary.counts.instances).toBe(2 * 4 + 2);

  // The workflow's own figure for validate counts the retries of the failed run and the time it sat failed ...
  expect(summary.stageSeconds.validate).toBeGreaterThanOrEqual(IDLE_MS / 1000);
  // ... the summary's figure is the time batches ran: well under the idle time alone.
  const measured = await measuredStageSeconds(suite.env.client.workflow.getHandle(workflowId), summary.stageSeconds);
  expect(Object.keys(measured)).toEqual(Object.keys(summary.stageSeconds));
  expect(measured.validate).toBeGreaterThan(0);
  expect(measured.validate).toBeLessThan(IDLE_MS / 1000 / 2);
  const { events: resetEvents } = await resetRun.fetchHistory();
  expect(stageSecondsFromHistory(resetEvents!, summary.stageSeconds)).toEqual(measured);
  // No stage takes longer than the workflow saw it take.
  for (const stage of ['extract', 'validate', 'metadata', 'organize', 'load', 'report']) {
    expect(measured[stage]).toBeGreaterThan(0);
    expect(measured[stage]).toBeLessThanOrEqual(summary.stageSeconds[stage] + 0.001);
  }
});
