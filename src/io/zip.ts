/**
 * Extracts a zip (and the zips inside it) under one folder, reporting every entry in source order.
 * Nothing is ever written outside the folder: unsafe names are refused, symlinks skipped, and the
 * bytes actually inflated are counted so a zip bomb stops at the limit. A bad entry is reported and
 * the walk goes on; only an unreadable archive, the size limit or a disk error stop it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { PassThrough, Readable, Transform, TransformCallback } from 'stream';
import { pipeline } from 'stream/promises';
import * as zlib from 'zlib';
import type { EntryRecord } from '../records';
import { crc32 } from './crc32';
import { decodeEntryName, isDirectoryName, isInside, isMacosMetadata, judgeEntryPath, shortenLongNames } from './entry-path';
import { IoFailure, formatBytes, withPath } from './errors';
import { startsWithLocalHeader } from './zip-signature';
import { dataStart, zipEntries, type ZipEntry } from './zip-directory';
import { poolOnFirstUse, poolThreads, runOnPool } from './thread-pool';
import { inflateBatch, type InflateBatch, type InflateJob, type InflateResult } from './zip-inflate';

/** A zip inside a zip inside a zip is opened; one more level is refused. */
export const MAX_NESTING = 3;

export interface ZipExtractOptions {
  /** Every file goes under this folder (nested zips under `<entry path>.d/`). */
  extractedDir: string;
  /** A scratch folder on the same file system: an entry is written there, checked, then renamed into place. */
  tmpDir: string;
  maxUncompressedBytes: number;
  signal?: AbortSignal;
  /** Receives each record, in source order, i = 0, 1, 2, ... */
  emit: (record: EntryRecord) => Promise<void>;
  /** After each record and as bytes are inflated: records so far, bytes inflated so far, bytes the entries declare (often: throttle it). */
  onProgress?: (entryIndex: number, bytes: number, totalBytes: number) => void;
}

export interface ZipExtractSummary {
  entries: number;
  /** Bytes inflated (nested zips and their contents both count). */
  bytes: number;
}

/** Unix file type bits in the high 16 bits of externalFileAttributes. */
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Where duplicated entry names go, so the first entry of a name keeps its file (first in source order wins). */
const DUPLICATES_DIR = '.duplicate-names';

export async function extractZip(zipPath: string, opts: ZipExtractOptions): Promise<ZipExtractSummary> {
  let declared: number;
  try {
    declared = await scanZip(zipPath);
  } catch (err) {
    if (err instanceof IoFailure) throw err;
    throw new IoFailure(`${path.basename(zipPath)} is not a readable zip: ${(err as Error).message}`, 'NotAZip', false);
  }
  const run = new ZipExtraction(opts);
  run.checkDeclared(declared);
  await fs.promises.mkdir(opts.extractedDir, { recursive: true });
  await fs.promises.mkdir(opts.tmpDir, { recursive: true });
  await run.walk(zipPath, '', '', 0);
  return { entries: run.nextIndex, bytes: run.bytes };
}

/** Reads the whole central directory without extracting anything: the uncompressed bytes its entries declare. Throws when the archive cannot be walked. */
async function scanZip(zipPath: string): Promise<number> {
  let declared = 0;
  for await (const entries of zipEntries(zipPath)) for (const entry of entries) declared += entry.uncompressedSize;
  return declared;
}

/** An entry whose bytes are bad: reported as REFUSED_BAD_ENTRY, the walk goes on. */
class BadEntry extends Error {}

/** One entry of the walk, in source order: decided from the central directory, or a file to extract to `target`. */
type Item =
  | { kind: 'decided'; record: Omit<EntryRecord, 'i'> }
  | { kind: 'file'; source: string; target: string; entry: ZipEntry };

/** Items in source order, whose small files are being inflated and written by the pool; or one big entry. */
type Unit =
  | { kind: 'chunk'; items: Item[]; results: Promise<InflateResult[]> }
  | { kind: 'big'; item: Item & { kind: 'file' } };

/** Entries up to this size are inflated in memory by the pool's threads; bigger ones are streamed here. */
const IN_MEMORY_LIMIT = 4 * 1024 * 1024;
/**
 * A chunk (one message to a pool thread) holds the entries of one folder, up to this many entries or bytes: two
 * threads creating files in the same folder contend for its lock in the kernel (measured: 4x the system time), in
 * different folders they do not.
 */
const CHUNK_ENTRIES = 512;
const CHUNK_BYTES = 64 * 1024 * 1024;

