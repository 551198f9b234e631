/**
 * Putting a file into the organized tree without copying bytes when the file system allows. Synchronous calls:
 * a link or a mkdir takes microseconds, an async call through the thread pool several times that; the caller
 * yields to the event loop between chunks of files.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { poolOnFirstUse, runOnPool } from '../io/thread-pool';

/** Same bytes? Sizes first, then a chunked compare (only called for SOP Instance UIDs seen twice). */
export function sameBytes(a: string, b: string): boolean {
  const sa = fs.statSync(a);
  const sb = fs.statSync(b);
  if (sa.size !== sb.size) return false;
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  const fa = fs.openSync(a, 'r');
  const fb = fs.openSync(b, 'r');
  try {
    const size = 1 << 20;
    const ba = Buffer.allocUnsafe(size);
    const bb = Buffer.allocUnsafe(size);
    for (let pos = 0; pos < sa.size; pos += size) {
      const ra = fs.readSync(fa, ba, 0, size, pos);
      const rb = fs.readSync(fb, bb, 0, size, pos);
      if (ra !== rb || !ba.subarray(0, ra).equals(bb.subarray(0, rb))) return false;
    }
    return true;
  } finally {
    fs.closeSync(fa);
    fs.closeSync(fb);
  }
}

/**
 * linked/copied: placed now; already-there: the tree already holds these very bytes (this run's earlier attempt,
 * or another run's copy of the same instance); conflict: the tree holds other bytes under this name, placed by
 * another run, and keeps them (this file is not placed).
 */
export type Placement = 'linked' | 'copied' | 'already-there' | 'conflict';

/** Errors of a hard link the file system cannot make (another device, no hard links): copy instead. */
const NO_LINK = new Set(['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK']);

/** Places files, remembering the folders it made so a series costs one mkdir, not one per file. */
export class Placer {
  private readonly made = new Set<string>();

  /**
   * Places `source` at `dest`: a hard link (no bytes copied), else a copy (another device, or a file system
   * without hard links) through a temp name, then linked into place. Every placement is an exclusive create (link
   * fails when the name exists), never a check-then-write, so runs placing into the same tree at the same time never
   * overwrite each other: a file already there is left alone, whoever put it there. Idempotent: a retried organize
   * finds its own files (same bytes) and places nothing twice.
   */
  place(source: string, dest: string): Placement {
    const dir = path.dirname(dest);
    if (!this.made.has(dir)) {
      fs.mkdirSync(dir, { recursive: true });
      this.made.add(dir);
    }
    try {
      fs.linkSync(source, dest);
      return 'linked';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return sameBytes(source, dest) ? 'already-there' : 'conflict';
      if (code === 'ENOENT' && this.made.has(dir) && !fs.existsSync(dir)) {
        this.made.delete(dir); // the folder went away meanwhile: make it again
        return this.place(source, dest);
      }
      if (!NO_LINK.has(code ?? '')) throw err;
    }
    return copyInto(source, dest);
  }
}

