/**
 * JSON-lines files, the format stages hand each other. Every writer is atomic: records go to a side
 * file that is fsynced and renamed at the end, so a reader never sees half a file.
 */
import * as fs from 'fs';
import * as path from 'path';
import { withPath } from './errors';

/** Bytes gathered before one write() call, so a big file is not one syscall per record. */
const WRITE_CHUNK = 256 * 1024;

/**
 * Lines as UTF-8 bytes, each followed by a newline: one exact allocation and a write per line. (Joining first
 * makes one huge string that V8 flattens and encodes slowly: measured 30 µs against 1 µs per 3.5 KB line.)
 */
export function encodeLines(lines: readonly string[]): Buffer {
  let size = lines.length;
  for (const line of lines) size += Buffer.byteLength(line, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  for (const line of lines) {
    at += out.write(line, at, 'utf8');
    out[at++] = 10;
  }
  return out;
}

/** fsync a directory so a rename inside it survives a power loss; best effort (not all systems allow it). */
async function syncDir(dir: string): Promise<void> {
  let handle: fs.promises.FileHandle | undefined;
  try {
    handle = await fs.promises.open(dir, 'r');
    await handle.sync();
  } catch {
    // Directory fsync is an extra guarantee, not a requirement.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

/** Writes records as JSON lines to `file` atomically: to file + '.tmp', fsync, rename. Returns the record count. */
export async function writeJsonLines(
  file: string,
  records: Iterable<unknown> | AsyncIterable<unknown>,
): Promise<number> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const tmp = file + '.tmp';
  const handle = await fs.promises.open(tmp, 'w');
  let count = 0;
  try {
    let pending: string[] = [];
    let pendingLength = 0;
    for await (const record of records as AsyncIterable<unknown>) {
      const line = JSON.stringify(record);
      pending.push(line);
      pendingLength += line.length + 1;
      count++;
      if (pendingLength >= WRITE_CHUNK) {
        await handle.write(encodeLines(pending)).catch((err) => Promise.reject(withPath(err, tmp)));
        pending = [];
        pendingLength = 0;
      }
    }
    if (pending.length > 0) await handle.write(encodeLines(pending)).catch((err) => Promise.reject(withPath(err, tmp)));
    await handle.sync().catch((err) => Promise.reject(withPath(err, tmp)));
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true });
    throw err;
  }
  await handle.close();
  await fs.promises.rename(tmp, file);
  await syncDir(path.dirname(file));
  return count;
}

/** Non-blank lines of about a MiB of a file, as bytes (views into the chunk read), with their line numbers (from 1). */
interface LineChunk {
  lines: Buffer[];
  numbers: number[];
}

function isBlank(b: Buffer): boolean {
  for (let k = 0; k < b.length; k++) if (b[k] > 32) return false;
  return true;
}

/**
 * The lines of a file as bytes, a MiB of the file at a time: newlines found with a byte search, nothing decoded.
 * (Decoding a whole MiB into one string and splitting it cost more than anything else organize, load and the report
 * did.) A line's bytes stay valid while the caller works on its chunk.
 */
async function* lineChunks(file: string): AsyncGenerator<LineChunk> {
  let rest: Buffer | null = null;
  let lineNumber = 0;
  const input = fs.createReadStream(file, { highWaterMark: 1 << 20 });
  const take = (chunk: LineChunk, data: Buffer, start: number, end: number) => {
    lineNumber++;
    if (end > start && data[end - 1] === 13) end--; // CRLF
    if (end === start) return;
    const line = data.subarray(start, end);
    if (line[0] <= 32 && isBlank(line)) return;
    chunk.lines.push(line);
    chunk.numbers.push(lineNumber);
  };
  try {
    for await (const piece of input as AsyncIterable<Buffer>) {
      const chunk: LineChunk = { lines: [], numbers: [] };
      let start = 0;
      if (rest) {
        // Only the line cut by the previous read is copied, never the whole MiB.
        const nl = piece.indexOf(10);
        if (nl === -1) {
          rest = Buffer.concat([rest, piece]);
          continue;
        }
        const joined = Buffer.concat([rest, piece.subarray(0, nl)]);
        take(chunk, joined, 0, joined.length);
        start = nl + 1;
        rest = null;
      }
      for (let nl = piece.indexOf(10, start); nl !== -1; nl = piece.indexOf(10, start)) {
        take(chunk, piece, start, nl);
        start = nl + 1;
      }
      rest = start < piece.length ? piece.subarray(start) : null;
      if (chunk.lines.length > 0) yield chunk;
    }
    const last: LineChunk = { lines: [], numbers: [] };
    if (rest) take(last, rest, 0, rest.length);
    if (last.lines.length > 0) yield last;
  } finally {
    input.destroy();
  }
}

