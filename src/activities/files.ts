/**
 * The file catalog's two activities, thin wrappers over src/incremental/scan.ts and src/db/files.ts:
 * - scanFolder (extract stage, folder sources): the files new or changed since the runs before, as the run's manifest;
 * - recordFiles (load stage): the run's files into the `files` table, gone files marked (and with prune removed from
 *   the catalog and the tree), the run's hash and counts into `runs`.
 */
import * as fs from 'fs';
import { openCatalog, releaseCatalog } from '../db/catalog';
import { knownFiles, recordFiles as recordFilesInCatalog, type FileCatalogResult } from '../db/files';
import { scanFolder as scan, type ScanCounts } from '../incremental/scan';
import { sha256File } from '../io/sha256';
import { workspace } from '../workspace';
import { logEvent } from '../log';
import { heartbeat } from './heartbeat';
import { toApplicationFailure } from './io-failures';
import { asFailure } from './load-database';

export interface ScanFolderInput {
  /** Absolute path of the folder. */
  source: string;
  outDir: string;
  dbUrl?: string;
  runKey?: string;
  /** Unchanged files go on too (ingest --rerun). */
  processAll?: boolean;
}

export type { ScanCounts, FileCatalogResult };

export async function scanFolder(input: ScanFolderInput): Promise<ScanCounts> {
  const hb = heartbeat<{ phase: 'scan'; entryIndex: number }>();
  const db = await openCatalog({ outDir: input.outDir, dbUrl: input.dbUrl }).catch((err) => {
    throw asFailure(err, input, 'open');
  });
  // The catalog is read while the folder is walked (the scan awaits it once every file is stat'ed).
  const known = knownFiles(db, input.source)
    .catch((err) => {
      throw asFailure(err, input, 'load');
    })
    .finally(() => releaseCatalog(db, input.outDir));
  known.catch(() => undefined); // awaited by the scan; a walk that fails first still leaves it handled
  try {
    const counts = await scan({ source: input.source, outDir: input.outDir, runKey: input.runKey, known, processAll: input.processAll, signal: hb.signal, onProgress: (n) => hb.beat({ phase: 'scan', entryIndex: n }) });
    logEvent(input.outDir, 'info', 'extract', 'folder scanned against the file catalog', { source: input.source, ...counts });
    return counts;
  } catch (err) {
    throw toApplicationFailure(err);
  }
}

export interface RecordFilesInput {
  outDir: string;
  dbUrl?: string;
  runKey?: string;
  runId: string;
  source: string;
  changes?: ScanCounts;
  /** A zip (a URL's download) to hash: its SHA-256 goes into runs and the result (the same zip is not run again). */
  hashSource?: string;
  prune?: boolean;
}

export async function recordFiles(input: RecordFilesInput): Promise<FileCatalogResult & { sourceSha256?: string }> {
  heartbeat(); // the worker's keep-alive heartbeats while the transaction runs
  let sourceSha256: string | undefined;
  try {
    // Taken by the extract stage beside the unpacking; else (a run extracted by an earlier version) read once more.
    if (input.hashSource) sourceSha256 = recordedSha256(input) ?? (await sha256File(input.hashSource));
  } catch (err) {
    throw toApplicationFailure(err);
  }
  const db = await openCatalog({ outDir: input.outDir, dbUrl: input.dbUrl }).catch((err) => {
    throw asFailure(err, input, 'open');
  });
  try {
    const result = await recordFilesInCatalog(db, { ...input, sourceSha256 });
    logEvent(input.outDir, 'info', 'load', 'file catalog recorded', { ...result, sourceSha256 });
    return { ...result, ...(sourceSha256 ? { sourceSha256 } : {}) };
  } catch (err) {
    throw asFailure(err, input, 'load');
  } finally {
    await releaseCatalog(db, input.outDir);
  }
}

/** The zip's hash the extract stage wrote in the run's scratch, if it did. */
function recordedSha256(input: RecordFilesInput): string | undefined {
  if (input.runKey === undefined) return undefined;
  try {
    const hex = fs.readFileSync(workspace(input.outDir, input.runKey).sourceSha256, 'utf8').trim();
    return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
  } catch {
    return undefined;
  }
}
