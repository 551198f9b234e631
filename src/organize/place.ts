/** Putting a file into the organized tree without copying bytes when the file system allows. */
import * as fs from 'fs';
import * as path from 'path';

/** Same bytes? Sizes first, then a chunked compare (only called for SOP Instance UIDs seen twice). */
export async function sameBytes(a: string, b: string): Promise<boolean> {
  const [sa, sb] = await Promise.all([fs.promises.stat(a), fs.promises.stat(b)]);
  if (sa.size !== sb.size) return false;
  if (sa.ino === sb.ino && sa.dev === sb.dev) return true;
  const [fa, fb] = await Promise.all([fs.promises.open(a, 'r'), fs.promises.open(b, 'r')]);
  try {
    const size = 1 << 20;
    const ba = Buffer.allocUnsafe(size);
    const bb = Buffer.allocUnsafe(size);
    for (let pos = 0; pos < sa.size; pos += size) {
      const [ra, rb] = await Promise.all([fa.read(ba, 0, size, pos), fb.read(bb, 0, size, pos)]);
      if (ra.bytesRead !== rb.bytesRead || !ba.subarray(0, ra.bytesRead).equals(bb.subarray(0, rb.bytesRead))) return false;
    }
    return true;
  } finally {
    await Promise.all([fa.close(), fb.close()]);
  }
}

export type Placement = 'linked' | 'copied' | 'already-there';

/**
 * Places `source` at `dest`: a hard link (no bytes copied), else a copy (another device, or a file system
 * without hard links) through a temp name and rename. Idempotent: a dest that already holds the same file
 * is left alone, so a retried organize never duplicates or rewrites.
 */
export async function placeFile(source: string, dest: string): Promise<Placement> {
  await fs.promises.mkdir(path.dirname(dest), { recursive: true });
  try {
    await fs.promises.link(source, dest);
    return 'linked';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if (await sameBytes(source, dest)) return 'already-there';
      await fs.promises.unlink(dest); // left by an earlier run with other content: this run's winner replaces it
      return placeFile(source, dest);
    }
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EMLINK') throw err;
  }
  const tmp = `${dest}.tmp-${process.pid}`;
  await fs.promises.copyFile(source, tmp, fs.constants.COPYFILE_FICLONE);
  await fs.promises.rename(tmp, dest);
  return 'copied';
}
