/**
 * The incremental scan of a folder source, without Temporal: lists the folder (the extract stage's own listing, on a
 * thread of its own while the catalog is read), compares every file with what the file catalog knows of it from the
 * runs before (path, size, modification time; the content hash when those are ambiguous) — both in byte order of the
 * paths, so one pass over the two pairs them, without a map or an object per unchanged file — and writes the run's entries manifest with the new and changed files only, so the
 * extract stage that follows only cuts it into batches and every later stage sees just those files.
 *
 * Under the run's scratch folder it writes, besides entries.jsonl:
 *   files.jsonl   one FileSeen per new, changed or touched (same bytes, new mtime) file: what the file catalog records
 *   gone.jsonl    the paths the catalog knew that are no longer in the folder
 *   scan.json     the counts (written last: its presence means the scan is done, and a retry returns it)
 *
 * Ambiguous: the same size with another mtime, or the same size and mtime when that mtime was within RACY_MS of the
 * moment the file was last seen (a file rewritten within the clock's granularity of the last look keeps its mtime).
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EntryRecord } from '../records';
import { workspace } from '../workspace';
import { compareBytes, isListedFile, listedEntry, listFolder } from '../io/folder';
import { openAppender, writeJsonLines } from '../io/jsonl';
import { ONE_READ_BYTES, sha256File, sha256SmallFilesOnPool } from '../io/sha256';

/**
 * What the file catalog knows of a source's files, in byte order of their paths (the listing's order, so the scan
 * compares the two by walking both at once), as parallel arrays: no object per file for the 100,000s that did not
 * change.
 */
export interface KnownFiles {
  paths: string[];
  /** NaN: not known. */
  sizes: number[];
  mtimes: number[];
  sha256: (string | null)[];
  /** When a run last saw the file (ms since 1970). */
  seenAt: number[];
  gone: boolean[];
}

export function noKnownFiles(): KnownFiles {
  return { paths: [], sizes: [], mtimes: [], sha256: [], seenAt: [], gone: [] };
}

/** Puts `known` in byte order of its paths (as read from SQLite it is already, and this costs one pass). */
export function inByteOrder(known: KnownFiles): KnownFiles {
  const n = known.paths.length;
  let sorted = true;
  for (let j = 1; j < n && sorted; j++) sorted = compareBytes(known.paths[j - 1], known.paths[j]) < 0;
  if (sorted) return known;
  const order = Array.from({ length: n }, (_, j) => j).sort((a, b) => compareBytes(known.paths[a], known.paths[b]));
  const pick = <T>(values: T[]) => order.map((j) => values[j]);
  return { paths: pick(known.paths), sizes: pick(known.sizes), mtimes: pick(known.mtimes), sha256: pick(known.sha256), seenAt: pick(known.seenAt), gone: pick(known.gone) };
}

/** One file of `known`, as the scan's decisions about a changed file need it. */
export function knownFile(known: KnownFiles, j: number): KnownFile {
  const orNull = (v: number) => (Number.isNaN(v) ? null : v);
  return { size: orNull(known.sizes[j]), mtimeMs: orNull(known.mtimes[j]), sha256: known.sha256[j], seenAtMs: known.seenAt[j], gone: known.gone[j] };
}

/** What the file catalog knows of a file of the source. */
export interface KnownFile {
  size: number | null;
  mtimeMs: number | null;
  sha256: string | null;
  /** When a run last saw it (ms since 1970). */
  seenAtMs: number;
  gone: boolean;
}

export interface ScanCounts {
  new: number;
  changed: number;
  unchanged: number;
  gone: number;
}

/** files.jsonl: a file of this run's scan the catalog gets (new or changed: processed; touched: only its mtime). */
export interface FileSeen {
  path: string;
  size: number | null;
  mtimeMs: number | null;
  sha256: string | null;
  change: 'new' | 'changed' | 'touched';
}

