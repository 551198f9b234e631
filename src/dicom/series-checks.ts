/**
 * Series-level checks over the catalogued instances (pure: no files, no database).
 *
 * Per series: gaps and repeats in InstanceNumber, repeated ImagePositionPatient, mixed SliceThickness /
 * PixelSpacing / Rows×Columns / Modality, and the geometry along the slice normal:
 * - positions are projected on the normal n = row × col of ImageOrientationPatient;
 * - spacing checks run only when at least 3 instances have a position and all share one orientation
 *   (a localizer or a series of single images, CR/DX, gets no spacing finding);
 * - a gap is "off" when it differs from the median gap by more than the tolerance, and the median gap
 *   disagrees with SliceThickness when they differ by more than the tolerance;
 * - tolerance = max(spacingToleranceMm, spacingTolerance × expected value): by default 10 % of the
 *   expected spacing, never below 0.05 mm (rounding in DS values).
 */
import type { Code } from './codes';
import type { InstanceFields, SeriesIssueRecord } from '../records';

/** What the checks read of an instance: its series, numbers and geometry (organize keeps only this per instance). */
export type SeriesSlice = Pick<
  InstanceFields,
  | 'seriesInstanceUid'
  | 'instanceNumber'
  | 'imagePositionPatient'
  | 'imageOrientationPatient'
  | 'sliceThickness'
  | 'pixelSpacingRow'
  | 'pixelSpacingCol'
  | 'rows'
  | 'columns'
  | 'modality'
>;

export interface SeriesCheckOptions {
  /** Relative tolerance on slice spacing, as a fraction of the expected value. Default 0.1. */
  spacingTolerance?: number;
  /** Absolute floor of the spacing tolerance, in mm. Default 0.05. */
  spacingToleranceMm?: number;
}

const DEFAULT_RELATIVE = 0.1;
const DEFAULT_ABSOLUTE_MM = 0.05;
/** Positions closer than this along the normal are the same slice position. */
const SAME_POSITION_MM = 0.001;
/** Two orientations are the same when their normals' dot product is at least this (about 2.5°). */
const SAME_ORIENTATION_DOT = 0.999;
/** Messages stay short enough to read (and to index in series_issues). */
const MAX_MESSAGE = 1000;
const MAX_LISTED = 10;

/** Numbers as people write them: at most 4 decimals, no trailing zeros. */
function num(x: number): string {
  return String(Number(x.toFixed(4)));
}

function cap(message: string): string {
  return message.length <= MAX_MESSAGE ? message : message.slice(0, MAX_MESSAGE - 1) + '…';
}

/** "a, b, c and 7 more" */
function listed(items: string[], max = MAX_LISTED): string {
  const shown = items.slice(0, max).join(', ');
  return items.length > max ? `${shown} and ${items.length - max} more` : shown;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** Distinct values with their counts, most frequent first (first seen wins a tie). */
function tally(values: string[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1]);
}

function tallyText(t: [string, number][]): string {
  return listed(t.map(([v, n]) => `${v} (${plural(n, 'instance')})`));
}

function present<T>(values: (T | null | undefined)[]): T[] {
  return values.filter((v): v is T => v !== null && v !== undefined);
}

