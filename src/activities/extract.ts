/**
 * The extract stage: a zip (nested zips included) or a folder becomes DIR/work/entries.jsonl and the
 * candidate batch files. Idempotent (a finished run is only counted) and resumable (a retry keeps every
 * file an earlier attempt wrote whole: same bytes, nothing rewritten).
 */
import { extractSource, type ExtractProgress, type ExtractSummary } from '../io/extract';
import { heartbeat } from './heartbeat';
import { retireIdleThreadsOfBigRun } from '../io/thread-pool';
import { toApplicationFailure } from './io-failures';

export interface ExtractInput {
  /** Absolute path of a .zip or a folder. */
  source: string;
  outDir: string;
  /** Files per batch (--batch-size); without it batches are sized by work. */
  batchSize?: number;
  /** Default 100 GiB. */
  maxUncompressedBytes?: number;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
}

/** Counts only: the entries themselves are in DIR/work/entries.jsonl and its batch files. */
export type ExtractResult = ExtractSummary;

/** Heartbeat details: {phase, entryIndex, bytes}. */
export type ExtractHeartbeat = ExtractProgress;

export async function extract(input: ExtractInput): Promise<ExtractResult> {
  const hb = heartbeat<ExtractHeartbeat>();
  let last: ExtractHeartbeat | undefined;
  try {
    const summary = await extractSource({
      ...input,
      signal: hb.signal,
      onProgress: (progress) => {
        last = progress;
        hb.beat(progress);
      },
    });
    if (last) hb.beat(last, true);
    retireIdleThreadsOfBigRun(summary.entries); // a big run's zip threads are done: their memory goes before validate
    return summary;
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
