/**
 * The extract stage without Temporal: a zip or a folder becomes entries.jsonl (one EntryRecord per entry,
 * in source order) and candidate batch files (the entries left for validation), each sized by work: up to
 * BATCH_FILES files or BATCH_BYTES bytes, or exactly `batchSize` files when given (--batch-size).
 * Idempotent: a finished manifest is never redone, finished batch files are only counted.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EntryRecord } from '../records';
import { workspace, Workspace } from '../workspace';
import { IoFailure } from './errors';
import { walkFolder } from './folder';
import { openAppender, readJsonLines, writeJsonLines } from './jsonl';
import { sha256InThread } from './sha256';
import { extractZip } from './zip';
import { removeTree } from './scratch';

export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 100 * 1024 ** 3;

/**
 * A batch of the header pass: about a second of work on two cores from the page cache (20,000+ files/s), a few
 * seconds from disk; so a stage costs a few Temporal round trips, not one per few hundred files, and the batches
 * of a big source still spread over every worker. Bytes bound batches of very large files.
 */
export const BATCH_FILES = 8192;
export const BATCH_BYTES = 4 * 1024 ** 3;

/** Manifest records gathered before one write. */
const MANIFEST_BUFFER = 256 * 1024;

export interface ExtractProgress {
  phase: 'extract' | 'batches';
  /** Records of entries.jsonl written so far. */
  entryIndex: number;
  /** Bytes inflated (zip) or listed (folder) so far. */
  bytes: number;
  /** Bytes a zip's entries declare: what `bytes` grows to. */
  totalBytes?: number;
}

export interface ExtractOptions {
  /** Absolute path of a .zip or a folder. */
  source: string;
  outDir: string;
  /** Files per batch; without it batches are sized by work (BATCH_FILES, BATCH_BYTES). */
  batchSize?: number;
  maxUncompressedBytes?: number;
  /** The run's scratch key: its own work and extracted folders (workspace.ts). */
  runKey?: string;
  signal?: AbortSignal;
  onProgress?: (progress: ExtractProgress) => void;
}

export interface ExtractSummary {
  entries: number;
  candidates: number;
  skipped: number;
  refused: number;
  /** Total size of the candidate files. */
  bytes: number;
  batchCount: number;
}

export async function extractSource(opts: ExtractOptions): Promise<ExtractSummary> {
  if (opts.batchSize !== undefined && (!Number.isInteger(opts.batchSize) || opts.batchSize < 1)) {
    throw new IoFailure(`batchSize must be a positive integer, got ${opts.batchSize}`, 'BadInput', false);
  }
  const ws = workspace(opts.outDir, opts.runKey);
  if (!fs.existsSync(ws.entriesManifest)) {
    try {
      await writeManifest(opts, ws);
    } catch (err) {
      // A failure no retry can fix (a zip bomb stopped at the limit, not a zip) leaves nothing of this run behind:
      // the entries inflated so far can be gigabytes. Retryable failures keep them, for the retry to go on from.
      if (err instanceof IoFailure && !err.retryable) await removePartialExtract(ws);
      throw err;
    }
  }
  const limits = opts.batchSize ? { files: opts.batchSize, bytes: Infinity } : { files: BATCH_FILES, bytes: BATCH_BYTES };
  return writeBatches(ws, limits, opts.onProgress);
}

