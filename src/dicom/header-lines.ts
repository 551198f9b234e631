/**
 * The one header pass: what the validate stage writes for one candidate file, as finished JSON lines, built where
 * the file is read (a read-pool thread), so the activity's thread only writes text. The validate record always;
 * for a valid file also its metadata record (catalog fields and the whole header, `meta` last), which the
 * metadata stage takes over as it is: no file is opened or parsed twice.
 */
import { readDicomFileSync } from './read';
import { encodeLines } from '../io/jsonl';
import { lineWithMeta, type EntryRecord, type MetadataRecord, type ValidateRecord } from '../records';

export interface HeaderLines {
  /** The ValidateRecord as JSON (no newline). */
  validate: string;
  /** The MetadataRecord as JSON (no newline), `meta` last; null for an invalid file. */
  metadata: string | null;
  invalid: boolean;
}

export function headerLines(entry: EntryRecord): HeaderLines {
  const r = readDicomFileSync(entry.file!, { withMeta: true });
  const record: ValidateRecord = { i: entry.i, status: r.status, code: r.code, message: r.message };
  const validate = JSON.stringify(record);
  if (r.status !== 'valid' || !r.fields) return { validate, metadata: null, invalid: true };
  const head: Omit<MetadataRecord, 'meta'> = { i: entry.i, source: entry.source, file: entry.file!, fields: r.fields };
  if (r.warnings?.length) head.warnings = r.warnings;
  return { validate, metadata: lineWithMeta(head, JSON.stringify(r.meta ?? {})), invalid: false };
}

/** A read-pool message: the files to read, and whether to answer with encoded bytes. */
export interface ReadJob {
  entries: EntryRecord[];
  encode: boolean;
}

/** Lines of several files, each kind joined and encoded as UTF-8 (every line ends with a newline). */
export interface EncodedHeaders {
  validate: Uint8Array;
  metadata: Uint8Array;
  files: number;
  valid: number;
}

export function encodeHeaderLines(lines: HeaderLines[]): EncodedHeaders {
  const joined = (list: string[]) => encodeLines(list);
  const metadata = lines.flatMap((l) => (l.metadata === null ? [] : [l.metadata]));
  // Buffers of their own (not slices of Node's shared pool), so their memory can move between threads.
  const own = (b: Buffer) =>
    b.byteOffset === 0 && b.buffer.byteLength === b.length ? new Uint8Array(b.buffer) : new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
  return { validate: own(joined(lines.map((l) => l.validate))), metadata: own(joined(metadata)), files: lines.length, valid: metadata.length };
}
