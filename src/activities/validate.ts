/**
 * Stage "validate": the header pass over one batch. Every candidate is read and parsed once: its status and code
 * (validate/batch-N.jsonl) and, when valid, its catalog fields and whole header (metadata/batch-N.jsonl), which the
 * metadata stage takes over without reading the file again. Resumes from its heartbeated cursor.
 */
import { workspace } from '../workspace';
import type { EntryRecord } from '../records';
import type { BatchResult } from '../workflows/types';
import { readAllJsonLines } from '../io/jsonl';
import { readHeaderBatch, type HeaderBatchCursor } from '../dicom/header-batch';
import { heartbeat } from './heartbeat';

export interface BatchInput {
  outDir: string;
  batchIndex: number;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
}

export async function validateBatch({ outDir, batchIndex, runKey }: BatchInput): Promise<BatchResult> {
  const ws = workspace(outDir, runKey);
  const hb = heartbeat<HeaderBatchCursor>();
  let last: HeaderBatchCursor | undefined;
  const counts = await readHeaderBatch({
    entries: () => readAllJsonLines<EntryRecord>(ws.candidateBatch(batchIndex)),
    validateFile: ws.batchFile('validate', batchIndex),
    metadataFile: ws.batchFile('metadata', batchIndex),
    resume: hb.resumed,
    onProgress: (cursor) => hb.beat((last = cursor)),
    signal: hb.signal,
  });
  if (last) hb.beat(last, true);
  return { batchIndex, ...counts };
}
