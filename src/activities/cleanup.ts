/**
 * The last step of a completed run (unless `ingest --keep-work`): its scratch folder goes (src/io/scratch.ts).
 * Idempotent, so a retry after the folder is gone, or a resumed run, finishes at once.
 */
import { removeRunScratch, type ScratchRemoval } from '../io/scratch';
import { logEvent } from '../log';

export interface CleanupInput {
  outDir: string;
  /** The run's scratch key (scratchKey in contract.ts). */
  runKey: string;
}

export async function cleanScratch({ outDir, runKey }: CleanupInput): Promise<ScratchRemoval> {
  const result = await removeRunScratch(outDir, runKey);
  logEvent(outDir, 'info', 'cleanup', 'scratch removed', { runKey, ...result });
  return result;
}