/** The zip pool, started on first use; a worker starts it early (startZipPool) so its threads are up by then. */
export const startZipPool = poolOnFirstUse<InflateBatch, InflateResult[]>(__dirname, 'io/zip-worker.js');

/**
 * A set of file paths kept as folder -> names: a zip's entries share a few folders, so the folder is held once and
 * each file by its short name (247,000 full paths in one Set held 45 MB of the extract stage's heap; this 13 MB).
 */
class ClaimedFiles {
  private readonly byFolder = new Map<string, Set<string>>();

  has(file: string): boolean {
    return this.byFolder.get(path.dirname(file))?.has(path.basename(file)) ?? false;
  }

  add(file: string): void {
    const folder = path.dirname(file);
    let names = this.byFolder.get(folder);
    if (!names) this.byFolder.set(folder, (names = new Set()));
    names.add(ownCopy(path.basename(file)));
  }
}

/** A copy of a string cut from a longer one (V8 keeps the whole longer string alive behind a slice of 13+ chars). */
function ownCopy(part: string): string {
  return part.length < 13 ? part : (JSON.parse(JSON.stringify(part)) as string); // exact for every string
}

/** Inflates and writes a chunk's entries on a pool thread (in this thread when no compiled script exists). */
function inflateOnPool(batch: InflateBatch): Promise<InflateResult[]> {
  return runOnPool(startZipPool(), batch, inflateBatch);
}

class ZipExtraction {
  nextIndex = 0;
  bytes = 0;
  /** Bytes the entries of every archive opened so far declare (nested zips count twice, as themselves and their contents). */
  private declared = 0;
  /** Files placed (or about to be) in this run, so a second entry of the same name does not overwrite the first. */
  private readonly claimed = new ClaimedFiles();
  /** The folders those files need. */
  private readonly claimedDirs = new Set<string>();
  /** Names seen twice so far (each second copy gets a folder of its own under DUPLICATES_DIR). */
  private duplicates = 0;
  /** Folders known to exist, to spare a mkdir per streamed entry. */
  private readonly madeDirs = new Set<string>();
  /** Chunks under way at once: every pool thread busy, the next ones queued. */
  private readonly ahead = Math.max(2, poolThreads() * 2);

  constructor(private readonly opts: ZipExtractOptions) {}

  /** Fails at once when the entries of an archive declare more than the limit allows: nothing is inflated. */
  checkDeclared(declared: number): void {
    this.declared += declared;
    if (this.bytes + declared > this.opts.maxUncompressedBytes) this.tooLarge(`its entries declare ${formatBytes(this.bytes + declared)} in all`);
  }

  /** Walks one archive: `sourcePrefix` names it in records, `outDir` (relative to extractedDir) is where its files go. */
  async walk(zipPath: string, sourcePrefix: string, outDir: string, depth: number): Promise<void> {
    const units: Unit[] = [];
    try {
      const plan = this.units(zipPath, sourcePrefix, outDir);
      for (;;) {
        while (units.length < this.ahead) {
          const next = await plan.next();
          if (next.done) break;
          units.push(next.value);
        }
        const unit = units.shift();
        if (!unit) break;
        if (unit.kind === 'big') await this.placeBig(zipPath, unit.item, depth);
        else await this.placeChunk(unit, depth);
      }
    } finally {
      await Promise.allSettled(units.flatMap((u) => (u.kind === 'chunk' ? [u.results] : []))); // no write outlives the walk
    }
  }

  private checkCancelled(): void {
    if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error('cancelled');
  }

  /** The archive's entries as units in source order; each chunk is handed to the pool as soon as it closes. */
  private async *units(zipPath: string, sourcePrefix: string, outDir: string): AsyncGenerator<Unit> {
    let items: Item[] = [];
    let jobs: InflateJob[] = [];
    let bytes = 0;
    let folder = '';
    const close = (): Unit => {
      const unit: Unit = { kind: 'chunk', items, results: jobs.length > 0 ? inflateOnPool({ zipPath, jobs }) : Promise.resolve([]) };
      unit.results.catch(() => undefined); // seen when its turn comes
      items = [];
      jobs = [];
      bytes = 0;
      return unit;
    };
    for await (const entries of zipEntries(zipPath)) for (const entry of entries) {
      this.checkCancelled();
      const item = this.itemOf(entry, sourcePrefix, outDir);
      if (!item) continue;
      if (item.kind === 'file' && entry.uncompressedSize > IN_MEMORY_LIMIT) {
        if (items.length > 0) yield close();
        yield { kind: 'big', item };
        continue;
      }
      if (item.kind === 'file') {
        const dir = path.dirname(item.target);
        if (dir !== folder && jobs.length > 0) yield close();
        folder = dir;
      }
      items.push(item);
      if (item.kind === 'file') {
        jobs.push({
          offset: entry.relativeOffsetOfLocalHeader,
          compressedSize: entry.compressedSize,
          size: entry.uncompressedSize,
          method: entry.compressionMethod,
          crc: entry.crc32,
          target: item.target,
        });
        bytes += entry.compressedSize + entry.uncompressedSize;
      }
      if (items.length >= CHUNK_ENTRIES || bytes >= CHUNK_BYTES) yield close();
    }
    if (items.length > 0) yield close();
  }

