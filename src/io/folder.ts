/**
 * Lists a folder source: every file under it, sorted by its '/'-joined relative path in byte order,
 * referenced in place (nothing is copied). Symlinks are never followed.
 *
 * The listing (every readdir, the sort, one lstat per file) is one synchronous pass, run on a thread of its own
 * (io/folder-worker.ts) so that this thread stays free: the incremental scan reads the file catalog meanwhile, and the
 * activity's heartbeats go on. Without a compiled script or with one core it runs here, a slice at a time.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { EntryRecord } from '../records';
import { isMacosMetadata } from './entry-path';
import { compiledScript, poolThreads } from './thread-pool';

export interface FolderWalkOptions {
  /** A folder inside the source not to list (the output folder, when it sits inside the source). */
  exclude?: string;
  signal?: AbortSignal;
  /** A regular file's record carries the size the walk's one lstat found (0 when it went meanwhile). */
  emit: (record: EntryRecord) => Promise<void>;
  onProgress?: (entryIndex: number, bytes: number) => void;
}

/** What a listing found at a path. */
const enum Kind {
  File = 0,
  MacosMetadata = 1,
  Symlink = 2,
  Other = 3,
  Unreadable = 4,
}

/**
 * A folder's listing, in byte order of the relative paths: parallel arrays (a thread posts them back as they are, the
 * numbers without a copy). sizes and mtimes hold the lstat of regular files (NaN: gone meanwhile, or not a file).
 */
export interface FolderListing {
  /** The folder listed (absolute). */
  root: string;
  relative: string[];
  kinds: Uint8Array;
  sizes: Float64Array;
  mtimes: Float64Array;
  /** Why a folder could not be read, by index. */
  errors: Record<number, string>;
}

/** The heap of a listing's threads (a million paths fit). */
export const LISTING_THREAD_LIMITS = { maxYoungGenerationSizeMb: 16, maxOldGenerationSizeMb: 512 };

/**
 * Files a listing's thread finds before it starts a helper thread for half of the lstats (starting a thread costs
 * about what 10,000 lstats do). Tests lower it to list a small folder the helped way.
 */
export const listingTuning = { helpFrom: 32_768 };

/** Work between two yields of the listing (files stat'ed, entries listed). */
const SLICE = 4096;

export async function walkFolder(root: string, opts: FolderWalkOptions): Promise<{ entries: number; bytes: number }> {
  const rootAbs = path.resolve(root);
  const exclude = opts.exclude ? path.resolve(opts.exclude) : undefined;
  const listing = await listFolder(rootAbs, exclude, opts.signal);

  let bytes = 0;
  for (let i = 0; i < listing.relative.length; i++) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('cancelled');
    // Timers and I/O get their turn (the activity's heartbeats) when emit never waits.
    if (i % SLICE === SLICE - 1) await new Promise((resolve) => setImmediate(resolve));
    const record = listedEntry(listing, i);
    bytes += record.size ?? 0;
    await opts.emit(record);
    opts.onProgress?.(i + 1, bytes);
  }
  return { entries: listing.relative.length, bytes };
}

/** The i-th entry of a listing as the manifest records it. */
export function listedEntry(listing: FolderListing, i: number): EntryRecord {
  const source = listing.relative[i];
  switch (listing.kinds[i] as Kind) {
    case Kind.Unreadable:
      return { i, source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message: `folder cannot be read: ${listing.errors[i]}` };
    case Kind.Symlink:
      return { i, source, file: null, status: 'skipped', code: 'SKIPPED_NOT_A_FILE', message: 'symbolic link, not followed' };
    case Kind.Other:
      return { i, source, file: null, status: 'skipped', code: 'SKIPPED_NOT_A_FILE', message: 'not a regular file' };
    case Kind.MacosMetadata:
      return { i, source, file: null, status: 'skipped', code: 'SKIPPED_MACOS_METADATA', message: 'macOS metadata, not DICOM' };
    default: {
      const size = listing.sizes[i];
      // Each file's absolute path is made when it is needed, not kept for every file: path.join's strings are built a
      // character at a time and held ~700 bytes a file, 195 MB of heap for 247,000 files (~40 MB without them).
      return { i, source, file: under(listing.root, source), status: null, size: Number.isNaN(size) ? 0 : size };
    }
  }
}

/** A listed entry that is a regular file (not macOS metadata): what has a size and mtime. */
export function isListedFile(listing: FolderListing, i: number): boolean {
  return listing.kinds[i] === (Kind.File as number);
}

/** The listing, on a thread of its own when there is a compiled script and more than one core. */
export async function listFolder(rootAbs: string, exclude: string | undefined, signal?: AbortSignal): Promise<FolderListing> {
  const script = compiledScript(__dirname, 'io/folder-worker.js');
  if (script && poolThreads() > 1) return listOnThread(script, rootAbs, exclude, signal);
  const steps = listing(rootAbs, exclude);
  for (let step = steps.next(); ; step = steps.next()) {
    if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
    if (step.done) return step.value;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function listOnThread(script: string, rootAbs: string, exclude: string | undefined, signal?: AbortSignal): Promise<FolderListing> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason ?? new Error('cancelled'));
    const worker = new Worker(script, { workerData: { rootAbs, exclude, helpFrom: listingTuning.helpFrom }, resourceLimits: LISTING_THREAD_LIMITS });
    const stop = () => {
      void worker.terminate();
      reject(signal?.reason ?? new Error('cancelled'));
    };
    signal?.addEventListener('abort', stop, { once: true });
    worker.once('message', (m: { listing?: FolderListing; error?: { message: string; code?: string } }) => {
      signal?.removeEventListener('abort', stop);
      void worker.terminate();
      if (m.listing) resolve(m.listing);
      else reject(Object.assign(new Error(m.error?.message ?? 'the folder listing failed'), { code: m.error?.code }));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the folder listing's thread exited (${code})`)));
  });
}

