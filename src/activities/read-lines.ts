/**
 * What the per-file stages write for one candidate file, as a finished JSON line: built where the file is read
 * (a worker thread), so the activity's thread only writes text and never re-serializes a header.
 */
import { readDicomFileSync } from '../dicom/read';
import type { EntryRecord, MetadataRecord, ValidateRecord } from '../records';

export type ReadStage = 'validate' | 'metadata';

export interface ReadLine {
  /** The output record as JSON (no newline), or null when there is nothing to write (metadata of a non-valid file). */
  line: string | null;
  invalid: boolean;
}

export function readLine(entry: EntryRecord, stage: ReadStage): ReadLine {
  const r = readDicomFileSync(entry.file!, { withMeta: stage === 'metadata' });
  if (stage === 'validate') {
    const record: ValidateRecord = { i: entry.i, status: r.status, code: r.code, message: r.message };
    return { line: JSON.stringify(record), invalid: r.status === 'invalid' };
  }
  // A file that changed since validation has no metadata record; organize reports it.
  if (r.status !== 'valid' || !r.fields) return { line: null, invalid: false };
  const record: MetadataRecord = { i: entry.i, source: entry.source, file: entry.file!, fields: r.fields, meta: r.meta ?? {} };
  if (r.warnings?.length) record.warnings = r.warnings;
  return { line: JSON.stringify(record), invalid: false };
}
