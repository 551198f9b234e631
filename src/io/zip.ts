/**
 * Extracts a zip (and the zips inside it) under one folder, reporting every entry in source order.
 * Nothing is ever written outside the folder: unsafe names are refused, symlinks skipped, and the
 * bytes actually inflated are counted so a zip bomb stops at the limit. A bad entry is reported and
 * the walk goes on; only an unreadable archive, the size limit or a disk error stop it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Transform, TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import { promisify } from 'util';
import * as zlib from 'zlib';
import * as yauzl from 'yauzl';
import type { EntryRecord } from '../records';
import { crc32 } from './crc32';
import { decodeEntryName, isDirectoryName, isInside, isMacosMetadata, judgeEntryPath } from './entry-path';
import { IoFailure, formatBytes } from './errors';
import { startsWithLocalHeader } from './zip-signature';

/** A zip inside a zip inside a zip is opened; one more level is refused. */
export const MAX_NESTING = 3;

export interface ZipExtractOptions {
  /** Every file goes under this folder (nested zips under `<entry path>.d/`). */
  extractedDir: string;
  /** A scratch folder on the same file system: an entry is written there, checked, then renamed into place. */
  tmpDir: string;
  maxUncompressedBytes: number;
  /** Entries with i below this were finished by an earlier attempt: a file of theirs with the right size is kept. */
  trustBelow?: number;
  signal?: AbortSignal;
  /** Receives each record, in source order, i = 0, 1, 2, ... */
  emit: (record: EntryRecord) => Promise<void>;
  /** After each record and as bytes are inflated: records so far, bytes inflated so far (often: throttle it). */
  onProgress?: (entryIndex: number, bytes: number) => void;
}

export interface ZipExtractSummary {
  entries: number;
  /** Bytes inflated (nested zips and their contents both count). */
  bytes: number;
}

const inflateRaw = promisify(zlib.inflateRaw) as (data: Buffer, options: zlib.ZlibOptions) => Promise<Buffer>;

/** Unix file type bits in the high 16 bits of externalFileAttributes. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Where duplicated entry names go, so the first entry of a name keeps its file (first in source order wins). */
const DUPLICATES_DIR = '.duplicate-names';

export async function extractZip(zipPath: string, opts: ZipExtractOptions): Promise<ZipExtractSummary> {
  try {
    await scanZip(zipPath);
  } catch (err) {
    if (err instanceof IoFailure) throw err;
    throw new IoFailure(`${path.basename(zipPath)} is not a readable zip: ${(err as Error).message}`, 'NotAZip', false);
  }
  const run = new ZipExtraction(opts);
  await fs.promises.mkdir(opts.extractedDir, { recursive: true });
  await fs.promises.mkdir(opts.tmpDir, { recursive: true });
  await run.walk(zipPath, '', '', 0);
  return { entries: run.nextIndex, bytes: run.bytes };
}

/** Reads the whole central directory without extracting anything: throws when the archive cannot be walked. */
async function scanZip(zipPath: string): Promise<number> {
  const zip = await openZip(zipPath);
  try {
    let count = 0;
    for await (const _ of entriesOf(zip)) count++;
    return count;
  } finally {
    zip.close();
  }
}

function openZip(zipPath: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => {
    // decodeStrings: false lets us report unsafe names instead of yauzl aborting the whole zip on them.
    // validateEntrySizes is done per entry below (yauzl's check would also abort the whole zip).
    yauzl.open(zipPath, { lazyEntries: true, autoClose: false, decodeStrings: false, validateEntrySizes: false }, (err, zip) =>
      err ? reject(err) : resolve(zip),
    );
  });
}

async function* entriesOf(zip: yauzl.ZipFile): AsyncGenerator<yauzl.Entry> {
  for (;;) {
    const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
      const done = (value: yauzl.Entry | null, err?: Error) => {
        zip.off('entry', onEntry);
        zip.off('end', onEnd);
        zip.off('error', onError);
        if (err) reject(err);
        else resolve(value);
      };
      const onEntry = (e: yauzl.Entry) => done(e);
      const onEnd = () => done(null);
      const onError = (err: Error) => done(null, err);
      zip.on('entry', onEntry);
      zip.on('end', onEnd);
      zip.on('error', onError);
      zip.readEntry();
    });
    if (!entry) return;
    yield entry;
  }
}

/** An entry whose bytes are bad: reported as REFUSED_BAD_ENTRY, the walk goes on. */
class BadEntry extends Error {}

/**
 * What the reading stage hands the placing stage, in source order: a decision already made, or a file
 * already inflated, checked and written to a scratch file (`tmp`), found bad (`bad`), or too big to hold
 * in memory (none of these: streamed when placed).
 */
type Prepared =
  | { kind: 'decided'; record: Omit<EntryRecord, 'i'> }
  | { kind: 'file'; source: string; relative: string; entry: yauzl.Entry; tmp?: string; head?: Buffer; bad?: string };

