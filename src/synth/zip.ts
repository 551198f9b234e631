/**
 * Writing the synthetic zip with yazl: entries are produced one at a time (a 512x512 slice is 512 KiB,
 * a big dataset must not sit in memory), with a fixed timestamp so the same entries give the same bytes.
 *
 * yazl refuses unsafe names ('../x', '/x'), which we need on purpose as refused-entry fixtures: such an
 * entry is written under a same-length safe placeholder and its name bytes are patched afterwards in
 * the local header and in the central directory (names are not covered by the CRC).
 */
import * as fs from 'fs';
import { PassThrough } from 'stream';
import * as yazl from 'yazl';

export interface ZipSource {
  /** The entry name as it must appear in the zip, unsafe names included. */
  name: string;
  data: () => Buffer;
  /** Deflate: text always; DICOM only with the `deflate` option (else stored, which extracts fastest). */
  compress: boolean;
}

/** A fixed local time: DOS timestamps are local time, so this gives the same bytes in every time zone. */
const MTIME = new Date(2000, 0, 1, 12, 0, 0);

export function isUnsafeName(name: string): boolean {
  return /^[a-zA-Z]:/.test(name) || name.startsWith('/') || name.replace(/\\/g, '/').split('/').includes('..');
}

/** A name yazl accepts, of the same byte length: '/' at the start and '..' parts become '_'. */
export function placeholderName(name: string): string {
  const p = name
    .replace(/\\/g, '/')
    .replace(/^([a-zA-Z]):/, '$1_')
    .replace(/^\//, '_')
    .split('/')
    .map((part) => (part === '..' ? '__' : part))
    .join('/');
  if (Buffer.byteLength(p) !== Buffer.byteLength(name)) throw new Error(`placeholder for ${name} changes its length`);
  return p;
}

/**
 * Adds every entry lazily: yazl asks for an entry's bytes only when it is that entry's turn and pipes
 * them out with backpressure, so one entry at a time is in memory. (addBuffer would keep every buffer
 * alive until the end.) Lazy entries carry their CRC and sizes in a data descriptor after the data.
 */
function addEntries(zip: yazl.ZipFile, sources: ZipSource[]): Map<string, string> {
  const patches = new Map<string, string>(); // placeholder -> real name
  const seen = new Set<string>();
  for (const s of sources) {
    let name = s.name;
    if (isUnsafeName(name)) {
      name = placeholderName(name);
      patches.set(name, s.name);
    }
    if (seen.has(name)) throw new Error(`duplicate zip entry name: ${name}`);
    seen.add(name);
    const options = { compress: s.compress, mtime: MTIME, mode: 0o100644, forceDosTimestamp: true };
    zip.addReadStreamLazy(name, options, (cb) => {
      let data: Buffer;
      try {
        data = s.data();
      } catch (e) {
        return cb(e instanceof Error ? e : new Error(String(e)), undefined as never);
      }
      cb(null, new PassThrough().end(data));
    });
  }
  zip.end();
  return patches;
}

/** Writes the zip to outPath (via a temporary file renamed at the end). */
export async function writeZipFile(sources: ZipSource[], outPath: string): Promise<void> {
  const tmp = `${outPath}.tmp-${process.pid}`;
  const zip = new yazl.ZipFile();
  const out = fs.createWriteStream(tmp);
  const finished = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
    zip.on('error', reject);
  });
  zip.outputStream.pipe(out);
  try {
    const patches = addEntries(zip, sources);
    await finished;
    if (patches.size > 0) patchNamesInFile(tmp, patches);
    fs.renameSync(tmp, outPath);
  } catch (e) {
    out.destroy();
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/** The zip in memory (for the small nested zip). */
export async function zipToBuffer(sources: ZipSource[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const chunks: Buffer[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', resolve);
    zip.on('error', reject);
  });
  const patches = addEntries(zip, sources);
  await finished;
  const buf = Buffer.concat(chunks);
  if (patches.size > 0) {
    const { offset, size } = findCentralDirectory(buf);
    patchNames(offset, parseCentralDirectory(buf.subarray(offset, offset + size)), patches, (b, pos) => b.copy(buf, pos));
  }
  return buf;
}

export interface CentralEntry {
  /** Raw name bytes, undecoded. */
  name: Buffer;
  method: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
  /** Offset of this record's name field, relative to the start of the central directory. */
  nameOffsetInDirectory: number;
}

/** Parses the central directory of a zip (no zip64, no archive comment beyond 64 KiB). */
export function readCentralDirectory(zipBytes: Buffer): CentralEntry[] {
  const { offset, size } = findCentralDirectory(zipBytes);
  return parseCentralDirectory(zipBytes.subarray(offset, offset + size));
}

function findCentralDirectory(tail: Buffer, tailStart = 0): { offset: number; size: number; count: number } {
  for (let i = tail.length - 22; i >= Math.max(0, tail.length - 22 - 0xffff); i--) {
    if (tail.readUInt32LE(i) === 0x06054b50) {
      return { count: tail.readUInt16LE(i + 10), size: tail.readUInt32LE(i + 12), offset: tail.readUInt32LE(i + 16) };
    }
  }
  throw new Error(`no end of central directory record (tail at ${tailStart})`);
}

function parseCentralDirectory(cd: Buffer): CentralEntry[] {
  const entries: CentralEntry[] = [];
  let p = 0;
  while (p + 46 <= cd.length && cd.readUInt32LE(p) === 0x02014b50) {
    const nameLength = cd.readUInt16LE(p + 28);
    const extraLength = cd.readUInt16LE(p + 30);
    const commentLength = cd.readUInt16LE(p + 32);
    entries.push({
      name: Buffer.from(cd.subarray(p + 46, p + 46 + nameLength)),
      method: cd.readUInt16LE(p + 10),
      crc32: cd.readUInt32LE(p + 16),
      compressedSize: cd.readUInt32LE(p + 20),
      uncompressedSize: cd.readUInt32LE(p + 24),
      localHeaderOffset: cd.readUInt32LE(p + 42),
      nameOffsetInDirectory: p + 46,
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/** Rewrites placeholder names to the real (unsafe) names in both the local headers and the directory. */
function patchNames(
  directoryStart: number,
  entries: CentralEntry[],
  patches: Map<string, string>,
  write: (bytes: Buffer, position: number) => void,
): void {
  for (const e of entries) {
    const real = patches.get(e.name.toString('utf8'));
    if (real === undefined) continue;
    const bytes = Buffer.from(real, 'utf8');
    write(bytes, directoryStart + e.nameOffsetInDirectory);
    write(bytes, e.localHeaderOffset + 30);
  }
}

function patchNamesInFile(file: string, patches: Map<string, string>): void {
  const fd = fs.openSync(file, 'r+');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const tailLength = Math.min(fileSize, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    fs.readSync(fd, tail, 0, tailLength, fileSize - tailLength);
    const { offset, size } = findCentralDirectory(tail, fileSize - tailLength);
    const cd = Buffer.alloc(size);
    fs.readSync(fd, cd, 0, size, offset);
    const entries = parseCentralDirectory(cd);
    let patched = 0;
    patchNames(offset, entries, patches, (bytes, position) => {
      fs.writeSync(fd, bytes, 0, bytes.length, position);
      patched++;
    });
    if (patched !== patches.size * 2) throw new Error(`patched ${patched / 2} of ${patches.size} unsafe entry names`);
  } finally {
    fs.closeSync(fd);
  }
}
