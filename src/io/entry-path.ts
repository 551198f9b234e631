/**
 * What an archive entry's name means on disk: decoded to text, judged safe or not, and whether it is
 * macOS clutter. Pure functions, shared by the zip and folder walkers.
 */
import { createHash } from 'crypto';
import * as path from 'path';
import * as iconv from 'iconv-lite';
import { crc32 } from './crc32';

/** General purpose flag bit 11: the name and comment are UTF-8. */
const UTF8_FLAG = 0x800;
/** Info-ZIP Unicode Path extra field: a UTF-8 name for an entry whose header name is CP437. */
const UNICODE_PATH_FIELD = 0x7075;

/** The entry name as text: UTF-8 when flagged (or given by a Unicode Path field that matches), else CP437. */
export function decodeEntryName(raw: Buffer, generalPurposeBitFlag: number, extraFields: { id: number; data: Buffer }[] = []): string {
  if (generalPurposeBitFlag & UTF8_FLAG) return raw.toString('utf8');
  for (const field of extraFields) {
    // version (1 byte) = 1, CRC-32 of the header name (4 bytes), then the UTF-8 name
    if (field.id !== UNICODE_PATH_FIELD || field.data.length < 6 || field.data[0] !== 1) continue;
    if (field.data.readUInt32LE(1) === crc32(raw)) return field.data.subarray(5).toString('utf8');
  }
  return iconv.decode(raw, 'cp437');
}

export type PathVerdict = { safe: true; relative: string } | { safe: false; reason: string };

/**
 * Whether an entry may be written under the extraction folder, and where ('/'-separated, normalized).
 * Backslashes count as separators (zips made on Windows), so `..\\x` is caught too.
 */
export function judgeEntryPath(name: string): PathVerdict {
  if (name.includes('\0')) return { safe: false, reason: 'the name contains a NUL byte' };
  const slashed = name.replace(/\\/g, '/');
  if (/^[a-zA-Z]:/.test(slashed)) return { safe: false, reason: `the name starts with a drive letter (${slashed.slice(0, 2)})` };
  if (slashed.startsWith('/')) return { safe: false, reason: 'the name is an absolute path' };
  const normalized = path.posix.normalize(slashed).replace(/\/+$/, '');
  if (normalized === '..' || normalized.startsWith('../')) {
    return { safe: false, reason: `the name escapes the extraction folder (it resolves to "${normalized}")` };
  }
  if (normalized === '' || normalized === '.') return { safe: false, reason: 'the name is empty' };
  return { safe: true, relative: normalized };
}

/** Is `target` inside `folder` (both absolute)? The last line of defence before any write. */
export function isInside(folder: string, target: string): boolean {
  const rel = path.relative(folder, target);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** `__MACOSX/...` folders and `._name` AppleDouble files: resource forks, never DICOM. */
export function isMacosMetadata(relative: string): boolean {
  // Called for every file of a listing: the name is looked at without splitting the path, unless __MACOSX is in it.
  if (relative.startsWith('._', Math.max(relative.lastIndexOf('/'), relative.lastIndexOf('\\')) + 1)) return true;
  return relative.includes('__MACOSX') && relative.replace(/\\/g, '/').split('/').includes('__MACOSX');
}

/** Directory entries end with a slash; they are not entries of the source. */
export function isDirectoryName(name: string): boolean {
  return name.endsWith('/') || name.endsWith('\\');
}

/** File systems allow 255 bytes per name. */
const MAX_NAME_BYTES = 255;
const KEPT_NAME_BYTES = 200;

/**
 * A relative path whose every component fits a file system: a longer name becomes its first bytes, `~`, a hash of
 * the whole name (so two long names that share a start stay apart) and its extension. The entry keeps its full
 * name in the records; only the file on disk is named short.
 */
export function shortenLongNames(relative: string): string {
  return relative
    .split('/')
    .map((part) => (Buffer.byteLength(part) <= MAX_NAME_BYTES ? part : shortName(part)))
    .join('/');
}

function shortName(part: string): string {
  const ext = path.extname(part);
  const keepExt = Buffer.byteLength(ext) <= 16 ? ext : '';
  let head = part.slice(0, part.length - keepExt.length);
  while (Buffer.byteLength(head) > KEPT_NAME_BYTES) head = head.slice(0, Math.max(0, head.length - Math.ceil((Buffer.byteLength(head) - KEPT_NAME_BYTES) / 4)));
  if (/[\ud800-\udbff]$/.test(head)) head = head.slice(0, -1); // never half a surrogate pair
  return `${head}~${createHash('sha256').update(part).digest('hex').slice(0, 12)}${keepExt}`;
}
