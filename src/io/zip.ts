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
  /** After each record: records so far, bytes inflated so far. */
  onProgress?: (entryIndex: number, bytes: number) => void;
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

function openReadStream(zip: yauzl.ZipFile, entry: yauzl.Entry): Promise<NodeJS.ReadableStream> {
  return new Promise((resolve, reject) => zip.openReadStream(entry, (err, stream) => (err ? reject(err) : resolve(stream))));
}

/** An entry whose bytes are bad: reported as REFUSED_BAD_ENTRY, the walk goes on. */
class BadEntry extends Error {}

class ZipExtraction {
  nextIndex = 0;
  bytes = 0;
  /** Files written in this run, so a second entry of the same name does not overwrite the first. */
  private readonly written = new Set<string>();

  constructor(private readonly opts: ZipExtractOptions) {}

  /** Walks one archive: `sourcePrefix` names it in records, `outDir` (relative to extractedDir) is where its files go. */
  async walk(zipPath: string, sourcePrefix: string, outDir: string, depth: number): Promise<void> {
    const zip = await openZip(zipPath);
    try {
      for await (const entry of entriesOf(zip)) {
        if (this.opts.signal?.aborted) throw this.opts.signal.reason ?? new Error('cancelled');
        await this.entry(zip, entry, sourcePrefix, outDir, depth);
      }
    } finally {
      zip.close();
    }
  }

  private async emit(record: Omit<EntryRecord, 'i'>): Promise<void> {
    await this.opts.emit({ i: this.nextIndex, ...record });
    this.nextIndex++;
    this.opts.onProgress?.(this.nextIndex, this.bytes);
  }

  private async entry(zip: yauzl.ZipFile, entry: yauzl.Entry, sourcePrefix: string, outDir: string, depth: number): Promise<void> {
    const name = decodeEntryName(entry.fileNameRaw, entry.generalPurposeBitFlag, entry.extraFields);
    const unixType = (entry.externalFileAttributes >>> 16) & S_IFMT;
    if (isDirectoryName(name) || unixType === S_IFDIR) return; // folders are not entries
    const source = sourcePrefix + name;

    const verdict = judgeEntryPath(name);
    if (!verdict.safe) {
      return this.emit({ source, file: null, status: 'refused', code: 'REFUSED_UNSAFE_PATH', message: `not extracted: ${verdict.reason}` });
    }
    if (unixType !== 0 && unixType !== S_IFREG) {
      const what = unixType === S_IFLNK ? 'a symbolic link' : `not a regular file (mode ${unixType.toString(8)})`;
      return this.emit({ source, file: null, status: 'skipped', code: 'SKIPPED_NOT_A_FILE', message: `not extracted: ${what}` });
    }
    if (isMacosMetadata(verdict.relative)) {
      return this.emit({ source, file: null, status: 'skipped', code: 'SKIPPED_MACOS_METADATA', message: 'macOS metadata, not DICOM' });
    }
    if (entry.generalPurposeBitFlag & 0x1) {
      return this.emit({ source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message: 'encrypted entry, cannot be read' });
    }

    const relative = path.join(outDir, verdict.relative);
    let target = path.join(this.opts.extractedDir, relative);
    if (this.written.has(target)) target = path.join(this.opts.extractedDir, DUPLICATES_DIR, String(this.nextIndex), relative);
    if (!isInside(this.opts.extractedDir, target)) {
      return this.emit({ source, file: null, status: 'refused', code: 'REFUSED_UNSAFE_PATH', message: 'not extracted: the name resolves outside the extraction folder' });
    }

    let head: Buffer;
    try {
      head = (await this.reuse(target, entry.uncompressedSize)) ?? (await this.write(zip, entry, target));
    } catch (err) {
      if (!(err instanceof BadEntry)) throw err;
      return this.emit({ source, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message: err.message });
    }
    this.written.add(target);

    if (startsWithLocalHeader(head)) return this.nested(target, source, path.relative(this.opts.extractedDir, target), depth);
    return this.emit({ source, file: target, status: null });
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

  /** On a retry: keep a file an earlier attempt finished. Returns its first bytes, or null to extract anew. */
  private async reuse(target: string, size: number): Promise<Buffer | null> {
    if (this.nextIndex >= (this.opts.trustBelow ?? 0)) return null;
    const stat = await fs.promises.lstat(target).catch(() => null);
    if (!stat?.isFile() || stat.size !== size) return null;
    this.count(size);
    const handle = await fs.promises.open(target, 'r');
    try {
      const head = Buffer.alloc(4);
      const { bytesRead } = await handle.read(head, 0, 4, 0);
      return head.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  /** Inflates one entry to a scratch file, checks size and CRC, then renames it into place. Returns its first bytes. */
  private async write(zip: yauzl.ZipFile, entry: yauzl.Entry, target: string): Promise<Buffer> {
    const tmp = path.join(this.opts.tmpDir, 'entry.tmp');
    let input: NodeJS.ReadableStream;
    try {
      input = await openReadStream(zip, entry);
    } catch (err) {
      throw new BadEntry(`cannot read entry: ${(err as Error).message}`);
    }
    const meter = new EntryMeter(entry, (n) => this.count(n));
    let inputError: unknown;
    input.once('error', (err) => (inputError = err));
    try {
      await pipeline(input, meter, fs.createWriteStream(tmp), { signal: this.opts.signal });
    } catch (err) {
      await fs.promises.rm(tmp, { force: true });
      if (err instanceof IoFailure || this.opts.signal?.aborted) throw err;
      if (err instanceof BadEntry) throw err;
      if (err === inputError) throw new BadEntry(`corrupt entry: ${(err as Error).message}`);
      throw err; // the disk side failed (full, permissions): worth a retry
    }
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
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
    return meter.head;
  }

  /** Adds inflated bytes to the total; past the limit the whole extraction stops. */
  private count(n: number): void {
    this.bytes += n;
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

/** Passes an entry's inflated bytes through, counting them, keeping the first 4 and checking size and CRC at the end. */
class EntryMeter extends Transform {
  head = Buffer.alloc(0);
  private size = 0;
  private crc = 0;

  constructor(
    private readonly entry: yauzl.Entry,
    private readonly onBytes: (n: number) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    try {
      this.onBytes(chunk.length);
    } catch (err) {
      return callback(err as Error);
    }
    this.size += chunk.length;
    if (this.size > this.entry.uncompressedSize) {
      return callback(new BadEntry(`corrupt entry: inflates to more than the ${this.entry.uncompressedSize} bytes it declares`));
    }
    if (this.head.length < 4) this.head = Buffer.concat([this.head, chunk.subarray(0, 4 - this.head.length)]);
    this.crc = crc32(chunk, this.crc);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.size !== this.entry.uncompressedSize) {
      return callback(new BadEntry(`corrupt entry: ${this.size} bytes instead of the ${this.entry.uncompressedSize} it declares`));
    }
    if (this.crc !== this.entry.crc32) {
      return callback(new BadEntry(`corrupt entry: CRC-32 is ${hex(this.crc)}, the archive says ${hex(this.entry.crc32)}`));
    }
    callback();
  }
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