/** Entries up to this size are inflated in memory and written in one call; bigger ones are streamed. */
const IN_MEMORY_LIMIT = 4 * 1024 * 1024;
/** Small entries read, inflated and written at once, ahead of the placing stage (so the disk and zlib overlap). */
const READ_AHEAD = 8;

class ZipExtraction {
  nextIndex = 0;
  bytes = 0;
  /** Files placed (or about to be) in this run, so a second entry of the same name does not overwrite the first. */
  private readonly claimed = new Set<string>();
  /** Folders known to exist, to spare a mkdir per entry. */
  private readonly madeDirs = new Set<string>();
  /** Names scratch files uniquely while several entries are read at once. */
  private scratchCount = 0;

  constructor(private readonly opts: ZipExtractOptions) {}

  /** Walks one archive: `sourcePrefix` names it in records, `outDir` (relative to extractedDir) is where its files go. */
  async walk(zipPath: string, sourcePrefix: string, outDir: string, depth: number): Promise<void> {
    const zip = await openZip(zipPath);
    try {
      for await (const item of readAhead(this.prepare(zip, sourcePrefix, outDir), READ_AHEAD)) {
        await this.place(zip, item, depth);
      }
    } finally {
      zip.close();
    }
  }

  private checkCancelled(): void {
    if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error('cancelled');
  }

  /**
   * Reading stage: decides what each entry is, and starts reading each small one into a scratch file.
   * Yields pending results, in source order, so up to READ_AHEAD entries are read at once (wrapped, because
   * an async generator would wait for a promise it yields).
   */
  private async *prepare(zip: yauzl.ZipFile, sourcePrefix: string, outDir: string): AsyncGenerator<Pending<Prepared>> {
    for await (const entry of entriesOf(zip)) {
      this.checkCancelled();
      const name = decodeEntryName(entry.fileNameRaw, entry.generalPurposeBitFlag, entry.extraFields);
      const unixType = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (isDirectoryName(name) || unixType === S_IFDIR) continue; // folders are not entries
      const source = sourcePrefix + name;
      const decided = (status: 'skipped' | 'refused', code: string, message: string): Pending<Prepared> => ({
        result: Promise.resolve({ kind: 'decided', record: { source, file: null, status, code, message } }),
      });

      const verdict = judgeEntryPath(name);
      if (!verdict.safe) {
        yield decided('refused', 'REFUSED_UNSAFE_PATH', `not extracted: ${verdict.reason}`);
      } else if (unixType !== 0 && unixType !== S_IFREG) {
        const what = unixType === S_IFLNK ? 'a symbolic link' : `not a regular file (mode ${unixType.toString(8)})`;
        yield decided('skipped', 'SKIPPED_NOT_A_FILE', `not extracted: ${what}`);
      } else if (isMacosMetadata(verdict.relative)) {
        yield decided('skipped', 'SKIPPED_MACOS_METADATA', 'macOS metadata, not DICOM');
      } else if (entry.generalPurposeBitFlag & 0x1) {
        yield decided('refused', 'REFUSED_BAD_ENTRY', 'encrypted entry, cannot be read');
      } else {
        const file: Prepared = { kind: 'file', source, relative: path.join(outDir, verdict.relative), entry };
        yield { result: entry.uncompressedSize > IN_MEMORY_LIMIT ? Promise.resolve(file) : this.readSmall(zip, file) };
      }
    }
  }

  /** Inflates a small entry and writes it to its own scratch file; a bad entry comes back marked, not thrown. */
  private async readSmall(zip: yauzl.ZipFile, file: Prepared & { kind: 'file' }): Promise<Prepared> {
    try {
      const data = await this.inflate(zip, file.entry);
      const tmp = path.join(this.opts.tmpDir, `${this.scratchCount++}.tmp`);
      await fs.promises.writeFile(tmp, data);
      return { ...file, tmp, head: Buffer.from(data.subarray(0, 4)) };
    } catch (err) {
      if (!(err instanceof BadEntry)) throw err;
      return { ...file, bad: err.message };
    }
  }

