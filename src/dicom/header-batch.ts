/**
 * The header pass over one batch of candidate files, without Temporal: each file's header is read and parsed
 * exactly once (the read pool, on every core); its validate line, and for a valid file its metadata line, are
 * appended to two partial files. Resumable from a cursor (records done, bytes of both files): a retry truncates both
 * to the cursor and goes on. Committed metadata first, then validate, whose presence means the batch is done.
 */
import * as fs from 'fs';
import { countLines, openAppender, readJsonLines, type Appender } from '../io/jsonl';
import type { EntryRecord, ValidateRecord } from '../records';
import type { EncodedHeaders } from './header-lines';
import { readHeaderBytes } from './read-pool';

export interface HeaderBatchCursor {
  /** Candidates done, in batch order. */
  done: number;
  /** Bytes of the validate and metadata partial files at that point. */
  bytes: number;
  metadataBytes: number;
}

export interface HeaderBatchCounts {
  processed: number;
  invalid: number;
}

export interface HeaderBatchOptions {
  entries: () => Promise<EntryRecord[]>;
  validateFile: string;
  metadataFile: string;
  resume?: Partial<HeaderBatchCursor>;
  /** After each chunk of files (the caller throttles heartbeats). */
  onProgress?: (cursor: HeaderBatchCursor) => void;
  signal?: AbortSignal;
}

/** Files handed to the read pool at once (split across its threads), and chunks in flight. */
const CHUNK = 512;
const IN_FLIGHT = 2;

/** Counts of a batch whose validate file is complete. */
export async function countHeaderBatch(validateFile: string): Promise<HeaderBatchCounts> {
  let processed = 0;
  let invalid = 0;
  for await (const r of readJsonLines<ValidateRecord>(validateFile)) {
    processed++;
    if (r.status === 'invalid') invalid++;
  }
  return { processed, invalid };
}

export async function readHeaderBatch(opts: HeaderBatchOptions): Promise<HeaderBatchCounts> {
  if (fs.existsSync(opts.validateFile)) return countHeaderBatch(opts.validateFile);
  const entries = await opts.entries();
  const { validate, metadata, start } = await openOutputs(opts);
  try {
    await readInChunks(entries, start, opts.signal, async (slices, done) => {
      for (const slice of slices) {
        await validate.appendEncoded(slice.validate, slice.files);
        await metadata.appendEncoded(slice.metadata, slice.valid);
      }
      opts.onProgress?.({ done, bytes: validate.bytesWritten(), metadataBytes: metadata.bytesWritten() });
    });
    await metadata.commit();
    await validate.commit();
  } finally {
    await validate.close();
    await metadata.close();
  }
  return countHeaderBatch(opts.validateFile);
}

/**
 * Reads the headers of entries[start..] through the read pool, CHUNK files at a time with IN_FLIGHT chunks under
 * way, and hands each chunk's encoded lines, in order, to `take` with the number of entries done through it.
 */
export async function readInChunks(
  entries: EntryRecord[],
  start: number,
  signal: AbortSignal | undefined,
  take: (slices: EncodedHeaders[], done: number) => Promise<void>,
): Promise<void> {
  const pending: Promise<EncodedHeaders[]>[] = [];
  let next = start;
  const fill = () => {
    while (pending.length < IN_FLIGHT && next < entries.length) {
      const chunk = readHeaderBytes(entries.slice(next, next + CHUNK));
      chunk.catch(() => undefined); // awaited in order below
      pending.push(chunk);
      next += CHUNK;
    }
  };
  try {
    fill();
    for (let at = start; at < entries.length; at += CHUNK) {
      const lines = await pending.shift()!;
      fill();
      await take(lines, Math.min(at + CHUNK, entries.length));
      if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
    }
  } finally {
    await Promise.allSettled(pending); // no read outlives the batch
  }
}

/** Both partial files, truncated to the cursor of an earlier attempt when it can be trusted, else started over. */
async function openOutputs(opts: HeaderBatchOptions): Promise<{ validate: Appender; metadata: Appender; start: number }> {
  const r = opts.resume;
  if (r && typeof r.done === 'number' && typeof r.bytes === 'number' && typeof r.metadataBytes === 'number') {
    const validate = await openAppender(opts.validateFile, { resumeBytes: r.bytes }).catch(() => null);
    const metadata = validate && (await openAppender(opts.metadataFile, { resumeBytes: r.metadataBytes }).catch(() => null));
    if (validate && metadata) return { validate, metadata, start: r.done };
    await validate?.close();
  }
  // No usable cursor (none, one from an older version, or its partial files are gone): start the batch over.
  return { validate: await openAppender(opts.validateFile), metadata: await openAppender(opts.metadataFile), start: 0 };
}

export interface MetadataCursor {
  done: number;
  bytes: number;
}

/**
 * The metadata lines of a batch that an earlier version validated (it wrote no metadata lines then): the valid
 * files' headers are read once more. Runs validated by this version never come here. Returns the lines written.
 */
export async function readMissingMetadata(opts: {
  entries: () => Promise<EntryRecord[]>;
  validateFile: string;
  metadataFile: string;
  resume?: Partial<MetadataCursor>;
  onProgress?: (cursor: MetadataCursor) => void;
  signal?: AbortSignal;
}): Promise<number> {
  if (fs.existsSync(opts.metadataFile)) return countLines(opts.metadataFile);
  const valid = new Set<number>();
  for await (const v of readJsonLines<ValidateRecord>(opts.validateFile)) if (v.status === 'valid') valid.add(v.i);
  const entries = (await opts.entries()).filter((e) => valid.has(e.i));
  const r = opts.resume;
  let out = r && typeof r.done === 'number' && typeof r.bytes === 'number' ? await openAppender(opts.metadataFile, { resumeBytes: r.bytes }).catch(() => null) : null;
  const start = out ? r!.done! : 0;
  out ??= await openAppender(opts.metadataFile);
  const metadata = out;
  try {
    await readInChunks(entries, start, opts.signal, async (slices, done) => {
      // A file that changed since validation has no metadata line; organize reports it.
      for (const slice of slices) await metadata.appendEncoded(slice.metadata, slice.valid);
      opts.onProgress?.({ done, bytes: metadata.bytesWritten() });
    });
    await metadata.commit();
  } finally {
    await metadata.close();
  }
  return countLines(opts.metadataFile);
}
