/**
 * Which series an export takes: a query over the catalog's series_summary view (db/migrations.ts) and the
 * series_issues table. Every flag narrows the selection (AND); --where is the user's own SQL condition over
 * series_summary, run read-only (a read-only transaction on PostgreSQL, query_only on SQLite) and refused when it
 * holds a `;`.
 */
import type { Knex } from 'knex';
import { isPostgres } from '../db/catalog';

export interface Selection {
  modality?: string[];
  minSlices?: number;
  maxThickness?: number;
  noSeriesIssues?: boolean;
  patients?: string[];
  series?: string[];
  where?: string;
}

export interface SelectedSeries {
  seriesInstanceUid: string;
  studyInstanceUid: string;
  patientId: string | null;
  modality: string | null;
  instances: number;
  bytes: number;
  maxSliceThickness: number | null;
  /** The series' findings in series_issues (codes and messages), deduplicated. */
  issues: { code: string; message: string }[];
}

export interface SelectedInstance {
  sopInstanceUid: string;
  filePath: string;
  fileSize: number;
}

/** A --where the export refuses before running anything. */
export class SelectionError extends Error {
  readonly code = 'BAD_SELECTION';
}

export function checkWhere(where: string): void {
  if (where.includes(';')) throw new SelectionError('--where takes one SQL condition over series_summary, without ";"');
  if (where.trim() === '') throw new SelectionError('--where is empty');
}

/** Runs `fn` in a transaction that cannot write, and rolls it back. */
async function readOnly<T>(db: Knex, fn: (trx: Knex.Transaction) => Promise<T>): Promise<T> {
  const trx = await db.transaction();
  const pg = isPostgres(db);
  try {
    if (pg) await trx.raw('SET TRANSACTION READ ONLY');
    else await trx.raw('PRAGMA query_only = 1');
    return await fn(trx);
  } finally {
    if (!pg) await trx.raw('PRAGMA query_only = 0').catch(() => undefined);
    await trx.rollback().catch(() => undefined);
  }
}

/** The selected series, in (patient, study, series) order, with their instance count, bytes and issues. */
export async function selectSeries(db: Knex, sel: Selection): Promise<SelectedSeries[]> {
  if (sel.where !== undefined) checkWhere(sel.where);
  return readOnly(db, async (trx) => {
    const q = trx
      .from('series_summary as s')
      .join(trx('dicom_metadata').select('series_instance_uid').sum({ bytes: 'file_size' }).groupBy('series_instance_uid').as('b'), 'b.series_instance_uid', 's.series_instance_uid')
      .select('s.series_instance_uid', 's.study_instance_uid', 's.patient_id', 's.modality', 's.slice_count', 's.max_slice_thickness', 'b.bytes');
    if (sel.modality?.length) q.whereIn(trx.raw('upper(s.modality)') as unknown as string, sel.modality.map((m) => m.toUpperCase()));
    if (sel.minSlices !== undefined) q.where('s.slice_count', '>=', sel.minSlices);
    if (sel.maxThickness !== undefined) q.where('s.max_slice_thickness', '<=', sel.maxThickness);
    if (sel.patients?.length) q.whereIn('s.patient_id', sel.patients);
    if (sel.series?.length) q.whereIn('s.series_instance_uid', sel.series);
    if (sel.noSeriesIssues) q.whereNotExists(trx('series_issues as i').select(trx.raw('1')).whereRaw('i.series_instance_uid = s.series_instance_uid'));
    if (sel.where !== undefined) q.whereRaw(`s.series_instance_uid IN (SELECT series_instance_uid FROM series_summary WHERE (${sel.where.replace(/\?/g, "\\?")}))`);
    q.orderBy([{ column: 's.patient_id' }, { column: 's.study_instance_uid' }, { column: 's.series_instance_uid' }]);
    let rows: Record<string, unknown>[];
    try {
      rows = (await q) as Record<string, unknown>[];
    } catch (err) {
      if (sel.where !== undefined) throw new SelectionError(`--where "${sel.where}" does not run over series_summary: ${(err as Error).message.split('\n')[0]}`);
      throw err;
    }
    const issues = new Map<string, { code: string; message: string }[]>();
    const uids = rows.map((r) => String(r.series_instance_uid));
    for (let k = 0; k < uids.length; k += 500) {
      const found = (await trx('series_issues').distinct('series_instance_uid', 'code', 'message').whereIn('series_instance_uid', uids.slice(k, k + 500)).orderBy(['series_instance_uid', 'code', 'message'])) as { series_instance_uid: string; code: string; message: string }[];
      for (const f of found) {
        const list = issues.get(f.series_instance_uid) ?? [];
        list.push({ code: f.code, message: f.message });
        issues.set(f.series_instance_uid, list);
      }
    }
    return rows.map((r) => ({
      seriesInstanceUid: String(r.series_instance_uid),
      studyInstanceUid: String(r.study_instance_uid),
      patientId: r.patient_id == null ? null : String(r.patient_id),
      modality: r.modality == null ? null : String(r.modality),
      instances: Number(r.slice_count),
      bytes: Number(r.bytes),
      maxSliceThickness: r.max_slice_thickness == null ? null : Number(r.max_slice_thickness),
      issues: issues.get(String(r.series_instance_uid)) ?? [],
    }));
  });
}

/** The instances of one series (their files in DIR's tree), in SOP Instance UID order. */
export async function seriesInstances(db: Knex, seriesInstanceUid: string): Promise<SelectedInstance[]> {
  const rows = (await db('dicom_metadata').select('sop_instance_uid', 'file_path', 'file_size').where({ series_instance_uid: seriesInstanceUid }).orderBy('sop_instance_uid')) as {
    sop_instance_uid: string;
    file_path: string;
    file_size: number;
  }[];
  return rows.map((r) => ({ sopInstanceUid: r.sop_instance_uid, filePath: r.file_path, fileSize: Number(r.file_size) }));
}

/** The --dry-run listing: one line per series and the totals. */
export function selectionText(series: SelectedSeries[]): string {
  const lines = series.map((s) => `  ${s.seriesInstanceUid}  ${s.modality ?? '-'}  ${s.instances} instances  ${formatBytes(s.bytes)}${s.issues.length ? `  issues: ${[...new Set(s.issues.map((i) => i.code))].join(',')}` : ''}`);
  const instances = series.reduce((n, s) => n + s.instances, 0);
  const bytes = series.reduce((n, s) => n + s.bytes, 0);
  lines.push(`${series.length} series, ${instances} instances, ${formatBytes(bytes)} would be exported`);
  return lines.join('\n');
}

export function formatBytes(n: number): string {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