  /** Placing stage, strictly in source order: writes (or keeps) the file, numbers and emits the record. */
  private async place(zip: yauzl.ZipFile, item: Prepared, depth: number): Promise<void> {
    this.checkCancelled();
    if (item.kind === 'decided') return this.emit(item.record);
    const { source, entry } = item;
    const refuse = (code: string, message: string) => this.emit({ source, file: null, status: 'refused', code, message });
    if (item.bad !== undefined) return refuse('REFUSED_BAD_ENTRY', item.bad);

    let target = path.join(this.opts.extractedDir, item.relative);
    if (this.claimed.has(target)) target = path.join(this.opts.extractedDir, DUPLICATES_DIR, String(this.nextIndex), item.relative);
    if (!isInside(this.opts.extractedDir, target)) {
      return refuse('REFUSED_UNSAFE_PATH', 'not extracted: the name resolves outside the extraction folder');
    }
    this.claimed.add(target);

    let head: Buffer;
    try {
      const kept = await this.reuse(target, entry.uncompressedSize);
      if (kept) {
        if (item.tmp) await fs.promises.rm(item.tmp, { force: true });
        else this.count(entry.uncompressedSize); // small entries were counted when read
        head = kept;
      } else if (item.tmp && item.head) {
        await this.moveIntoPlace(item.tmp, target);
        head = item.head;
      } else {
        head = await this.stream(zip, entry, target);
      }
    } catch (err) {
      if (!(err instanceof BadEntry)) throw err;
      return refuse('REFUSED_BAD_ENTRY', err.message);
    }

    if (startsWithLocalHeader(head)) return this.nested(target, source, path.relative(this.opts.extractedDir, target), depth);
    return this.emit({ source, file: target, status: null });
  }

  private async emit(record: Omit<EntryRecord, 'i'>): Promise<void> {
    await this.opts.emit({ i: this.nextIndex, ...record });
    this.nextIndex++;
    this.opts.onProgress?.(this.nextIndex, this.bytes);
  }

  /** A nested zip: recorded as skipped, its entries extracted under `<entry>.d/` and recorded right after it. */
  private async nested(zipFile: string, source: string, relative: string, depth: number): Promise<void> {
    const refuse = async (message: string) => {
      await fs.promises.rm(zipFile, { force: true });
      return this.emit({ source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message });
    };
    if (depth + 1 > MAX_NESTING) return refuse(`nested zip not opened: zips nest deeper than ${MAX_NESTING} levels here`);
    try {
      await scanZip(zipFile);
    } catch (err) {
      return refuse(`nested zip does not open: ${(err as Error).message}`);
    }
    await this.emit({ source, file: null, status: 'skipped', code: 'SKIPPED_NESTED_ZIP', message: 'nested zip, its entries follow' });
    await this.walk(zipFile, source + '/', relative + '.d', depth + 1);
    await fs.promises.rm(zipFile, { force: true }); // its contents are out; a retry re-extracts it if needed
  }

  /** On a retry: keep a file an earlier attempt finished. Returns its first bytes, or null to write it anew. */
  private async reuse(target: string, size: number): Promise<Buffer | null> {
    if (this.nextIndex >= (this.opts.trustBelow ?? 0)) return null;
    const stat = await fs.promises.lstat(target).catch(() => null);
    if (!stat?.isFile() || stat.size !== size) return null;
    const handle = await fs.promises.open(target, 'r');
    try {
      const head = Buffer.alloc(4);
      const { bytesRead } = await handle.read(head, 0, 4, 0);
      return head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /**
   * Inflates a small entry into memory: its compressed bytes in one read, inflated in one zlib call
   * (capped at the declared size + 1, so a lying size cannot blow up memory), then size and CRC checked.
   */
  private async inflate(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<Buffer> {
    const input = await openEntry(zip, entry, { decodeFileData: false });
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) chunks.push(chunk);
    } catch (err) {
      if (this.opts.signal?.aborted) throw err;
      throw new BadEntry(`cannot read entry: ${(err as Error).message}`);
    }
    const raw = Buffer.concat(chunks);
    let data: Buffer;
    if (entry.compressionMethod === 0) data = raw;
    else if (entry.compressionMethod === 8) {
      try {
        data = await inflateRaw(raw, { maxOutputLength: entry.uncompressedSize + 1 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          throw new BadEntry(`corrupt entry: inflates to more than the ${entry.uncompressedSize} bytes it declares`);
        }
        throw new BadEntry(`corrupt entry: ${(err as Error).message}`);
      }
    } else throw new BadEntry(`cannot read entry: unsupported compression method ${entry.compressionMethod}`);
    const check = new EntryCheck(entry, (n) => this.count(n));
    check.add(data);
    check.finish();
    return data;
  }

  /** Streams a big entry to the scratch file, checking size and CRC, then moves it into place. Returns its first bytes. */
  private async stream(zip: yauzl.ZipFile, entry: yauzl.Entry, target: string): Promise<Buffer> {
    const tmp = path.join(this.opts.tmpDir, 'stream.tmp');
    const input = await openEntry(zip, entry);
    const check = new EntryCheck(entry, (n) => this.count(n));
    let inputError: unknown;
    input.once('error', (err) => (inputError = err));
    const meter = new Transform({
      transform(chunk: Buffer, _enc, callback: TransformCallback) {
        try {
          check.add(chunk);
        } catch (err) {
          return callback(err as Error);
        }
        callback(null, chunk);
      },
      flush(callback: TransformCallback) {
        try {
          check.finish();
        } catch (err) {
          return callback(err as Error);
        }
        callback();
      },
    });
    try {
      await pipeline(input, meter, fs.createWriteStream(tmp), { signal: this.opts.signal });
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      if (err instanceof IoFailure || err instanceof BadEntry || this.opts.signal?.aborted) throw err;
      if (err === inputError) throw new BadEntry(`corrupt entry: ${(err as Error).message}`);
      throw err; // the disk side failed (full, permissions): worth a retry
    }
    await this.moveIntoPlace(tmp, target);
    return check.head;
  }

  private async moveIntoPlace(tmp: string, target: string): Promise<void> {
    try {
      const dir = path.dirname(target);
      if (!this.madeDirs.has(dir)) {
        await fs.promises.mkdir(dir, { recursive: true });
        this.madeDirs.add(dir);
      }
      await fs.promises.rename(tmp, target);
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      // Names that clash with each other (a file where a folder should be) are the archive's fault.
      if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST' || code === 'ENAMETOOLONG' || code === 'ENOTEMPTY') {
        throw new BadEntry(`cannot be placed: ${(err as Error).message}`);
      }
      throw err;
    }
  }

  /** Adds inflated bytes to the total; past the limit the whole extraction stops. */
  private count(n: number): void {
    this.bytes += n;
    this.opts.onProgress?.(this.nextIndex, this.bytes); // keeps heartbeats going through one huge entry
    if (this.bytes > this.opts.maxUncompressedBytes) {
      throw new IoFailure(
        `zip expands past the ${formatBytes(this.opts.maxUncompressedBytes)} limit on uncompressed size (maxUncompressedBytes=${this.opts.maxUncompressedBytes}): ` +
          `stopped after ${formatBytes(this.bytes)}, a zip bomb or a bigger dataset than allowed`,
        'ZipTooLarge',
        false,
      );
    }
  }
}

/** yauzl's read stream of an entry; `decodeFileData: false` gives the stored (compressed) bytes as they are. */
async function openEntry(zip: yauzl.ZipFile, entry: yauzl.Entry, options: { decodeFileData?: boolean } = {}): Promise<NodeJS.ReadableStream> {
  try {
    return await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
      zip.openReadStream(entry, options as yauzl.ZipFileOptions, (err, stream) => (err ? reject(err) : resolve(stream))),
    );
  } catch (err) {
    throw new BadEntry(`cannot read entry: ${(err as Error).message}`);
  }
}