/**
 * The listing as one synchronous pass that pauses (yields) every SLICE entries: a thread runs it straight through,
 * this thread with a turn of the event loop at each pause. Readdir and lstat are synchronous: from the inode cache
 * they cost microseconds, an async call ten times that.
 */
export function* listing(rootAbs: string, exclude?: string): Generator<number, FolderListing> {
  const out = yield* listedPaths(rootAbs, exclude);
  yield* statListed(out, 0, out.relative.length);
  return out;
}

/**
 * Every path under the folder, sorted, without its lstat (sizes and mtimes NaN): the walk's readdirs. It yields the
 * number of entries listed so far (the thread starts a helper for the lstats once there are many).
 */
export function* listedPaths(rootAbs: string, exclude?: string): Generator<number, FolderListing> {
  const listed: { relative: string; kind: Kind; error?: string }[] = [];
  const dirs: [abs: string, rel: string][] = [[rootAbs, '']];
  let seen = 0;
  while (dirs.length > 0) {
    const [absDir, relDir] = dirs.pop()!;
    let dirents: fs.Dirent[];
    try {
      dirents = fs.readdirSync(absDir, { withFileTypes: true });
    } catch (err) {
      if (relDir === '') throw err; // the source itself: the caller reports it
      listed.push({ relative: relDir, kind: Kind.Unreadable, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
      continue;
    }
    for (const d of dirents) {
      const relative = relDir === '' ? d.name : `${relDir}/${d.name}`;
      const abs = under(absDir, d.name);
      // Some file systems do not report the type in readdir: ask lstat then.
      const type = d.isFile() || d.isDirectory() || d.isSymbolicLink() ? d : fs.lstatSync(abs);
      if (type.isDirectory()) {
        if (abs !== exclude) dirs.push([abs, relative]);
      } else if (type.isSymbolicLink()) listed.push({ relative, kind: Kind.Symlink });
      else if (type.isFile()) listed.push({ relative, kind: isMacosMetadata(relative) ? Kind.MacosMetadata : Kind.File });
      else listed.push({ relative, kind: Kind.Other });
    }
    seen += dirents.length;
    if (seen >= SLICE) {
      seen = 0;
      yield listed.length;
    }
  }
  const found = sortByBytes(listed);
  const n = found.length;
  const out: FolderListing = { root: rootAbs, relative: new Array<string>(n), kinds: new Uint8Array(n), sizes: new Float64Array(n).fill(NaN), mtimes: new Float64Array(n).fill(NaN), errors: {} };
  for (let i = 0; i < n; i++) {
    const f = found[i];
    out.relative[i] = f.relative;
    out.kinds[i] = f.kind;
    if (f.error !== undefined) out.errors[i] = f.error;
  }
  return out;
}

/** The lstat of the regular files from..to of a listing, kept as two numbers (NaN: gone meanwhile), not as Stats. */
export function* statListed(out: FolderListing, from: number, to: number): Generator<number, void> {
  for (let i = from; i < to; i++) {
    if (out.kinds[i] !== (Kind.File as number)) continue;
    const stat = fs.lstatSync(under(out.root, out.relative[i]), { throwIfNoEntry: false });
    if (stat) {
      out.sizes[i] = stat.size;
      out.mtimes[i] = stat.mtimeMs;
    }
    if (i % SLICE === SLICE - 1) yield i;
  }
}

const BEYOND_BMP_ORDER = /[\uD800-\uFFFF]/;

/** Compares two paths in byte order of their UTF-8, the order of a listing (and of SQLite's BINARY collation). */
export function compareBytes(a: string, b: string): number {
  if (BEYOND_BMP_ORDER.test(a) || BEYOND_BMP_ORDER.test(b)) return Buffer.compare(Buffer.from(a), Buffer.from(b));
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * In byte order of the UTF-8 paths. JavaScript's string order (UTF-16 code units) is the same order unless a path
 * holds a character from U+D800 up (surrogate pairs sort below U+E000-U+FFFF in UTF-16, above them in UTF-8): only
 * then is each path encoded, once (not twice per comparison).
 */
function sortByBytes<T extends { relative: string }>(listed: T[]): T[] {
  if (!listed.some((f) => BEYOND_BMP_ORDER.test(f.relative))) return listed.sort((a, b) => (a.relative < b.relative ? -1 : a.relative > b.relative ? 1 : 0));
  return listed
    .map((f) => ({ f, key: Buffer.from(f.relative) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map(({ f }) => f);
}

/** `relative` ('/'-separated) under the absolute folder `dir`, by plain concatenation where '/' is the separator. */
function under(dir: string, relative: string): string {
  if (path.sep !== '/') return path.join(dir, ...relative.split('/'));
  return dir.endsWith('/') ? dir + relative : `${dir}/${relative}`;
}