  /** What the central directory says of an entry: a decision, a file to extract, or nothing (a folder). */
  private itemOf(entry: ZipEntry, sourcePrefix: string, outDir: string): Item | null {
    const name = decodeEntryName(entry.fileNameRaw, entry.generalPurposeBitFlag, entry.extraFields);
    const unixType = (entry.externalFileAttributes >>> 16) & S_IFMT;
    if (isDirectoryName(name) || unixType === S_IFDIR) return null; // folders are not entries
    const source = sourcePrefix + name;
    const decided = (status: 'skipped' | 'refused', code: string, message: string): Item => ({ kind: 'decided', record: { source, file: null, status, code, message } });

    const verdict = judgeEntryPath(name);
    if (!verdict.safe) return decided('refused', 'REFUSED_UNSAFE_PATH', `not extracted: ${verdict.reason}`);
    if (unixType !== 0 && unixType !== S_IFREG) {
      const what = unixType === S_IFLNK ? 'a symbolic link' : `not a regular file (mode ${unixType.toString(8)})`;
      return decided('skipped', 'SKIPPED_NOT_A_FILE', `not extracted: ${what}`);
    }
    if (isMacosMetadata(verdict.relative)) return decided('skipped', 'SKIPPED_MACOS_METADATA', 'macOS metadata, not DICOM');
    if (entry.generalPurposeBitFlag & 0x1) return decided('refused', 'REFUSED_BAD_ENTRY', 'encrypted entry, cannot be read');
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8) {
      return decided('refused', 'REFUSED_BAD_ENTRY', `cannot read entry: unsupported compression method ${entry.compressionMethod}`);
    }

