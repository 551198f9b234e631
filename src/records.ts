/**
 * The JSON-lines records the stages hand to each other through files under DIR/work.
 * One record per line; every file is written whole to a temp name and renamed, so a reader
 * never sees half a file.
 */
import type { DicomJson } from './dicom/types';
import { readLineBuffers } from './io/jsonl';

/** Final status of one entry of the source, as in validation.csv. */
export type EntryStatus = 'valid' | 'invalid' | 'duplicate' | 'conflict' | 'skipped' | 'refused';

/** entries.jsonl: one per entry found in the source (zip entry, nested zip entry, or file of a folder). */
export interface EntryRecord {
  /** Position in source order (zip entry order; sorted path order for a folder). */
  i: number;
  /** Path inside the source, '/'-separated; nested zips as 'outer.zip/inner/file.dcm'. */
  source: string;
  /** Absolute path of the bytes on disk, or null when the entry was not written (skipped/refused). */
  file: string | null;
  /** Set when extract already decided: the entry is not a candidate for validation. */
  status: null | 'skipped' | 'refused';
  /** Bytes of a candidate's file. */
  size?: number;
  code?: string;
  message?: string;
}

/** work/validate/batch-N.jsonl: one per candidate entry (status null in entries.jsonl). */
export interface ValidateRecord {
  i: number;
  status: 'valid' | 'invalid';
  code?: string;
  message?: string;
}

/** The nine catalog fields of the seed notebook plus what the contract adds. */
export interface InstanceFields {
  patientId: string | null;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sliceThickness: number | null;
  pixelSpacingRow: number | null;
  pixelSpacingCol: number | null;
  /** ISO YYYY-MM-DD or null */
  studyDate: string | null;
  acquisitionDate: string | null;
  instanceNumber: number | null;
  modality: string | null;
  rows: number | null;
  columns: number | null;
  transferSyntaxUid: string | null;
  fileSize: number;
  /** For series checks. */
  imagePositionPatient: number[] | null;
  imageOrientationPatient: number[] | null;
}

/** work/metadata/batch-N.jsonl: one per valid entry. */
export interface MetadataRecord {
  i: number;
  source: string;
  file: string;
  fields: InstanceFields;
  /** Whole header in the DICOM JSON model (PS3.18 Annex F), Pixel Data left out. */
  meta: DicomJson;
  warnings?: string[];
}

/** outcomes.jsonl: final status of every entry, in source order. */
export interface OutcomeRecord {
  i: number;
  path: string;
  status: EntryStatus;
  code: string;
  message: string;
}

/** instances.jsonl: one per unique SOP instance placed in DIR/organized. */
export interface InstanceRecord {
  i: number;
  source: string;
  /** Relative to DIR, '/'-separated: organized/<patient>/<study>/<series>/<sop>.dcm */
  organizedPath: string;
  fields: InstanceFields;
  meta: DicomJson;
}

/** series-issues.jsonl */
export interface SeriesIssueRecord {
  seriesInstanceUid: string;
  code: string;
  message: string;
}

const META_KEY = ',"meta":';
const META_KEY_BYTES = Buffer.from(META_KEY);

/**
 * One JSON line of a record that carries a header (MetadataRecord, InstanceRecord), with `meta` last, so that
 * stages needing only the small fields read them without parsing the header (see splitMetaLine).
 */
export function lineWithMeta(record: object, metaText: string): string {
  return `${JSON.stringify(record).slice(0, -1)}${META_KEY}${metaText}}`;
}

/** The same line as bytes, its header given as bytes: the header is never decoded or encoded again. */
export function lineWithMetaBytes(record: object, meta: Uint8Array): Buffer[] {
  const head = JSON.stringify(record);
  return [Buffer.from(`${head.slice(0, -1)}${META_KEY}`, 'utf8'), meta as Buffer, CLOSE_LINE];
}
const CLOSE_LINE = Buffer.from('}\n');

/**
 * The small fields of a line written by lineWithMeta, parsed, and its header as JSON bytes, not decoded. The first
 * `,"meta":` of a line is the key (inside a JSON string every quote is escaped); it is the last key when the line
 * ends the header's object and the fields before it hold `fields`. Lines of another layout (an earlier version
 * wrote `warnings` after `meta`; hand-made files put keys in any order) are parsed whole.
 */
export function splitMetaLine<T extends object>(line: Buffer): { record: T; meta: Buffer | null } {
  const at = line.indexOf(META_KEY_BYTES);
  const n = line.length;
  if (at > 0 && n >= 2 && line[n - 1] === 0x7d && line[n - 2] === 0x7d) {
    const record = JSON.parse(line.toString('utf8', 0, at) + '}') as T;
    if ('fields' in record) return { record, meta: line.subarray(at + META_KEY_BYTES.length, n - 1) };
  }
  const whole = JSON.parse(line.toString('utf8')) as T & { meta?: unknown };
  const meta = whole.meta === undefined ? null : Buffer.from(JSON.stringify(whole.meta), 'utf8');
  delete whole.meta;
  return { record: whole, meta };
}

/** The records of a file of lines written by lineWithMeta, small fields parsed, each header left as JSON bytes. */
export async function* readRecordsWithMeta<T extends object>(file: string): AsyncGenerator<{ record: T; meta: Buffer | null }> {
  for await (const lines of readLineBuffers(file)) for (const line of lines) yield splitMetaLine<T>(line);
}
