/**
 * A zip's central directory, read in big blocks and parsed in memory: one read per few MiB of directory instead of
 * a few small asynchronous reads per entry (with 20,000 entries those cost seconds of thread-pool round trips).
 * ZIP64 (sizes, offsets and entry counts past 32 bits) is understood; every field is bounds-checked, and a
 * directory that does not parse is an error naming what is wrong (the caller reports "not a readable zip").
 */
import * as fs from 'fs';

export interface ZipEntry {
  /** The name's bytes, as stored (decoded by the caller: UTF-8 flag, Unicode Path field, else CP437). */
  fileNameRaw: Buffer;
  generalPurposeBitFlag: number;
  compressionMethod: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  externalFileAttributes: number;
  relativeOffsetOfLocalHeader: number;
  extraFields: { id: number; data: Buffer }[];
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_EOCD_SEARCH = 22 + 0xffff;
/** Bytes of central directory read at once. */
const BLOCK = 4 * 1024 * 1024;

class ZipFormatError extends Error {}

function readAt(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = fs.readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  if (got < length) throw new ZipFormatError(`the file ends at ${position + got}, ${length - got} bytes before the record that starts at ${position}`);
  return buf;
}

function uint64(buf: Buffer, at: number): number {
  const value = buf.readBigUInt64LE(at);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError(`a 64-bit size or offset is too large (${value})`);
  return Number(value);
}

interface Directory {
  offset: number;
  size: number;
  entries: number;
}

/** Finds the end of central directory record (and its ZIP64 twin): where the directory is and how many entries. */
function locate(fd: number, fileSize: number): Directory {
  if (fileSize < 22) throw new ZipFormatError(`${fileSize} bytes is too short for a zip`);
  const tailLength = Math.min(fileSize, MAX_EOCD_SEARCH);
  const tail = readAt(fd, fileSize - tailLength, tailLength);
  let at = -1;
  for (let k = tail.length - 22; k >= 0; k--) {
    // the last signature whose comment fits before the end (some writers leave bytes after the comment)
    if (tail.readUInt32LE(k) === EOCD && k + 22 + tail.readUInt16LE(k + 20) <= tail.length) {
      at = k;
      break;
    }
  }
  if (at < 0) throw new ZipFormatError('no end of central directory record');
  if (tail.readUInt16LE(at + 4) !== 0 || tail.readUInt16LE(at + 6) !== 0) throw new ZipFormatError('multi-disk archives are not supported');
  let dir: Directory = { entries: tail.readUInt16LE(at + 10), size: tail.readUInt32LE(at + 12), offset: tail.readUInt32LE(at + 16) };
  const eocdPosition = fileSize - tailLength + at;
  if (dir.entries === 0xffff || dir.size === 0xffffffff || dir.offset === 0xffffffff) {
    if (eocdPosition < 20) throw new ZipFormatError('ZIP64 values without a ZIP64 locator');
    const locator = readAt(fd, eocdPosition - 20, 20);
    if (locator.readUInt32LE(0) === ZIP64_LOCATOR) {
      const at64 = uint64(locator, 8);
      const record = readAt(fd, at64, 56);
      if (record.readUInt32LE(0) !== ZIP64_EOCD) throw new ZipFormatError(`no ZIP64 end of central directory record at ${at64}`);
      dir = { entries: uint64(record, 32), size: uint64(record, 40), offset: uint64(record, 48) };
    }
  }
  if (dir.offset + dir.size > eocdPosition) throw new ZipFormatError(`the central directory (${dir.size} bytes at ${dir.offset}) overlaps its end record`);
  return dir;
}

/** The ZIP64 extended information field fills in the 32-bit fields that are all ones, in a fixed order. */
function applyZip64(entry: ZipEntry, data: Buffer): void {
  let at = 0;
  const next = (what: string) => {
    if (at + 8 > data.length) throw new ZipFormatError(`ZIP64 extra field too short for the ${what}`);
    const v = uint64(data, at);
    at += 8;
    return v;
  };
  if (entry.uncompressedSize === 0xffffffff) entry.uncompressedSize = next('uncompressed size');
  if (entry.compressedSize === 0xffffffff) entry.compressedSize = next('compressed size');
  if (entry.relativeOffsetOfLocalHeader === 0xffffffff) entry.relativeOffsetOfLocalHeader = next('local header offset');
}

/**
 * Every entry of the central directory, in order. Synchronous reads of BLOCK bytes: a directory of 250,000 entries
 * (about 40 MiB) is never held whole, and the caller's event loop gets a turn between blocks.
 */
export async function* zipEntries(zipPath: string): AsyncGenerator<ZipEntry[]> {
  const fd = fs.openSync(zipPath, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const dir = locate(fd, fileSize);
    let position = dir.offset;
    const end = dir.offset + dir.size;
    let seen = 0;
    let block = Buffer.alloc(0);
    let at = 0;
    while (seen < dir.entries) {
      // Keep at least one whole record in the block: refill when fewer than 46 + 3 * 65535 bytes are left.
      if (block.length - at < 46 + 3 * 0xffff && position < end) {
        const more = readAt(fd, position, Math.min(BLOCK, end - position));
        block = Buffer.concat([block.subarray(at), more]);
        at = 0;
        position += more.length;
      }
      const entries: ZipEntry[] = [];
      while (seen < dir.entries && block.length - at >= 46) {
        if (block.readUInt32LE(at) !== CENTRAL) throw new ZipFormatError(`no central directory record where entry ${seen + 1} should start`);
        const nameLength = block.readUInt16LE(at + 28);
        const extraLength = block.readUInt16LE(at + 30);
        const commentLength = block.readUInt16LE(at + 32);
        const recordEnd = at + 46 + nameLength + extraLength + commentLength;
        if (recordEnd > block.length) {
          if (position >= end) throw new ZipFormatError(`central directory record of entry ${seen + 1} runs past the directory`);
          break; // read more first
        }
        const entry: ZipEntry = {
          generalPurposeBitFlag: block.readUInt16LE(at + 8),
          compressionMethod: block.readUInt16LE(at + 10),
          crc32: block.readUInt32LE(at + 16),
          compressedSize: block.readUInt32LE(at + 20),
          uncompressedSize: block.readUInt32LE(at + 24),
          externalFileAttributes: block.readUInt32LE(at + 38),
          relativeOffsetOfLocalHeader: block.readUInt32LE(at + 42),
          fileNameRaw: Buffer.from(block.subarray(at + 46, at + 46 + nameLength)),
          extraFields: [],
        };
        for (let x = at + 46 + nameLength; x + 4 <= at + 46 + nameLength + extraLength; ) {
          const id = block.readUInt16LE(x);
          const size = block.readUInt16LE(x + 2);
          if (x + 4 + size > at + 46 + nameLength + extraLength) throw new ZipFormatError(`extra field of entry ${seen + 1} runs past its record`);
          const data = Buffer.from(block.subarray(x + 4, x + 4 + size));
          entry.extraFields.push({ id, data });
          if (id === 0x0001) applyZip64(entry, data);
          x += 4 + size;
        }
        if (entry.relativeOffsetOfLocalHeader + 30 > dir.offset) {
          throw new ZipFormatError(`entry ${seen + 1}'s local header offset ${entry.relativeOffsetOfLocalHeader} is past the data`);
        }
        entries.push(entry);
        seen++;
        at = recordEnd;
      }
      if (entries.length > 0) yield entries;
      else if (position >= end && seen < dir.entries) throw new ZipFormatError(`the central directory holds ${seen} of the ${dir.entries} entries it declares`);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Where an entry's stored bytes start: after its local header, whose name and extra lengths may differ from the directory's. */
export function dataStart(fd: number, entry: Pick<ZipEntry, 'relativeOffsetOfLocalHeader'>): number {
  const header = Buffer.allocUnsafe(30);
  if (fs.readSync(fd, header, 0, 30, entry.relativeOffsetOfLocalHeader) < 30 || header.readUInt32LE(0) !== LOCAL) {
    throw new ZipFormatError(`no local file header at offset ${entry.relativeOffsetOfLocalHeader}`);
  }
  return entry.relativeOffsetOfLocalHeader + 30 + header.readUInt16LE(26) + header.readUInt16LE(28);
}

export { ZipFormatError };
