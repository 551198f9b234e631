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