function isFiniteVector(v: number[] | null | undefined, length: number): v is number[] {
  return Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

function cross(a: number[], b: number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

function dot(a: number[], b: number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Unit normal of an ImageOrientationPatient, or null when the two vectors are degenerate. */
function sliceNormal(iop: number[]): number[] | null {
  const n = cross(iop.slice(0, 3), iop.slice(3, 6));
  const len = Math.sqrt(dot(n, n));
  return len < 1e-6 ? null : n.map((x) => x / len);
}

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

type Finding = { code: Code; message: string };

function instanceNumberFindings(series: SeriesSlice[]): Finding[] {
  const numbers = present(series.map((s) => s.instanceNumber)).filter(Number.isInteger);
  const findings: Finding[] = [];
  const repeated = tally(numbers.map(String)).filter(([, n]) => n > 1);
  const unique = [...new Set(numbers)].sort((a, b) => a - b);
  if (unique.length >= 2) {
    // Missing numbers between consecutive present ones, as ranges (never walks the whole span).
    const missing: string[] = [];
    let missingCount = 0;
    for (let i = 1; i < unique.length; i++) {
      const from = unique[i - 1] + 1;
      const to = unique[i] - 1;
      if (to < from) continue;
      missingCount += to - from + 1;
      missing.push(from === to ? String(from) : `${from}-${to}`);
    }
    if (missingCount > 0) {
      findings.push({
        code: 'INSTANCE_NUMBER_GAP',
        message:
          `InstanceNumber runs ${unique[0]}..${unique[unique.length - 1]} but ` +
          `${missingCount} ${missingCount === 1 ? 'number is' : 'numbers are'} missing: ${listed(missing)}`,
      });
    }
  }
  if (repeated.length > 0) {
    findings.push({
      code: 'DUPLICATE_INSTANCE_NUMBER',
      message: `InstanceNumber shared by several instances: ${listed(repeated.map(([v, n]) => `${v} (${n} instances)`))}`,
    });
  }
  return findings;
}

function duplicatePositionFindings(series: SeriesSlice[]): Finding[] {
  const byPosition = new Map<string, SeriesSlice[]>();
  for (const s of series) {
    if (!isFiniteVector(s.imagePositionPatient, 3)) continue;
    const key = `(${s.imagePositionPatient.map(num).join(', ')})`;
    const group = byPosition.get(key) ?? [];
    group.push(s);
    byPosition.set(key, group);
  }
  const shared = [...byPosition.entries()].filter(([, g]) => g.length > 1);
  if (shared.length === 0) return [];
  const describe = ([key, group]: [string, SeriesSlice[]]) => {
    const numbers = present(group.map((s) => s.instanceNumber));
    const who = numbers.length === group.length ? `InstanceNumber ${numbers.join(', ')}` : plural(group.length, 'instance');
    return `${key} by ${who}`;
  };
  return [{ code: 'DUPLICATE_POSITION', message: `ImagePositionPatient shared by several instances: ${listed(shared.map(describe), 5)}` }];
}

function mixedValueFindings(series: SeriesSlice[]): Finding[] {
  const findings: Finding[] = [];
  const mixed = (code: Code, label: string, values: (string | null)[]) => {
    const t = tally(present(values));
    if (t.length < 2) return;
    const absent = values.length - present(values).length;
    const note = absent > 0 ? `; ${plural(absent, 'instance')} without a value` : '';
    findings.push({ code, message: `${label} differs within the series: ${tallyText(t)}${note}` });
  };
  mixed('MIXED_SLICE_THICKNESS', 'SliceThickness', series.map((s) => (s.sliceThickness === null ? null : `${num(s.sliceThickness)} mm`)));
  mixed(
    'MIXED_PIXEL_SPACING',
    'PixelSpacing (row\\column)',
    series.map((s) => (s.pixelSpacingRow === null || s.pixelSpacingCol === null ? null : `${num(s.pixelSpacingRow)}\\${num(s.pixelSpacingCol)} mm`)),
  );
  mixed('MIXED_DIMENSIONS', 'Rows x Columns', series.map((s) => (s.rows === null || s.columns === null ? null : `${s.rows}x${s.columns}`)));
  mixed('MIXED_MODALITY', 'Modality', series.map((s) => s.modality || null));
  return findings;
}

function spacingFindings(series: SeriesSlice[], relative: number, absoluteMm: number): Finding[] {
  const placed = series.filter((s) => isFiniteVector(s.imagePositionPatient, 3) && isFiniteVector(s.imageOrientationPatient, 6));
  if (placed.length < 3) return [];
  const normal = sliceNormal(placed[0].imageOrientationPatient!);
  if (!normal) return [];
  // Mixed orientations (e.g. a localizer inside the series) have no single normal to measure along.
  for (const s of placed) {
    const n = sliceNormal(s.imageOrientationPatient!);
    if (!n || Math.abs(dot(n, normal)) < SAME_ORIENTATION_DOT) return [];
  }
  const along = placed.map((s) => dot(s.imagePositionPatient!, normal)).sort((a, b) => a - b);
  const positions = along.filter((d, i) => i === 0 || d - along[i - 1] > SAME_POSITION_MM);
  if (positions.length < 3) return [];

  const gaps = positions.slice(1).map((d, i) => d - positions[i]);
  const typical = median([...gaps].sort((a, b) => a - b));
  const tolerance = (expected: number) => Math.max(absoluteMm, relative * expected);
  const findings: Finding[] = [];

  const tol = tolerance(typical);
  const off = gaps.map((g, i) => ({ g, from: positions[i], to: positions[i + 1] })).filter(({ g }) => Math.abs(g - typical) > tol);
  if (off.length > 0) {
    const smallest = Math.min(...gaps);
    const largest = Math.max(...gaps);
    findings.push({
      code: 'UNEVEN_SLICE_SPACING',
      message:
        `Slice spacing along the normal ranges ${num(smallest)}-${num(largest)} mm (median ${num(typical)} mm, tolerance ${num(tol)} mm); ` +
        `${off.length} of ${plural(gaps.length, 'gap')} off: ` +
        listed(off.map(({ g, from, to }) => `${num(g)} mm between ${num(from)} and ${num(to)}`), 5),
    });
  }

  const thicknesses = tally(present(series.map((s) => s.sliceThickness)).filter((t) => t > 0).map(String));
  if (thicknesses.length > 0) {
    const thickness = Number(thicknesses[0][0]);
    const tolT = tolerance(thickness);
    if (Math.abs(typical - thickness) > tolT) {
      findings.push({
        code: 'SPACING_THICKNESS_MISMATCH',
        message:
          `Median slice spacing along the normal is ${num(typical)} mm but SliceThickness is ${num(thickness)} mm ` +
          `(difference ${num(Math.abs(typical - thickness))} mm, tolerance ${num(tolT)} mm)`,
      });
    }
  }
  return findings;
}

/** Findings for every series among `instances`, series in first-seen order, codes in a fixed order per series. */
export function checkSeries(instances: SeriesSlice[], opts: SeriesCheckOptions = {}): SeriesIssueRecord[] {
  const relative = opts.spacingTolerance ?? DEFAULT_RELATIVE;
  const absoluteMm = opts.spacingToleranceMm ?? DEFAULT_ABSOLUTE_MM;
  const bySeries = new Map<string, SeriesSlice[]>();
  for (const inst of instances) {
    const group = bySeries.get(inst.seriesInstanceUid) ?? [];
    group.push(inst);
    bySeries.set(inst.seriesInstanceUid, group);
  }
  const issues: SeriesIssueRecord[] = [];
  for (const [seriesInstanceUid, series] of bySeries) {
    const findings = [
      ...instanceNumberFindings(series),
      ...duplicatePositionFindings(series),
      ...mixedValueFindings(series),
      ...spacingFindings(series, relative, absoluteMm),
    ];
    for (const f of findings) issues.push({ seriesInstanceUid, code: f.code, message: cap(f.message) });
  }
  return issues;
}
