/**
 * Stage "organize": the Patient/Study/Series tree and every entry's final status (src/organize/organize.ts),
 * heartbeating its progress. Idempotent: a finished organize returns its summary; a retried one places nothing twice.
 */
import { organizeRun, type OrganizeResult } from '../organize/organize';
import { logEvent } from '../log';
import { heartbeat } from './heartbeat';

export interface OrganizeInput {
  outDir: string;
  batchCount: number;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
}

export type { OrganizeResult };

export async function organize({ outDir, batchCount, runKey }: OrganizeInput): Promise<OrganizeResult> {
  const hb = heartbeat<{ phase: string; done: number }>();
  const result = await organizeRun({ outDir, runKey, batchCount, signal: hb.signal, onProgress: (phase, done) => hb.beat({ phase, done }) });
  logEvent(outDir, 'info', 'organize', 'organized tree written', { ...result });
  return result;
}