async function writeManifest(opts: ExtractOptions, ws: Workspace): Promise<void> {
  const stat = await fs.promises.stat(opts.source).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new IoFailure(`source not found: ${opts.source}`, 'SourceNotFound', false);
    throw err;
  });
  const manifest = await openAppender(ws.entriesManifest, { bufferBytes: MANIFEST_BUFFER });
  const onProgress = (entryIndex: number, bytes: number, totalBytes?: number) => opts.onProgress?.({ phase: 'extract', entryIndex, bytes, totalBytes });
  try {
    if (stat.isDirectory()) {
      await walkFolder(opts.source, { exclude: ws.root, signal: opts.signal, emit: (r) => manifest.append(r), onProgress });
    } else {
      // The zip's hash (the file catalog's: the same zip is not run again) on a thread beside the unpacking, which
      // reads the zip from the page cache then; a hash that fails is left to the file catalog's stage to take.
      const stopHash = new AbortController();
      const hashing = ws.runKey === undefined ? undefined : sha256InThread(opts.source, stopHash.signal).catch(() => undefined);
      const tmpDir = path.join(ws.workDir, 'extract-tmp');
      await extractZip(opts.source, {
        extractedDir: ws.extractedDir,
        tmpDir,
        maxUncompressedBytes: opts.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES,
        signal: opts.signal,
        emit: (r) => manifest.append(r),
        onProgress,
      }).catch((err: unknown) => {
        stopHash.abort();
        throw err;
      });
      await removeTree(tmpDir);
      const sha256 = await hashing;
      if (sha256) await fs.promises.writeFile(ws.sourceSha256, sha256);
    }
  } catch (err) {
    await manifest.close();
    throw err;
  }
  await manifest.commit();
}

/** The run's partial extraction: its extracted entries, its temp folder and its unfinished manifest (own scratch only). */
async function removePartialExtract(ws: Workspace): Promise<void> {
  if (ws.runKey === undefined) return; // the shared layout's extracted/ may hold other runs' entries
  // removeTree, not fs.promises.rm: a bomb found late leaves up to hundreds of thousands of entries behind.
  for (const p of [ws.extractedDir, path.join(ws.workDir, 'extract-tmp'), ws.entriesManifest, `${ws.entriesManifest}.partial`]) await removeTree(p);
}

/** Counts the manifest and, unless a complete set is already there, splits its candidates into batch files. */
async function writeBatches(ws: Workspace, limits: { files: number; bytes: number }, onProgress?: (p: ExtractProgress) => void): Promise<ExtractSummary> {
  const summary: ExtractSummary = { entries: 0, candidates: 0, skipped: 0, refused: 0, bytes: 0, batchCount: 0 };
  let inBatch = { files: 0, bytes: 0 };
  const batchesOf = async (each: (record: EntryRecord, startsBatch: boolean) => Promise<void>) => {
    inBatch = { files: 0, bytes: 0 };
    for await (const record of readJsonLines<EntryRecord>(ws.entriesManifest)) {
      if (record.status !== null) {
        await each(record, false);
        continue;
      }
      // Manifests written before sizes were recorded: ask the file system.
      const size = record.size ?? (record.file ? fs.lstatSync(record.file, { throwIfNoEntry: false })?.size ?? 0 : 0);
      const starts = inBatch.files === 0 || inBatch.files >= limits.files || inBatch.bytes + size > limits.bytes;
      if (starts) inBatch = { files: 0, bytes: 0 };
      inBatch.files++;
      inBatch.bytes += size;
      await each({ ...record, size }, starts);
    }
  };
  await batchesOf(async (record, startsBatch) => {
    summary.entries++;
    if (record.status === 'skipped') summary.skipped++;
    else if (record.status === 'refused') summary.refused++;
    else {
      summary.candidates++;
      summary.bytes += record.size ?? 0;
      if (startsBatch) summary.batchCount++;
    }
  });
  if (batchesComplete(ws, summary.batchCount)) return summary;

  // Batches are written in order, each atomically, after stale ones are cleared: the last one present means all are.
  await fs.promises.rm(path.dirname(ws.candidateBatch(0)), { recursive: true, force: true });
  let batch: EntryRecord[] = [];
  let batchIndex = 0;
  const flush = async () => {
    await writeJsonLines(ws.candidateBatch(batchIndex), batch);
    batchIndex++;
    batch = [];
    onProgress?.({ phase: 'batches', entryIndex: summary.entries, bytes: summary.bytes });
  };
  await batchesOf(async (record, startsBatch) => {
    if (record.status !== null) return;
    if (startsBatch && batch.length > 0) await flush();
    batch.push(record);
  });
  if (batch.length > 0) await flush();
  return summary;
}

function batchesComplete(ws: Workspace, batchCount: number): boolean {
  for (let k = 0; k < batchCount; k++) if (!fs.existsSync(ws.candidateBatch(k))) return false;
  return !fs.existsSync(ws.candidateBatch(batchCount));
}
