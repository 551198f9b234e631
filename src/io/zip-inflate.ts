/**
 * Inflating and writing zip entries, one after the other, with synchronous calls: run in the zip pool's threads
 * (zip-worker.ts), so several entries are inflated and written at once on every core. Each entry: its compressed
 * bytes in one read, inflated in one zlib call capped at the declared size + 1 (a lying size cannot blow up
 * memory), size and CRC-32 checked, then written with open/write/close straight to its target. A target already
 * holding the same bytes is kept (a retried extraction rewrites nothing it finished); one holding other bytes (a
 * stale file of another source) is replaced, never written through: its inode may be linked into the organized tree.
 */
import { closeSync, mkdirSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'fs';
import * as path from 'path';
import { crc32, inflateRawSync } from 'zlib';
import { dataStart } from './zip-directory';

export interface InflateJob {
  /** Offset of the entry's local file header in the archive. */
  offset: number;
  compressedSize: number;
  /** Declared uncompressed size. */
  size: number;
  /** 0 stored, 8 deflated. */
  method: number;
  crc: number;
  target: string;
}

export type InflateResult =
  /** Written (or already there with these bytes); `zip`: the bytes start with a local file header. */
  | { kind: 'ok'; zip: boolean }
  /** The entry's own fault (corrupt data, a name that cannot be placed): refused, the walk goes on. */
  | { kind: 'bad'; message: string }
  /** The disk's fault (full, read-only, permissions): the extraction fails and is retried. */
  | { kind: 'fatal'; message: string; code?: string };

export interface InflateBatch {
  zipPath: string;
  jobs: InflateJob[];
}

class BadEntry extends Error {}

/** Errors of placing a file that come from names clashing inside the archive (a file where a folder should be). */
const PLACEMENT_ERRORS = new Set(['ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG', 'ENOTEMPTY']);

export function inflateBatch({ zipPath, jobs }: InflateBatch): InflateResult[] {
  let fd: number;
  try {
    fd = openSync(zipPath, 'r'); // per batch, never cached: the path may name another file next time
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return jobs.map(() => ({ kind: 'fatal', message: `cannot open ${zipPath}: ${e.message}`, code: e.code }));
  }
  try {
    return jobs.map((job) => inflateOne(fd, job));
  } finally {
    closeSync(fd);
  }
}

function inflateOne(fd: number, job: InflateJob): InflateResult {
  let data: Buffer;
  try {
    data = inflateEntry(fd, job);
  } catch (err) {
    if (err instanceof BadEntry) return { kind: 'bad', message: err.message };
    const e = err as NodeJS.ErrnoException;
    return { kind: 'fatal', message: `reading the archive: ${e.message}`, code: e.code };
  }
  try {
    writeTarget(job.target, data);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code && PLACEMENT_ERRORS.has(e.code)) return { kind: 'bad', message: `cannot be placed: ${e.message}` };
    return { kind: 'fatal', message: `writing ${job.target}: ${e.message}`, code: e.code };
  }
  return { kind: 'ok', zip: data.length >= 4 && data.readUInt32LE(0) === 0x04034b50 };
}

function inflateEntry(fd: number, job: InflateJob): Buffer {
  let start: number;
  try {
    start = dataStart(fd, { relativeOffsetOfLocalHeader: job.offset });
  } catch (err) {
    throw new BadEntry(`cannot read entry: ${(err as Error).message}`);
  }
  const raw = Buffer.allocUnsafe(job.compressedSize);
  const got = job.compressedSize === 0 ? 0 : readSync(fd, raw, 0, job.compressedSize, start);
  if (got < job.compressedSize) throw new BadEntry(`cannot read entry: the archive ends ${job.compressedSize - got} bytes into its data`);
  let data: Buffer;
  if (job.method === 0) data = raw;
  else if (job.method === 8) {
    try {
      data = inflateRawSync(raw, { maxOutputLength: job.size + 1 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new BadEntry(`corrupt entry: inflates to more than the ${job.size} bytes it declares`);
      }
      throw new BadEntry(`corrupt entry: ${(err as Error).message}`);
    }
  } else throw new BadEntry(`cannot read entry: unsupported compression method ${job.method}`);
  if (data.length > job.size) throw new BadEntry(`corrupt entry: inflates to more than the ${job.size} bytes it declares`);
  if (data.length !== job.size) throw new BadEntry(`corrupt entry: ${data.length} bytes instead of the ${job.size} it declares`);
  const crc = crc32(data) >>> 0;
  if (crc !== job.crc >>> 0) throw new BadEntry(`corrupt entry: CRC-32 is ${hex(crc)}, the archive says ${hex(job.crc)}`);
  return data;
}

/** Creates `target` with `data`: one open, one write, one close when the folder exists and the name is free. */
function writeTarget(target: string, data: Buffer): void {
  let fd: number | undefined;
  for (let attempt = 0; fd === undefined; attempt++) {
    try {
      fd = openSync(target, 'wx');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (attempt > 2) throw err;
      if (code === 'ENOENT') mkdirSync(path.dirname(target), { recursive: true });
      else if (code === 'EEXIST') {
        if (holds(target, data)) return;
        unlinkSync(target);
      } else throw err;
    }
  }
  try {
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
  } finally {
    closeSync(fd);
  }
}

function holds(target: string, data: Buffer): boolean {
  try {
    return readFileSync(target).equals(data);
  } catch {
    return false;
  }
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