/** A copy placed exclusively: written whole under a temp name, then linked to `dest` (fails when dest exists). */
function copyInto(source: string, dest: string): Placement {
  const tmp = `${dest}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.copyFileSync(source, tmp, fs.constants.COPYFILE_FICLONE);
  try {
    fs.linkSync(tmp, dest);
    return 'copied';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return sameBytes(source, dest) ? 'already-there' : 'conflict';
    if (!NO_LINK.has(code ?? '')) throw err;
    // No hard links at all on this file system: an exclusive create, then the bytes.
    try {
      fs.copyFileSync(tmp, dest, fs.constants.COPYFILE_EXCL);
      return 'copied';
    } catch (excl) {
      if ((excl as NodeJS.ErrnoException).code === 'EEXIST') return sameBytes(source, dest) ? 'already-there' : 'conflict';
      throw excl;
    }
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** A chunk of files to place: [source, dest] pairs, in order. */
export type PlaceJob = [string, string][];

/** What placing a chunk did: each pair's placement, or the error that stopped the chunk (after `placed` of them). */
export interface PlaceAnswer {
  placements: Placement[];
  error?: { message: string; code?: string; path?: string; syscall?: string };
}

/** The folder cache of the thread that places (a pool thread, or organize's own thread without one). */
let chunkPlacer = new Placer();

/** Places a chunk in this thread; an error stops it and comes back as data (a pool thread must not die of it). */
export function placeChunk(job: PlaceJob): PlaceAnswer {
  const placements: Placement[] = [];
  try {
    for (const [source, dest] of job) placements.push(chunkPlacer.place(source, dest));
    return { placements };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    chunkPlacer = new Placer(); // a folder may have gone: the next chunk makes its folders again
    return { placements, error: { message: e?.message ?? String(err), code: e?.code, path: e?.path, syscall: e?.syscall } };
  }
}

/** One thread: links into one tree do not go faster side by side. */
const placePool = poolOnFirstUse<PlaceJob, PlaceAnswer>(__dirname, 'organize/place-worker.js', 1);

/**
 * Places a chunk of files on a thread of its own (one thread: links into one tree do not go faster side by side, but
 * they run beside organize's record work instead of after it); in this thread without a compiled script or with one
 * core. Resolves to each pair's placement; rejects with the file system's error, its code kept.
 */
export async function placeChunkOnThread(job: PlaceJob): Promise<Placement[]> {
  const answer = await runOnPool(placePool(), job, placeChunk);
  if (answer.error) {
    const { message, ...rest } = answer.error;
    throw Object.assign(new Error(message), rest);
  }
  return answer.placements;
}

/** One placement with a fresh folder cache (tests, tools). */
export function placeFile(source: string, dest: string): Placement {
  return new Placer().place(source, dest);
}

/**
 * Which files already in the tree this run placed itself. A retried organize finds its own earlier placements there
 * ('already-there'), and they are this run's instances; a file another run placed with the same bytes is that run's
 * instance, and this run's copy a duplicate of it. Before placing a chunk of files, organize names them in a journal
 * in the run's scratch (an intent: a crash between the journal and the link leaves a name the retry then places),
 * and after it the names it found taken by another run; a retry reads the journal of the attempts before it. (A
 * crash between a chunk's placements and that second note makes the retry take another run's same bytes for its own:
 * the instance is then catalogued under this run, never lost.) A tree file that is the very same file as the source (same
 * inode: a folder's file hard-linked by this or an earlier run of that folder) is always this run's: its bytes are
 * what this run read, so its catalog row is this run's too.
 */
export class RunPlacements {
  private readonly earlier: Set<string>;

  constructor(private readonly journal: string) {
    let text = '';
    try {
      text = fs.readFileSync(journal, 'utf8');
    } catch {
      /* a first attempt */
    }
    this.earlier = new Set();
    for (const line of text.split('\n')) {
      if (line.startsWith('-')) this.earlier.delete(line.slice(1));
      else if (line !== '') this.earlier.add(line);
    }
  }

  /** Names the tree paths (relative to DIR) this attempt is about to place. */
  intend(relatives: string[]): void {
    if (relatives.length === 0) return;
    fs.mkdirSync(path.dirname(this.journal), { recursive: true });
    fs.appendFileSync(this.journal, relatives.join('\n') + '\n');
  }

  /** Notes the intended paths this attempt found taken by another run (a retry must not take them for its own). */
  foreign(relatives: string[]): void {
    if (relatives.length === 0) return;
    fs.appendFileSync(this.journal, relatives.map((r) => `-${r}`).join('\n') + '\n');
  }

  /** Whether the tree file at `dest` (found with the same bytes as `source`) was placed by this run. */
  isOwn(relative: string, source: string, dest: string): boolean {
    if (this.earlier.has(relative)) return true;
    const a = fs.statSync(source, { throwIfNoEntry: false });
    const b = fs.statSync(dest, { throwIfNoEntry: false });
    return !!a && !!b && a.ino === b.ino && a.dev === b.dev;
  }
}
