/**
 * exportDataset: a chosen subset of the catalog out of DIR, as de-identified (or plain) DICOM or NIfTI volumes:
 *
 *   select (planExport) → export (exportBatch × batchCount, `concurrency` at a time) → manifest (finishExport)
 *
 * The request (selection, format, options, the key file's path) is a file in the export's scratch; payloads are the
 * folder, the scratch key, batch indexes and counts. Batches hold whole series, sized by work; each is idempotent
 * (a finished one returns its result file, a retried one goes on after its last finished series).
 */
import { proxyActivities, setHandler } from '@temporalio/workflow';
import type * as activities from '../activities';
import { EXPORT_STAGES, type ExportInput, type ExportProgress, type ExportStageName } from './types';
import { HEARTBEAT_TIMEOUT, runBatches } from './batches';
import { exportProgressQuery } from './messages';
import { runStage } from './stages';
import type { ExportSummary } from '../export/run';

const { planExport, finishExport } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1 hour',
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: ['BadSelection'] },
});
const { exportBatch } = proxyActivities<typeof activities>({
  startToCloseTimeout: '6 hours',
  allowEagerDispatch: false,
  heartbeatTimeout: HEARTBEAT_TIMEOUT,
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

export async function exportDataset(input: ExportInput): Promise<ExportSummary> {
  const progress: ExportProgress = {
    stage: 'select',
    stages: EXPORT_STAGES.map((stage) => ({ stage, state: 'pending' })),
    series: 0,
    instances: 0,
    bytes: 0,
    batchCount: 0,
    batchesDone: 0,
    instancesDone: 0,
    withheld: 0,
    skipped: 0,
  };
  setHandler(exportProgressQuery, () => progress);

  const stage = <T>(name: ExportStageName, run: () => Promise<T>): Promise<T> => runStage(progress, name, run);

  const { outDir, exportKey, dbUrl } = input;
  const plan = await stage('select', () => planExport({ outDir, exportKey, dbUrl }));
  Object.assign(progress, { series: plan.series, instances: plan.instances, bytes: plan.bytes, batchCount: plan.batchCount });
  await stage('export', () =>
    runBatches({
      batchCount: plan.batchCount,
      nextBatch: 0,
      concurrency: input.concurrency,
      run: (batchIndex) =>
        exportBatch({ outDir, exportKey, batchIndex }).then((r) => {
          progress.batchesDone++;
          progress.instancesDone += r.instances + r.withheld;
          progress.withheld += r.withheld;
          progress.skipped += r.skipped;
          return { batchIndex: r.batchIndex, processed: r.instances, invalid: r.withheld };
        }),
      onDone: () => undefined,
    }),
  );
  const summary = await stage('manifest', () => finishExport({ outDir, exportKey, dbUrl }));
  progress.stage = 'done';
  return summary;
}
