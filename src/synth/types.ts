/** The options and the ground-truth manifest of a synthetic dataset. */
import type { InstanceFacts } from './datasets';

export interface SynthOptions {
  patients: number;
  /** CT slices per patient, default 8 */
  slices?: number;
  /** CT rows = columns, default 512 */
  size?: number;
  /** add the broken, duplicate, conflicting, unsafe and nested cases */
  broken?: boolean;
  /** default 1; the same options give a byte-identical zip */
  seed?: number;
  /**
   * Deflate every entry, DICOM included, as `zip -r` and TCIA's downloads do (a CT zip then holds ~40-50 % of
   * the bytes). Default false: DICOM entries are stored, only the XML reads are deflated. Zips only.
   */
  deflate?: boolean;
  /** the .zip to write */
  out: string;
}

export type EntryStatus = 'valid' | 'invalid' | 'duplicate' | 'conflict' | 'skipped' | 'refused';

export interface ExpectedEntry {
  /** entry path in the zip; entries of a nested zip as '<nested zip path>/<inner path>' */
  path: string;
  status: EntryStatus;
  /** a code of src/dicom/codes.ts, 'OK' for valid */
  code: string;
}

export interface ExpectedInstance extends InstanceFacts {
  /** path of the first copy in source order */
  sourcePath: string;
}

export interface ExpectedSeries {
  seriesInstanceUid: string;
  sliceCount: number;
  minSliceThickness: number | null;
  maxSliceThickness: number | null;
}

export interface ExpectedSeriesIssue {
  seriesInstanceUid: string;
  code: string;
}

export interface SynthManifest {
  /** every entry of the source exactly once, in source order */
  entries: ExpectedEntry[];
  /** unique valid instances, in source order of their first copy */
  instances: ExpectedInstance[];
  series: ExpectedSeries[];
  /** the series-level findings planted by --broken (every other series is clean) */
  seriesIssues: ExpectedSeriesIssue[];
}
