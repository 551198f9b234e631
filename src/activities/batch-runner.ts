/**
 * One batch of a per-file stage, resumable: results are appended to a partial file and the cursor
 * (records done, bytes written) is heartbeated, so a retried batch truncates to the last heartbeat and
 * goes on from there. A finished batch file is never redone.
 */
import * as fs from 'fs';
import { Context } from '@temporalio/activity';
import { countLines, openAppender, readJsonLines } from '../io/jsonl';
import type { BatchResult } from '../workflows/types';

export interface BatchCursor {
  done: number;
  bytes: number;
}

/** Files handed to the read pool at a time: enough to keep every core busy, small enough to heartbeat often. */
const CHUNK = 64;
const HEARTBEAT_EVERY_MS = 1000;

/** Counts a finished batch file (records, and invalid ones when the stage has any). */
async function countResults(outputFile: string, isInvalid?: (r: unknown) => boolean): Promise<{ processed: number; invalid: number }> {
  if (!isInvalid) return { processed: await countLines(outputFile), invalid: 0 }; // no need to parse big headers
  let processed = 0;
  let invalid = 0;
  for await (const record of readJsonLines<unknown>(outputFile)) {
    processed++;
    if (isInvalid(record)) invalid++;
  }
  return { processed, invalid };
}

export async function runResumableBatch<In>(args: {
  batchIndex: number;
  items: () => Promise<In[]>;
  outputFile: string;
  /** Processes a chunk of items: one JSON line per item, in order (null: nothing to write for it). */
  work: (chunk: In[]) => Promise<(string | null)[]>;
  /** Which written records are invalid, for the batch's counts. */
  isInvalid?: (record: unknown) => boolean;
}): Promise<BatchResult> {
  const { batchIndex, outputFile, isInvalid } = args;
  if (fs.existsSync(outputFile)) return { batchIndex, ...(await countResults(outputFile, isInvalid)) };

  const ctx = Context.current();
  const items = await args.items();
  let resumed = ctx.info.heartbeatDetails as BatchCursor | undefined;
  // Resume from the last heartbeat; if its partial file is gone, the batch simply starts over.
  const out = await openAppender(outputFile, { resumeBytes: resumed?.bytes ?? 0 }).catch(() => {
    resumed = undefined;
    return openAppender(outputFile);
  });
  const start = resumed?.done ?? 0;
  let lastBeat = 0;
  // The next chunk is read while this one's results are written: reading and writing overlap.
  const startWork = (at: number) => (at < items.length ? args.work(items.slice(at, at + CHUNK)) : null);
  let next = startWork(start);
  for (let at = start; at < items.length; at += CHUNK) {
    const results = await next!;
    next = startWork(at + CHUNK);
    await out.appendLines(results.filter((line): line is string => line !== null));
    const cursor: BatchCursor = { done: Math.min(at + CHUNK, items.length), bytes: out.bytesWritten() };
    if (Date.now() - lastBeat >= HEARTBEAT_EVERY_MS || cursor.done === items.length) {
      ctx.heartbeat(cursor);
      lastBeat = Date.now();
    }
    if (ctx.cancellationSignal.aborted) {
      next?.catch(() => undefined);
      throw ctx.cancellationSignal.reason ?? new Error('cancelled');
    }
  }
  await out.commit();
  return { batchIndex, ...(await countResults(outputFile, isInvalid)) };
}