export interface ScanOptions {
  /** Absolute path of the folder. */
  source: string;
  outDir: string;
  runKey?: string;
  /**
   * The catalog's files of this source. A promise is awaited once the folder is listed and stat'ed: the catalog is
   * read while the listing runs (on its own thread).
   */
  known: KnownFiles | Promise<KnownFiles>;
  /** Every file goes on, unchanged ones too (`ingest --rerun`); the counts still say what changed. */
  processAll?: boolean;
  signal?: AbortSignal;
  onProgress?: (filesSeen: number) => void;
}

/** An mtime this close to the last look at the file does not prove the file unchanged. */
export const RACY_MS = 2000;
/** Files hashed at once (one job of the hash pool), and groups hashed while the walk goes on. */
const HASH_GROUP = 256;
const GROUPS_IN_FLIGHT = 4;
/** Files compared between two turns of the event loop. */
const SLICE = 4096;

export function scanFiles(outDir: string, runKey?: string) {
  const ws = workspace(outDir, runKey);
  return {
    ws,
    done: path.join(ws.workDir, 'scan.json'),
    files: path.join(ws.workDir, 'files.jsonl'),
    gone: path.join(ws.workDir, 'gone.jsonl'),
  };
}

export async function scanFolder(opts: ScanOptions): Promise<ScanCounts> {
  const out = scanFiles(opts.outDir, opts.runKey);
  if (fs.existsSync(out.done)) return JSON.parse(fs.readFileSync(out.done, 'utf8')) as ScanCounts;
  // A scan cut short is done again from the start (nothing after it has used its files yet).
  for (const f of [out.ws.entriesManifest, out.files, out.gone]) fs.rmSync(f, { force: true });

  const counts: ScanCounts = { new: 0, changed: 0, unchanged: 0, gone: 0 };
  const manifest = await openAppender(out.ws.entriesManifest, { bufferBytes: 256 * 1024 });
  const seenFiles = await openAppender(out.files, { bufferBytes: 256 * 1024 });
  let next = 0; // the manifest's own entry index: source order among the files it holds
  /**
   * Files in source order, waiting for a group to be hashed: `hash` ones are decided once their hash is known (new,
   * changed, or same bytes as before); the others are decided already (`seen` says what to record, if anything).
   */
  type Pending = { record: EntryRecord; known?: KnownFile; size: number | null; mtimeMs: number | null } & (
    | { hash: true; verdict: 'new' | 'changed' | 'maybe' }
    | { hash: false; goesOn: boolean; seen?: FileSeen }
  );
  let pending: Pending[] = [];

  /**
   * Groups of files whose hashes are being taken (small files on the hash pool's threads, on every core, while the
   * walk goes on); written in the order they were made, so the manifest stays in source order.
   */
  const hashing: { group: Pending[]; hashes: Promise<(string | null)[]> }[] = [];
  const hashGroup = async (group: Pending[]): Promise<(string | null)[]> => {
    const small = group.map((p) => (p.hash && p.record.file && p.size !== null && p.size <= ONE_READ_BYTES ? p.record.file : null));
    const [smallHashes, large] = await Promise.all([
      small.some((f) => f !== null) ? sha256SmallFilesOnPool(small) : Promise.resolve(small),
      Promise.all(group.map((p, k) => (p.hash && p.record.file && small[k] === null ? sha256File(p.record.file).catch(() => null) : Promise.resolve(null)))),
    ]);
    return group.map((_, k) => (small[k] !== null ? smallHashes[k] : large[k]));
  };
  const startGroup = () => {
    if (pending.length === 0) return;
    const group = pending;
    pending = [];
    const hashes = hashGroup(group);
    hashes.catch(() => undefined); // awaited in order by writeOldest
    hashing.push({ group, hashes });
  };
  const writeOldest = async () => {
    const { group, hashes: hashed } = hashing.shift()!;
    const hashes = await hashed;
    const entries: EntryRecord[] = [];
    const seen: FileSeen[] = [];
    for (const [k, p] of group.entries()) {
      if (!p.hash) {
        if (p.goesOn) entries.push({ ...p.record, i: next++ });
        if (p.seen) seen.push(p.seen);
        continue;
      }
      const sha256 = hashes[k];
      const change: FileSeen['change'] = p.verdict === 'maybe' ? (sha256 !== null && sha256 === p.known?.sha256 ? 'touched' : 'changed') : p.verdict;
      if (change === 'touched') {
        counts.unchanged++;
        if (opts.processAll) entries.push({ ...p.record, i: next++ });
        else if (p.mtimeMs === p.known?.mtimeMs) continue; // racy but the same bytes: nothing to record
      } else {
        counts[change]++;
        entries.push({ ...p.record, i: next++ });
      }
      seen.push({ path: p.record.source, size: p.size, mtimeMs: p.mtimeMs, sha256, change });
    }
    await manifest.appendAll(entries);
    await seenFiles.appendAll(seen);
  };
  const add = async (p: Pending) => {
    pending.push(p);
    if (pending.length < HASH_GROUP) return;
    startGroup();
    if (hashing.length > GROUPS_IN_FLIGHT) await writeOldest();
  };
  const flush = async () => {
    startGroup();
    while (hashing.length > 0) await writeOldest();
  };

  const gone: string[] = [];
  try {
    const listing = await listFolder(path.resolve(opts.source), path.resolve(out.ws.root), opts.signal);
    const known = await opts.known;
    // Both in byte order of the paths: one pass over the two finds each file's row (j: the catalog's next row).
    let j = 0;
    const n = known.paths.length;
    for (let i = 0; i < listing.relative.length; i++) {
      if (i % SLICE === SLICE - 1) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('cancelled');
        opts.onProgress?.(i);
        await new Promise((resolve) => setImmediate(resolve)); // heartbeats go on when nothing waits
      }
      const source = listing.relative[i];
      for (; j < n && compareBytes(known.paths[j], source) < 0; j++) if (!known.gone[j]) gone.push(known.paths[j]);
      const row = j < n && known.paths[j] === source ? j++ : -1;
      const present = row >= 0 && !known.gone[row] ? row : -1;
      if (!isListedFile(listing, i)) {
        // Skipped or refused by the walk (links, macOS metadata, unreadable folders): new the first time only.
        const record = listedEntry(listing, i);
        counts[present >= 0 ? 'unchanged' : 'new']++;
        const goesOn = present < 0 || !!opts.processAll;
        const seen: FileSeen | undefined = goesOn ? { path: source, size: null, mtimeMs: null, sha256: null, change: present >= 0 ? 'touched' : 'new' } : undefined;
        await add({ record, size: null, mtimeMs: null, hash: false, goesOn, seen });
        continue;
      }
      const stated = !Number.isNaN(listing.sizes[i]); // false: gone since it was listed
      const size = stated ? listing.sizes[i] : 0;
      const mtimeMs = stated ? Math.trunc(listing.mtimes[i]) : null;
      if (present >= 0 && known.sizes[present] === size && known.mtimes[present] === mtimeMs && mtimeMs !== null && mtimeMs < known.seenAt[present] - RACY_MS) {
        // Unchanged, no doubt about it. Processed again only with processAll, recorded as the catalog knows it.
        counts.unchanged++;
        if (!opts.processAll) continue;
        const seen: FileSeen = { path: source, size, mtimeMs, sha256: known.sha256[present], change: 'touched' };
        await add({ record: listedEntry(listing, i), size, mtimeMs, hash: false, goesOn: true, seen });
        continue;
      }
      const was = present >= 0 ? knownFile(known, present) : undefined;
      const verdict = !was ? 'new' : was.size !== size ? 'changed' : 'maybe';
      await add({ record: listedEntry(listing, i), known: was, size, mtimeMs, hash: true, verdict });
    }
    for (; j < n; j++) if (!known.gone[j]) gone.push(known.paths[j]);
    await flush();
    counts.gone = gone.length;
    await writeJsonLines(out.gone, gone);
    await seenFiles.commit();
    await manifest.commit();
  } finally {
    await seenFiles.close();
    await manifest.close();
  }
  opts.onProgress?.(counts.new + counts.changed + counts.unchanged);
  fs.writeFileSync(`${out.done}.tmp`, JSON.stringify(counts));
  fs.renameSync(`${out.done}.tmp`, out.done);
  return counts;
}
