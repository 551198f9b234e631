/**
 * The one header pass: what the validate stage writes for one candidate file, as finished JSON lines, built where
 * the file is read (a read-pool thread), so the activity's thread only writes text. The validate record always;
 * for a valid file also its metadata record (catalog fields and the whole header, `meta` last), which the
 * metadata stage takes over as it is: no file is opened or parsed twice.
 */
import { readDicomFileSync } from './read';
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

/**
 * Reads the entries' headers and encodes their lines as it goes, each file's strings written into two growing
 * off-heap buffers at once and left to die young: a slice's output never sits on the JS heap waiting for the answer
 * (with the pool threads' small young generation it outlived scavenges and was copied and promoted: 256-file slices
 * read at about 60% of the rate the same thread reaches one file at a time).
 */
export function readEncodedHeaders(entries: readonly EntryRecord[], bytesPerFile = { validate: 96, metadata: 4096 }): EncodedHeaders {
  const validate = new ByteSink(entries.length * bytesPerFile.validate);
  const metadata = new ByteSink(entries.length * bytesPerFile.metadata);
  let valid = 0;
  for (const entry of entries) {
    const lines = headerLines(entry);
    validate.line(lines.validate);
    if (lines.metadata !== null) {
      metadata.line(lines.metadata);
      valid++;
    }
  }
  return { validate: validate.bytes(), metadata: metadata.bytes(), files: entries.length, valid };
}

/** UTF-8 lines appended to one off-heap buffer that doubles when full; bytes() is a view on memory of its own. */
class ByteSink {
  private buf: Buffer;
  private at = 0;
  constructor(initial: number) {
    // allocUnsafeSlow: not a slice of Node's shared pool, so the memory can move to another thread.
    this.buf = Buffer.allocUnsafeSlow(Math.max(1, initial));
  }
  line(text: string): void {
    const need = this.at + Buffer.byteLength(text, 'utf8') + 1;
    if (need > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(need, this.buf.length * 2));
      this.buf.copy(bigger, 0, 0, this.at);
      this.buf = bigger;
    }
    this.at += this.buf.write(text, this.at, 'utf8');
    this.buf[this.at++] = 10;
  }
  bytes(): Uint8Array {
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset, this.at);
  }
}
