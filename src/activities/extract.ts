/**
 * The extract stage: a zip (nested zips included) or a folder becomes DIR/work/entries.jsonl and the
 * candidate batch files. Idempotent (a finished run is only counted) and resumable (a retry keeps the
 * files the last heartbeat vouches for).
 */
import { Context } from '@temporalio/activity';
import { extractSource, type ExtractProgress, type ExtractSummary } from '../io/extract';
import { toApplicationFailure } from './io-failures';

export interface ExtractInput {
  /** Absolute path of a .zip or a folder. */
  source: string;
  outDir: string;
  batchSize: number;
  /** Default 100 GiB. */
  maxUncompressedBytes?: number;
}

/** Counts only: the entries themselves are in DIR/work/entries.jsonl and its batch files. */
export type ExtractResult = ExtractSummary;

/** Heartbeat details: {phase, entryIndex, bytes}. */
export type ExtractHeartbeat = ExtractProgress;

const HEARTBEAT_EVERY_MS = 1000;

export async function extract(input: ExtractInput): Promise<ExtractResult> {
  const ctx = Context.current();
  const resumed = ctx.info.heartbeatDetails as Partial<ExtractHeartbeat> | undefined;
  let lastBeat = 0;
  let last: ExtractHeartbeat | undefined;
  try {
    const summary = await extractSource({
      ...input,
      resumeFrom: typeof resumed?.entryIndex === 'number' ? { entryIndex: resumed.entryIndex } : undefined,
      signal: ctx.cancellationSignal,
      onProgress: (progress) => {
        last = progress;
        if (Date.now() - lastBeat < HEARTBEAT_EVERY_MS) return;
        lastBeat = Date.now();
        ctx.heartbeat(progress);
      },
    });
    if (last) ctx.heartbeat(last);
    return summary;
  } catch (err) {
    throw toApplicationFailure(err);
  }
}
