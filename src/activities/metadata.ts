/**
 * Stage "extract metadata": the catalog fields and whole header (DICOM JSON) of every valid file, per batch in
 * metadata/batch-N.jsonl. The validate stage's header pass already wrote them; this stage checks every batch has
 * them and counts them. Only a batch validated by an earlier version (which wrote none) has its valid files read again.
 */
import { workspace } from '../workspace';
import type { EntryRecord } from '../records';
import type { BatchResult } from '../workflows/types';
import { readAllJsonLines } from '../io/jsonl';
import { readMissingMetadata, type MetadataCursor } from '../dicom/header-batch';
import { heartbeat } from './heartbeat';
import { retireIdleThreadsOfBigRun } from '../io/thread-pool';
import type { BatchInput } from './validate';

export interface CollectInput {
  outDir: string;
  batchCount: number;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
}

export interface CollectResult {
  /** Metadata records (valid files) over all batches. */
  processed: number;
}

type CollectCursor = MetadataCursor & { batchIndex: number };

function metadataOf(outDir: string, runKey: string | undefined, batchIndex: number, cursor: Partial<MetadataCursor> | undefined, beat: (c: MetadataCursor) => void, signal: AbortSignal) {
  const ws = workspace(outDir, runKey);
  return readMissingMetadata({
    entries: () => readAllJsonLines<EntryRecord>(ws.candidateBatch(batchIndex)),
    validateFile: ws.batchFile('validate', batchIndex),
    metadataFile: ws.batchFile('metadata', batchIndex),
    resume: cursor,
    onProgress: beat,
    signal,
  });
}

/** The whole stage in one activity: every batch's metadata records, counted (and written where missing). */
export async function collectMetadata({ outDir, batchCount, runKey }: CollectInput): Promise<CollectResult> {
  const hb = heartbeat<CollectCursor>();
  let processed = 0;
  for (let b = 0; b < batchCount; b++) {
    const cursor = hb.resumed?.batchIndex === b ? hb.resumed : undefined;
    processed += await metadataOf(outDir, runKey, b, cursor, (c) => hb.beat({ ...c, batchIndex: b }), hb.signal);
    hb.beat({ batchIndex: b + 1, done: 0, bytes: 0 });
    hb.throwIfCancelled();
  }
  retireIdleThreadsOfBigRun(processed); // organize and load come next, with the run's largest data on this thread
  return { processed };
}

/** One batch: the activity of the earlier workflow version (runs it started call it per batch). */
export async function readMetadataBatch({ outDir, batchIndex, runKey }: BatchInput): Promise<BatchResult> {
  const hb = heartbeat<MetadataCursor>();
  const processed = await metadataOf(outDir, runKey, batchIndex, hb.resumed, (c) => hb.beat(c), hb.signal);
  return { batchIndex, processed, invalid: 0 };
}
