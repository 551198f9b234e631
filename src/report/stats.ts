/**
 * The numbers the report shows, accumulated one record at a time so a 250,000-entry run is never held
 * in memory: per-status counts, the set of patients/studies, one small entry per series, a count per
 * distinct slice thickness, and only the first rows of the tables the HTML shows.
 */
import type { EntryStatus, InstanceRecord, OutcomeRecord, SeriesIssueRecord } from '../records';

export const STATUSES: readonly EntryStatus[] = ['valid', 'invalid', 'duplicate', 'conflict', 'skipped', 'refused'];
/** Entries listed in the "files not placed" table: broken, unsafe or conflicting. */
export const PROBLEM_STATUSES: ReadonlySet<EntryStatus> = new Set(['invalid', 'refused', 'conflict']);

export const MAX_PROBLEM_ROWS = 200;
export const MAX_ISSUE_ROWS = 500;
export const MAX_SERIES_BARS = 50;

export interface SeriesStat {
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** Modality of the first instance of the series (a mix is reported as a series issue). */
  modality: string | null;
  slices: number;
}

export class ReportStats {
  readonly statusCounts: Record<EntryStatus, number> = { valid: 0, invalid: 0, duplicate: 0, conflict: 0, skipped: 0, refused: 0 };
  entries = 0;
  /** First MAX_PROBLEM_ROWS problem entries, in source order, and how many there are in all. */
  readonly problems: OutcomeRecord[] = [];
  problemCount = 0;

  /** Distinct non-null PatientIDs, as COUNT(DISTINCT patient_id) in SQL counts them. */
  readonly patients = new Set<string>();
  readonly studies = new Set<string>();
  readonly series = new Map<string, SeriesStat>();
  instances = 0;
  /** Instance count per distinct SliceThickness value. */
  readonly thickness = new Map<number, number>();
  instancesWithoutThickness = 0;

  readonly issues: SeriesIssueRecord[] = [];
  issueCount = 0;

  addOutcome(o: OutcomeRecord): void {
    this.entries++;
    if (o.status in this.statusCounts) this.statusCounts[o.status]++;
    if (PROBLEM_STATUSES.has(o.status)) {
      this.problemCount++;
      if (this.problems.length < MAX_PROBLEM_ROWS) this.problems.push(o);
    }
  }

  addInstance(r: Omit<InstanceRecord, 'meta'>): void {
    const f = r.fields;
    this.instances++;
    if (f.patientId !== null && f.patientId !== undefined) this.patients.add(f.patientId);
    this.studies.add(f.studyInstanceUid);
    const s = this.series.get(f.seriesInstanceUid);
    if (s) s.slices++;
    else {
      this.series.set(f.seriesInstanceUid, {
        seriesInstanceUid: f.seriesInstanceUid,
        studyInstanceUid: f.studyInstanceUid,
        modality: f.modality ?? null,
        slices: 1,
      });
    }
    if (typeof f.sliceThickness === 'number' && Number.isFinite(f.sliceThickness)) {
      this.thickness.set(f.sliceThickness, (this.thickness.get(f.sliceThickness) ?? 0) + 1);
    } else {
      this.instancesWithoutThickness++;
    }
  }

  addIssue(i: SeriesIssueRecord): void {
    this.issueCount++;
    if (this.issues.length < MAX_ISSUE_ROWS) this.issues.push(i);
  }

  /** Average slices (instances) per study; 0 when there is no study. */
  get averageSlicesPerStudy(): number {
    return this.studies.size === 0 ? 0 : this.instances / this.studies.size;
  }

  get averageSlicesPerSeries(): number {
    return this.series.size === 0 ? 0 : this.instances / this.series.size;
  }

  /** The series with the most slices first (ties by UID, so the order never depends on input order). */
  topSeries(limit = MAX_SERIES_BARS): SeriesStat[] {
    return [...this.series.values()]
      .sort((a, b) => b.slices - a.slices || (a.seriesInstanceUid < b.seriesInstanceUid ? -1 : a.seriesInstanceUid > b.seriesInstanceUid ? 1 : 0))
      .slice(0, limit);
  }
}

/** A series label short enough for a chart row: the UID's tail (which differs between series) + modality. */
export function shortSeriesLabel(seriesInstanceUid: string, modality: string | null): string {
  const tail = seriesInstanceUid.length > 14 ? `…${seriesInstanceUid.slice(-12)}` : seriesInstanceUid;
  if (!modality) return tail;
  // Modality is a 16-character CS at most; a longer (broken) value is cut so the label stays short.
  return `${tail} (${modality.length > 16 ? `${modality.slice(0, 15)}…` : modality})`;
}

/** "1 instance", "3 instances". */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
