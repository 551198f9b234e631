/**
 * SHA-256 of files, hex: the one home of the hashes dicomflow takes (a download checked against --sha256, a zip's
 * hash in the file catalog, the content hash of a folder's files in the incremental scan).
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { Worker } from 'worker_threads';
import { poolOnFirstUse, runOnPool } from './thread-pool';

/** Files up to this size are read in one call (a stream costs more than the hash of a small file). */
export const ONE_READ_BYTES = 1 << 20;
const CHUNK = 1 << 20;

export interface Sha256Options {
  /** Bytes hashed so far (lets a caller heartbeat through a big file). */
  onProgress?: (bytes: number) => void;
}

/** SHA-256 of a file's bytes, streamed (small files: sha256SmallFiles). */
export async function sha256File(file: string, opts: Sha256Options = {}): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK })) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
    opts.onProgress?.(bytes);
  }
  return hash.digest('hex');
}

/** The thread's code: reads the file in chunks and posts its hash (or the error's message). */
const THREAD_CODE = `
const { parentPort, workerData } = require('worker_threads');
const fs = require('fs');
const { createHash } = require('crypto');
try {
  const hash = createHash('sha256');
  const fd = fs.openSync(workerData.file, 'r');
  try {
    const buf = Buffer.allocUnsafe(${4 * CHUNK});
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  parentPort.postMessage({ hex: hash.digest('hex') });
} catch (err) {
  parentPort.postMessage({ error: String(err && err.message || err), code: err && err.code });
}
`;

/**
 * SHA-256 of a (large) file on a thread of its own, so the hash takes the other core while this thread works: the
 * extract stage hashes a zip beside unpacking it. Rejects when the file cannot be read or `signal` stops it.
 */
export function sha256InThread(file: string, signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(THREAD_CODE, { eval: true, workerData: { file }, resourceLimits: { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 } });
    // Stopped (the stage it served failed or was cancelled): the thread goes at once, not after a 100 GB zip.
    signal?.addEventListener('abort', () => void worker.terminate(), { once: true });
    worker.once('message', (m: { hex?: string; error?: string; code?: string }) => {
      if (m.hex) resolve(m.hex);
      else reject(Object.assign(new Error(m.error ?? 'hash failed'), { code: m.code }));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the hashing thread exited (${code})`)));
  });
}

/**
 * Hashes of small files, each read in one synchronous call; null for a file that cannot be read (or a null path).
 * From the page cache that costs ~30 µs a file, where a promise-based readFile (open, stat, read, close through the
 * thread pool) cost 70 µs and more, which made hashing a new folder's 100,000 files the slowest part of its first run.
 */
export function sha256SmallFiles(files: (string | null)[]): (string | null)[] {
  return files.map((file) => {
    if (file === null) return null;
    try {
      return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    } catch {
      return null;
    }
  });
}

const hashPool = poolOnFirstUse<(string | null)[], (string | null)[]>(__dirname, 'io/hash-worker.js');

/**
 * Hashes of small files (at most ONE_READ_BYTES each) on a pool of threads, one per core, so a new folder's files are
 * hashed on every core while the incremental scan walks on; in this thread without a compiled script or with one core.
 */
export function sha256SmallFilesOnPool(files: (string | null)[]): Promise<(string | null)[]> {
  return runOnPool(hashPool(), files, sha256SmallFiles);
}