/** Counts an entry's inflated bytes, keeps the first 4, and checks size and CRC against the archive's word. */
class EntryCheck {
  head = Buffer.alloc(0);
  private size = 0;
  private crc = 0;

  constructor(
    private readonly entry: yauzl.Entry,
    private readonly onBytes: (n: number) => void,
  ) {}

  add(chunk: Buffer): void {
    this.onBytes(chunk.length);
    this.size += chunk.length;
    if (this.size > this.entry.uncompressedSize) {
      throw new BadEntry(`corrupt entry: inflates to more than the ${this.entry.uncompressedSize} bytes it declares`);
    }
    if (this.head.length < 4) this.head = Buffer.concat([this.head, chunk.subarray(0, 4 - this.head.length)]);
    this.crc = crc32(chunk, this.crc);
  }

  finish(): void {
    if (this.size !== this.entry.uncompressedSize) {
      throw new BadEntry(`corrupt entry: ${this.size} bytes instead of the ${this.entry.uncompressedSize} it declares`);
    }
    if (this.crc !== this.entry.crc32) {
      throw new BadEntry(`corrupt entry: CRC-32 is ${hex(this.crc)}, the archive says ${hex(this.entry.crc32)}`);
    }
  }
}

/** Work under way; an object, so an async generator can hand it on without waiting for it. */
interface Pending<T> {
  result: Promise<T>;
}

/**
 * Yields the results of `source`'s pending work in order, keeping up to `ahead` of them under way.
 * On the way out (done, error or cancel) it waits for those still running, so no work outlives the walk.
 */
async function* readAhead<T>(source: AsyncIterator<Pending<T>>, ahead: number): AsyncGenerator<T> {
  const queue: Promise<IteratorResult<Pending<T>>>[] = [];
  const quiet = <P>(p: Promise<P>) => {
    p.catch(() => undefined); // a rejection is seen when its turn comes
    return p;
  };
  try {
    for (;;) {
      while (queue.length < ahead) {
        queue.push(quiet(source.next().then((r) => (r.done ? r : { done: false as const, value: { result: quiet(r.value.result) } }))));
      }
      const next = await queue.shift()!;
      if (next.done) return;
      yield await next.value.result;
    }
  } finally {
    await Promise.allSettled(queue.map(async (next) => (await next).value?.result));
    await source.return?.(undefined);
  }
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
