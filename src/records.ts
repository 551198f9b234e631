/**
 * The JSON-lines records the stages hand to each other through files under DIR/work.
 * One record per line; every file is written whole to a temp name and renamed, so a reader
 * never sees half a file.
 */
import type { DicomJson } from './dicom/types';

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

/**
 * The header as JSON text every catalog accepts: a NUL inside a string is dropped (PostgreSQL text and jsonb
 * cannot hold U+0000) and a lone UTF-16 surrogate becomes U+FFFD (jsonb refuses it). JSON.stringify writes exactly
 * these as \u escapes (paired surrogates stay raw), so only escapes whose backslash is not itself escaped are touched.
 * Made once, where the header is read; every later stage carries the text as it is.
 */
export function dicomJsonText(meta: unknown): string | null {
  if (meta === undefined || meta === null) return null;
  const json = JSON.stringify(meta);
  // Nearly every header has no \u escape at all: indexOf answers that much faster than the case-insensitive regex.
  // (JSON.stringify writes its escapes with a lower-case u; a literal backslash comes out doubled, which the
  // replace below leaves alone, so skipping it when there is no "\u" changes nothing.)
  if (json.indexOf('\\u') === -1 || !/\\u(0000|d[89a-f])/i.test(json)) return json;
  return json.replace(/(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/gi, (_m, slashes: string, code: string) =>
    slashes + (code === '0000' ? '' : '\\ufffd'),
  );
}

const META_KEY = ',"meta":';

/**
 * One JSON line of a record that carries a header (MetadataRecord, InstanceRecord), with `meta` last, so that
 * stages needing only the small fields read them without parsing the header (see splitMetaLine).
 */
export function lineWithMeta(record: object, metaText: string): string {
  return `${JSON.stringify(record).slice(0, -1)}${META_KEY}${metaText}}`;
}

/**
 * The small fields of a line written by lineWithMeta, parsed, and its header as JSON text, not parsed. The first
 * `,"meta":` of a line is the key (inside a JSON string every quote is escaped). Lines of another layout (an
 * earlier version wrote `warnings` after `meta`) are parsed whole.
 */
export function splitMetaLine<T extends object>(line: string): { record: T; metaText: string | null } {
  const at = line.indexOf(META_KEY);
  if (at > 0 && line.endsWith('}}')) {
    return { record: JSON.parse(line.slice(0, at) + '}') as T, metaText: line.slice(at + META_KEY.length, -1) };
  }
  const whole = JSON.parse(line) as T & { meta?: unknown };
  const metaText = dicomJsonText(whole.meta);
  delete whole.meta;
  return { record: whole, metaText };
}