/** The non-blank lines of a file as bytes, about a MiB at a time (views valid while the caller works on the batch). */
export async function* readLineBuffers(file: string): AsyncGenerator<Buffer[]> {
  for await (const chunk of lineChunks(file)) yield chunk.lines;
}

/**
 * The non-blank lines of a text file, about a MiB of the file at a time, never the whole file in memory: one await
 * per chunk rather than per line, for the big stage files.
 */
export async function* readLineBatches(file: string): AsyncGenerator<string[]> {
  for await (const chunk of lineChunks(file)) yield chunk.lines.map((b) => b.toString('utf8'));
}

/** The non-blank lines of a text file, one by one. */
export async function* readLines(file: string): AsyncGenerator<string> {
  for await (const lines of readLineBatches(file)) yield* lines;
}

/** Streams JSON lines of `file` (never the whole file in memory). Blank lines are ignored. */
export async function* readJsonLines<T>(file: string): AsyncIterable<T> {
  for await (const { lines, numbers } of lineChunks(file)) {
    for (let k = 0; k < lines.length; k++) {
      let value: T;
      try {
        value = JSON.parse(lines[k].toString('utf8')) as T;
      } catch (err) {
        throw new Error(`${file}:${numbers[k]}: not a JSON line (${(err as Error).message})`);
      }
      yield value;
    }
  }
}

/** A file's JSON records one at a time, pulled synchronously (see jsonLineCursor). */
export interface JsonLineCursor<T> {
  /** The next record; undefined at the end. */
  next(): T | undefined;
  close(): void;
}

/**
 * A file's JSON records pulled one at a time, synchronously, a MiB of the file read at a time: for pairing a file with
 * another one that is being streamed through a synchronous callback (the file catalog's rows pair the run's outcomes
 * with the scan's records line by line), without holding either whole. Blank lines are ignored.
 */
export function jsonLineCursor<T>(file: string): JsonLineCursor<T> {
  const fd = fs.openSync(file, 'r');
  const chunk = Buffer.allocUnsafe(1 << 20);
  let rest: Buffer = Buffer.alloc(0);
  let lines: Buffer[] = [];
  let at = 0;
  let ended = false;
  let lineNumber = 0;
  const fill = (): boolean => {
    while (at >= lines.length) {
      if (ended) return false;
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      const data = n > 0 ? Buffer.concat([rest, chunk.subarray(0, n)]) : rest;
      const cut = n > 0 ? data.lastIndexOf(0x0a) + 1 : data.length;
      if (n === 0) ended = true;
      rest = Buffer.from(data.subarray(cut));
      lines = [];
      at = 0;
      for (let start = 0; start < cut; ) {
        const end = data.indexOf(0x0a, start);
        const stop = end < 0 || end >= cut ? cut : end;
        lines.push(data.subarray(start, stop));
        start = stop + 1;
      }
    }
    return true;
  };
  return {
    next() {
      for (;;) {
        if (!fill()) return undefined;
        const line = lines[at++];
        lineNumber++;
        const text = line.toString('utf8');
        if (text.trim() === '') continue;
        try {
          return JSON.parse(text) as T;
        } catch (err) {
          throw new Error(`${file}:${lineNumber}: not a JSON line (${(err as Error).message})`);
        }
      }
    },
    close() {
      fs.closeSync(fd);
    },
  };
}

/** All records of a small JSON-lines file (a batch, a test fixture) as an array. */
export async function readAllJsonLines<T>(file: string): Promise<T[]> {
  const out: T[] = [];
  for await (const record of readJsonLines<T>(file)) out.push(record);
  return out;
}

