/**
 * The extract stage without Temporal: a zip or a folder becomes entries.jsonl (one EntryRecord per entry,
 * in source order) and candidate batch files (the entries left for validation, batchSize per file).
 * Idempotent: a finished manifest is never redone, finished batch files are only counted.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EntryRecord } from '../records';
import { workspace, Workspace } from '../workspace';
import { IoFailure } from './errors';
import { walkFolder } from './folder';
import { openAppender, readJsonLines, writeJsonLines } from './jsonl';
import { extractZip } from './zip';

export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 100 * 1024 ** 3;

export interface ExtractProgress {
  phase: 'extract' | 'batches';
  /** Records of entries.jsonl written so far. */
  entryIndex: number;
  /** Bytes inflated (zip) or listed (folder) so far. */
  bytes: number;
}

export interface ExtractOptions {
  /** Absolute path of a .zip or a folder. */
  source: string;
  outDir: string;
  batchSize: number;
  maxUncompressedBytes?: number;
  /** The last progress of an earlier attempt: its first entryIndex entries' files are kept when intact. */
  resumeFrom?: { entryIndex?: number };
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
  if (!Number.isInteger(opts.batchSize) || opts.batchSize < 1) {
    throw new IoFailure(`batchSize must be a positive integer, got ${opts.batchSize}`, 'BadInput', false);
  }
  const ws = workspace(opts.outDir);
  if (!fs.existsSync(ws.entriesManifest)) await writeManifest(opts, ws);
  return writeBatches(ws, opts.batchSize, opts.onProgress);
}

async function writeManifest(opts: ExtractOptions, ws: Workspace): Promise<void> {
  const stat = await fs.promises.stat(opts.source).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') throw new IoFailure(`source not found: ${opts.source}`, 'SourceNotFound', false);
    throw err;
  });
  const manifest = await openAppender(ws.entriesManifest);
  const onProgress = (entryIndex: number, bytes: number) => opts.onProgress?.({ phase: 'extract', entryIndex, bytes });
  try {
    if (stat.isDirectory()) {
      await walkFolder(opts.source, { exclude: ws.root, signal: opts.signal, emit: (r) => manifest.append(r), onProgress });
    } else {
      const tmpDir = path.join(ws.workDir, 'extract-tmp');
      await extractZip(opts.source, {
        extractedDir: ws.extractedDir,
        tmpDir,
        maxUncompressedBytes: opts.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES,
        trustBelow: opts.resumeFrom?.entryIndex ?? 0,
        signal: opts.signal,
        emit: (r) => manifest.append(r),
        onProgress,
      });
      await fs.promises.rm(tmpDir, { recursive: true, force: true });
    }
  } catch (err) {
    await manifest.close();
    throw err;
  }
  await manifest.commit();
}

/** Counts the manifest and, unless a complete set is already there, splits its candidates into batch files. */
async function writeBatches(ws: Workspace, batchSize: number, onProgress?: (p: ExtractProgress) => void): Promise<ExtractSummary> {
  const summary: ExtractSummary = { entries: 0, candidates: 0, skipped: 0, refused: 0, bytes: 0, batchCount: 0 };
  for await (const record of readJsonLines<EntryRecord>(ws.entriesManifest)) {
    summary.entries++;
    if (record.status === 'skipped') summary.skipped++;
    else if (record.status === 'refused') summary.refused++;
    else {
      summary.candidates++;
      if (record.file) summary.bytes += await fs.promises.lstat(record.file).then((s) => s.size, () => 0);
    }
  }
  summary.batchCount = Math.ceil(summary.candidates / batchSize);
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
  for await (const record of readJsonLines<EntryRecord>(ws.entriesManifest)) {
    if (record.status !== null) continue;
    batch.push(record);
    if (batch.length === batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return summary;
}

function batchesComplete(ws: Workspace, batchCount: number): boolean {
  for (let k = 0; k < batchCount; k++) if (!fs.existsSync(ws.candidateBatch(k))) return false;
  return !fs.existsSync(ws.candidateBatch(batchCount));
}
