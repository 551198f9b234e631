/**
 * The export's activities: thin adapters over src/export/run.ts. Payloads are the output folder, the export's scratch
 * key, a batch index and counts; the request (selection, format, the key file's path) is read from the scratch.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { openCatalog } from '../db/catalog';
import { logEvent } from '../log';
import { exportBatch as runBatch, finishExport as runFinish, planExport as runPlan, type BatchOutcome, type ExportPlan, type ExportSummary } from '../export/run';
import { SelectionError } from '../export/select';
import { heartbeat } from './heartbeat';

export interface ExportStepInput {
  outDir: string;
  exportKey: string;
  dbUrl?: string;
}

export async function planExport(input: ExportStepInput): Promise<ExportPlan> {
  heartbeat().beat({ phase: 'select' });
  const db = await openCatalog({ outDir: input.outDir, dbUrl: input.dbUrl });
  try {
    const plan = await runPlan(input.outDir, input.exportKey, db);
    logEvent(input.outDir, 'info', 'export', 'export planned', { exportKey: input.exportKey, ...plan });
    return plan;
  } catch (err) {
    // A selection that does not run will not run on a retry either.
    if (err instanceof SelectionError) throw ApplicationFailure.nonRetryable(err.message, 'BadSelection');
    throw err;
  } finally {
    await db.destroy();
  }
}

export async function exportBatch(input: { outDir: string; exportKey: string; batchIndex: number }): Promise<BatchOutcome> {
  const hb = heartbeat<{ done: number }>();
  return runBatch(input.outDir, input.exportKey, input.batchIndex, { signal: hb.signal, progress: (done) => hb.beat({ done }) });
}

export async function finishExport(input: ExportStepInput): Promise<ExportSummary> {
  const db = await openCatalog({ outDir: input.outDir, dbUrl: input.dbUrl });
  try {
    const summary = await runFinish(input.outDir, input.exportKey, db);
    // The log gets counts and paths: never the mapping's contents.
    logEvent(input.outDir, 'info', 'export', 'export finished', { exportKey: input.exportKey, series: summary.series, instances: summary.instances, withheld: summary.withheldInstances, skipped: summary.skippedSeries });
    return summary;
  } finally {
    await db.destroy();
  }
}