export interface Appender {
  /** Appends one record; the line is written to the file when the promise resolves (unless bufferBytes is set). */
  append(record: unknown): Promise<void>;
  /** Appends several records with one write. */
  appendAll(records: unknown[]): Promise<void>;
  /** Appends records already serialized as JSON (one per string, no newline) with one write. */
  appendLines(lines: string[]): Promise<void>;
  /** Appends `records` lines already encoded (UTF-8, each ending with a newline) with one write. */
  appendEncoded(bytes: Uint8Array, records: number): Promise<void>;
  /** Writes what is buffered (bufferBytes). */
  flush(): Promise<void>;
  /** Bytes in the partial file, resumed prefix included: heartbeat this to resume later. */
  bytesWritten(): number;
  /** Records in the partial file, resumed prefix included. */
  count(): number;
  /** fsync, close, and rename file.partial → file. */
  commit(): Promise<void>;
  /** Close without committing (the partial file stays for a later resume). */
  close(): Promise<void>;
}

/**
 * An appender for long outputs, written to `file + '.partial'` and renamed on commit().
 * Resumable: with resumeBytes the partial file is truncated to that many bytes (the last heartbeat)
 * and appending goes on from there; without it the partial file starts empty.
 * With bufferBytes, appended records are gathered and written in writes of about that size (flush() writes
 * the rest; bytesWritten() and count() cover only what is written).
 */
export async function openAppender(file: string, opts: { resumeBytes?: number; bufferBytes?: number } = {}): Promise<Appender> {
  await fs.promises.mkdir(path.dirname(file), { recursive: true });
  const partial = file + '.partial';
  const resumeBytes = opts.resumeBytes ?? 0;
  let bytes = 0;
  let records = 0;
  if (resumeBytes > 0) {
    const size = await fs.promises.stat(partial).then((s) => s.size, () => -1);
    if (size < resumeBytes) {
      throw new Error(`cannot resume ${partial}: it has ${size < 0 ? 'no' : size} bytes, the checkpoint says ${resumeBytes}`);
    }
    await fs.promises.truncate(partial, resumeBytes);
    bytes = resumeBytes;
    records = await countLines(partial);
  }
  const handle = await fs.promises.open(partial, resumeBytes > 0 ? 'a' : 'w');
  let closed = false;
  const limit = opts.bufferBytes ?? 0;
  /** Encoded lines waiting for one write (bufferBytes), with their record count. */
  let buffered: Uint8Array[] = [];
  let bufferedLength = 0;
  let bufferedRecords = 0;
  const writeBytes = async (data: Uint8Array, count: number) => {
    if (data.length > 0) await handle.write(data).catch((err) => Promise.reject(withPath(err, partial)));
    bytes += data.length;
    records += count;
  };
  const flush = async () => {
    if (buffered.length === 0) return;
    const data = buffered.length === 1 ? buffered[0] : Buffer.concat(buffered);
    const count = bufferedRecords;
    buffered = [];
    bufferedLength = 0;
    bufferedRecords = 0;
    await writeBytes(data, count);
  };
  const appendEncoded = async (data: Uint8Array, count: number): Promise<void> => {
    if (limit === 0) return writeBytes(data, count);
    buffered.push(data);
    bufferedLength += data.length;
    bufferedRecords += count;
    if (bufferedLength >= limit) await flush();
  };
  /** One write for many records: a batch costs a few syscalls, not one per file. */
  const appendLines = (list: string[]): Promise<void> => (list.length === 0 ? Promise.resolve() : appendEncoded(encodeLines(list), list.length));
  const appendAll = (list: unknown[]) => appendLines(list.map((r) => JSON.stringify(r)));
  return {
    append: (record) => appendAll([record]),
    appendAll,
    appendLines,
    appendEncoded,
    flush,
    bytesWritten: () => bytes,
    count: () => records,
    async commit() {
      await flush();
      await handle.sync().catch((err) => Promise.reject(withPath(err, partial)));
      await handle.close();
      closed = true;
      await fs.promises.rename(partial, file);
      await syncDir(path.dirname(file));
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close();
    },
  };
}

/** Records in a JSON-lines file, counted without parsing them. */
export async function countLines(file: string): Promise<number> {
  let lines = 0;
  // Reads of 1 MiB: the stream's default 64 KiB made counting set 2's 68 MB of metadata lines take 80-200 ms (~1,000
  // reads through the event loop), 1 MiB reads ~10 ms.
  const handle = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(COUNT_READ_BYTES);
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      const chunk = bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines++;
    }
  } finally {
    await handle.close();
  }
  return lines;
}
const COUNT_READ_BYTES = 1 << 20;
