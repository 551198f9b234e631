/**
 * Putting a file into the organized tree without copying bytes when the file system allows. Synchronous calls:
 * a link or a mkdir takes microseconds, an async call through the thread pool several times that; the caller
 * yields to the event loop between chunks of files.
 */
import * as fs from 'fs';
import * as path from 'path';

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

export type Placement = 'linked' | 'copied' | 'already-there';

/** Places files, remembering the folders it made so a series costs one mkdir, not one per file. */
export class Placer {
  private readonly made = new Set<string>();

  /**
   * Places `source` at `dest`: a hard link (no bytes copied), else a copy (another device, or a file system
   * without hard links) through a temp name and rename. Idempotent: a dest that already holds the same file
   * is left alone, so a retried organize never duplicates or rewrites.
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
      if (code === 'EEXIST') {
        if (sameBytes(source, dest)) return 'already-there';
        fs.unlinkSync(dest); // left by an earlier run with other content: this run's winner replaces it
        return this.place(source, dest);
      }
      if (code === 'ENOENT' && this.made.has(dir) && !fs.existsSync(dir)) {
        this.made.delete(dir); // the folder went away meanwhile: make it again
        return this.place(source, dest);
      }
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
    }
    const tmp = `${dest}.tmp-${process.pid}`;
    fs.copyFileSync(source, tmp, fs.constants.COPYFILE_FICLONE);
    fs.renameSync(tmp, dest);
    return 'copied';
  }
}

/** One placement with a fresh folder cache (tests, tools). */
export function placeFile(source: string, dest: string): Placement {
  return new Placer().place(source, dest);
}