    const relative = shortenLongNames(verdict.relative);
    let target = path.join(this.opts.extractedDir, outDir, relative);
    if (this.claimed.has(target)) target = path.join(this.opts.extractedDir, DUPLICATES_DIR, String(this.duplicates++), outDir, relative);
    if (!isInside(this.opts.extractedDir, target)) {
      return decided('refused', 'REFUSED_UNSAFE_PATH', 'not extracted: the name resolves outside the extraction folder');
    }
    // Names that clash (a file where an earlier entry needs a folder, or the reverse) are decided here, in source
    // order, not by which thread of the pool gets there first.
    const clash = this.clashOf(target);
    if (clash) return decided('refused', 'REFUSED_BAD_ENTRY', `cannot be placed: ${clash}`);
    this.claim(target);
    return { kind: 'file', source, target, entry };
  }

  private clashOf(target: string): string | null {
    const rel = (p: string) => path.relative(this.opts.extractedDir, p);
    if (this.claimedDirs.has(target)) return `${rel(target)} is a folder of earlier entries`;
    for (let dir = path.dirname(target); dir.length > this.opts.extractedDir.length; dir = path.dirname(dir)) {
      if (this.claimed.has(dir)) return `${rel(dir)} is a file of an earlier entry, not a folder`;
      if (this.claimedDirs.has(dir)) break; // checked when it was claimed
    }
    return null;
  }

  private claim(target: string): void {
    this.claimed.add(target);
    for (let dir = path.dirname(target); dir.length > this.opts.extractedDir.length && !this.claimedDirs.has(dir); dir = path.dirname(dir)) {
      this.claimedDirs.add(dir);
    }
  }

  /** Placing stage, strictly in source order: the pool's verdict on each file, numbered and emitted. */
  private async placeChunk(unit: Unit & { kind: 'chunk' }, depth: number): Promise<void> {
    const results = await unit.results;
    let k = 0;
    for (const item of unit.items) {
      this.checkCancelled();
      if (item.kind === 'decided') {
        await this.emit(item.record);
        continue;
      }
      const result = results[k++];
      if (result.kind === 'fatal') throw Object.assign(new Error(result.message), { code: result.code, path: item.target });
      if (result.kind === 'bad') {
        await this.emit({ source: item.source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message: result.message });
        continue;
      }
      this.count(item.entry.uncompressedSize);
      if (result.zip) await this.nested(item.target, item.source, path.relative(this.opts.extractedDir, item.target), depth);
      else await this.emit({ source: item.source, file: item.target, status: null, size: item.entry.uncompressedSize });
    }
  }

  /** A big entry, streamed to disk here with the same checks. */
  private async placeBig(zipPath: string, item: Item & { kind: 'file' }, depth: number): Promise<void> {
    this.checkCancelled();
    let head: Buffer;
    try {
      head = await this.stream(zipPath, item.entry, item.target);
    } catch (err) {
      if (!(err instanceof BadEntry)) throw err;
      return this.emit({ source: item.source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message: err.message });
    }
    if (startsWithLocalHeader(head)) return this.nested(item.target, item.source, path.relative(this.opts.extractedDir, item.target), depth);
    return this.emit({ source: item.source, file: item.target, status: null, size: item.entry.uncompressedSize });
  }

  private async emit(record: Omit<EntryRecord, 'i'>): Promise<void> {
    await this.opts.emit({ i: this.nextIndex, ...record });
    this.nextIndex++;
    this.opts.onProgress?.(this.nextIndex, this.bytes, this.declared);
  }

  /** A nested zip: recorded as skipped, its entries extracted under `<entry>.d/` and recorded right after it. */
  private async nested(zipFile: string, source: string, relative: string, depth: number): Promise<void> {
    const refuse = async (message: string) => {
      await fs.promises.rm(zipFile, { force: true });
      return this.emit({ source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message });
    };
    if (depth + 1 > MAX_NESTING) return refuse(`nested zip not opened: zips nest deeper than ${MAX_NESTING} levels here`);
    let declared: number;
    try {
      declared = await scanZip(zipFile);
    } catch (err) {
      return refuse(`nested zip does not open: ${(err as Error).message}`);
    }
    this.checkDeclared(declared);
    await this.emit({ source, file: null, status: 'skipped', code: 'SKIPPED_NESTED_ZIP', message: 'nested zip, its entries follow' });
    await this.walk(zipFile, source + '/', relative + '.d', depth + 1);
    await fs.promises.rm(zipFile, { force: true }); // its contents are out; a retry re-extracts it if needed
  }

  /** Streams a big entry to the scratch file, checking size and CRC, then moves it into place. Returns its first bytes. */
  private async stream(zipPath: string, entry: ZipEntry, target: string): Promise<Buffer> {
    const tmp = path.join(this.opts.tmpDir, 'stream.tmp');
    const input = openEntry(zipPath, entry);
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
      const inflate = entry.compressionMethod === 8 ? zlib.createInflateRaw() : new PassThrough();
      inflate.once('error', (err) => (inputError = err));
      await pipeline(input, inflate, meter, fs.createWriteStream(tmp), { signal: this.opts.signal });
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      if (err instanceof IoFailure || err instanceof BadEntry || this.opts.signal?.aborted) throw err;
      if (err === inputError) throw new BadEntry(`corrupt entry: ${(err as Error).message}`);
      throw withPath(err, tmp); // the disk side failed (full, permissions)
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
    this.opts.onProgress?.(this.nextIndex, this.bytes, this.declared); // keeps heartbeats going through one huge entry
    if (this.bytes > this.opts.maxUncompressedBytes) this.tooLarge(`stopped after ${formatBytes(this.bytes)}`);
  }

  private tooLarge(detail: string): never {
    throw new IoFailure(
      `zip expands past the ${formatBytes(this.opts.maxUncompressedBytes)} limit on uncompressed size (maxUncompressedBytes=${this.opts.maxUncompressedBytes}): ` +
        `${detail}, a zip bomb or a bigger dataset than allowed`,
      'ZipTooLarge',
      false,
    );
  }
}

/** An entry's stored (compressed) bytes as a stream; a header that cannot be read is the entry's fault. */
function openEntry(zipPath: string, entry: ZipEntry): NodeJS.ReadableStream {
  let start: number;
  const fd = fs.openSync(zipPath, 'r');
  try {
    start = dataStart(fd, entry);
  } catch (err) {
    throw new BadEntry(`cannot read entry: ${(err as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
  if (entry.compressedSize === 0) return Readable.from([]);
  return fs.createReadStream(zipPath, { start, end: start + entry.compressedSize - 1, highWaterMark: 1 << 20 });
}

/** Counts an entry's inflated bytes, keeps the first 4, and checks size and CRC against the archive's word. */
class EntryCheck {
  head = Buffer.alloc(0);
  private size = 0;
  private crc = 0;

  constructor(
    private readonly entry: ZipEntry,
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

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
