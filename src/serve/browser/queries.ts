/**
 * The study browser's catalog queries. Every list is paged (LIMIT one more than a page, to know whether there is a
 * next one) and starts from an index: a page of keys first (patients, studies), then the counts of that page's keys
 * only, so a page costs the same with 250,000 instances as with 100. SQLite and PostgreSQL alike.
 */
import type { ServeContext } from '../http';
import type { DicomJson } from '../../dicom/types';
import { PAGE_SIZE } from './html';

type Row = Record<string, unknown>;

export async function rows<T = Row>(ctx: ServeContext, sql: string, bindings: unknown[] = []): Promise<T[]> {
  const result = await ctx.db.raw(sql, bindings as never[]);
  return (ctx.dialect === 'postgres' ? (result as { rows: T[] }).rows : (result as T[])) ?? [];
}

/** The first value of a header tag in `meta`, as text (a person name: its alphabetic group). */
export function metaText(ctx: ServeContext, tag: string, pn = false): string {
  if (!/^[0-9A-F]{8}$/.test(tag)) throw new Error(`not a tag: ${tag}`);
  if (ctx.dialect === 'postgres') return pn ? `(meta->'${tag}'->'Value'->0->>'Alphabetic')` : `(meta->'${tag}'->'Value'->>0)`;
  return pn ? `json_extract(meta, '$."${tag}".Value[0].Alphabetic')` : `json_extract(meta, '$."${tag}".Value[0]')`;
}

/** The values of a tag as a JSON array text (SQLite) or array (PostgreSQL). */
function metaValues(ctx: ServeContext, tag: string): string {
  return ctx.dialect === 'postgres' ? `(meta->'${tag}'->'Value')` : `json_extract(meta, '$."${tag}".Value')`;
}

const distinctList = (ctx: ServeContext, column: string) =>
  ctx.dialect === 'postgres' ? `string_agg(DISTINCT ${column}, ',')` : `GROUP_CONCAT(DISTINCT ${column})`;

export function parseMeta(value: unknown): DicomJson {
  if (value === null || value === undefined) return {};
  return (typeof value === 'string' ? JSON.parse(value) : value) as DicomJson;
}

const n = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const opt = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));
const str = (v: unknown): string | null => (v === null || v === undefined ? null : String(v));
const list = (v: unknown): string[] => (v ? String(v).split(',').filter(Boolean).sort() : []);

/**
 * Header values of one instance per key (a patient, study or series): the first row of each, found through the key's
 * index. One query for a page of keys, not one per key.
 */
async function firstOfEach(ctx: ServeContext, column: string, keys: string[], exprs: Record<string, string>): Promise<Map<string, Row>> {
  const out = new Map<string, Row>();
  if (keys.length === 0) return out;
  const select = Object.entries(exprs).map(([alias, expr]) => `${expr} AS ${alias}`).join(', ');
  const marks = keys.map(() => '?').join(',');
  const sql =
    ctx.dialect === 'postgres'
      ? `SELECT DISTINCT ON (${column}) ${column} AS k, ${select} FROM dicom_metadata WHERE ${column} IN (${marks})`
      : `SELECT ${column} AS k, ${select} FROM dicom_metadata WHERE rowid IN (SELECT MIN(rowid) FROM dicom_metadata WHERE ${column} IN (${marks}) GROUP BY ${column})`;
  for (const r of await rows(ctx, sql, keys)) out.set(String(r.k), r);
  return out;
}

export interface Page<T> {
  items: T[];
  hasNext: boolean;
}

function paged<T>(items: T[]): Page<T> {
  return { items: items.slice(0, PAGE_SIZE), hasNext: items.length > PAGE_SIZE };
}

const offset = (page: number) => (page - 1) * PAGE_SIZE;

// ---- totals ---------------------------------------------------------------------------------------------------

export interface Totals {
  patients: number;
  studies: number;
  series: number;
  instances: number;
}

const totalsCache = new WeakMap<ServeContext, { key: string; totals: Totals }>();

/** The catalog's totals, counted again only after a run loaded (the runs table changed). */
export async function totals(ctx: ServeContext): Promise<Totals> {
  const [k] = await rows(ctx, 'SELECT COUNT(*) AS n, MAX(loaded_at) AS last FROM runs');
  const key = `${k?.n}:${k?.last}`;
  const hit = totalsCache.get(ctx);
  if (hit?.key === key) return hit.totals;
  const counted = await countTotals(ctx);
  totalsCache.set(ctx, { key, totals: counted });
  return counted;
}

async function countTotals(ctx: ServeContext): Promise<Totals> {
  const [r] = await rows(
    ctx,
    `SELECT (SELECT COUNT(*) FROM (SELECT DISTINCT patient_id FROM dicom_metadata) p) AS patients,
            (SELECT COUNT(DISTINCT study_instance_uid) FROM dicom_metadata) AS studies,
            (SELECT COUNT(DISTINCT series_instance_uid) FROM dicom_metadata) AS series,
            (SELECT COUNT(*) FROM dicom_metadata) AS instances`,
  );
  return { patients: n(r.patients), studies: n(r.studies), series: n(r.series), instances: n(r.instances) };
}

// ---- patients -------------------------------------------------------------------------------------------------

export interface PatientRow {
  patientId: string | null;
  name: string | null;
  studies: number;
  series: number;
  instances: number;
}

export async function patientsPage(ctx: ServeContext, page: number): Promise<Page<PatientRow>> {
  // The page's PatientIDs straight from the index, in order; NULL (no PatientID) sorts first on both dialects here.
  const keys = await rows<{ patient_id: string | null }>(
    ctx,
    `SELECT patient_id FROM dicom_metadata GROUP BY patient_id ORDER BY patient_id ${ctx.dialect === 'postgres' ? 'NULLS FIRST' : ''} LIMIT ? OFFSET ?`,
    [PAGE_SIZE + 1, offset(page)],
  );
  const { items, hasNext } = paged(keys.map((k) => k.patient_id));
  const ids = items.filter((id): id is string => id !== null);
  const counts = new Map<string, Row>();
  if (ids.length) {
    const r = await rows(
      ctx,
      `SELECT patient_id, COUNT(DISTINCT study_instance_uid) AS studies, COUNT(DISTINCT series_instance_uid) AS series, COUNT(*) AS instances
       FROM dicom_metadata WHERE patient_id IN (${ids.map(() => '?').join(',')}) GROUP BY patient_id`,
      ids,
    );
    for (const x of r) counts.set(String(x.patient_id), x);
  }
  const names = await firstOfEach(ctx, 'patient_id', ids, { name: metaText(ctx, '00100010', true) });
  const out: PatientRow[] = [];
  for (const id of items) {
    if (id === null) {
      out.push(await patientSummary(ctx, null));
      continue;
    }
    const c = counts.get(id);
    out.push({ patientId: id, name: str(names.get(id)?.name), studies: n(c?.studies), series: n(c?.series), instances: n(c?.instances) });
  }
  return { items: out, hasNext };
}

const patientWhere = (id: string | null) => (id === null ? 'patient_id IS NULL' : 'patient_id = ?');
const patientArgs = (id: string | null) => (id === null ? [] : [id]);

export async function patientSummary(ctx: ServeContext, id: string | null): Promise<PatientRow> {
  const [c] = await rows(
    ctx,
    `SELECT COUNT(DISTINCT study_instance_uid) AS studies, COUNT(DISTINCT series_instance_uid) AS series, COUNT(*) AS instances
     FROM dicom_metadata WHERE ${patientWhere(id)}`,
    patientArgs(id),
  );
  const [name] = await rows(ctx, `SELECT ${metaText(ctx, '00100010', true)} AS name FROM dicom_metadata WHERE ${patientWhere(id)} LIMIT 1`, patientArgs(id));
  return { patientId: id, name: str(name?.name), studies: n(c.studies), series: n(c.series), instances: n(c.instances) };
}

export async function patientExists(ctx: ServeContext, id: string | null): Promise<boolean> {
  return (await rows(ctx, `SELECT 1 AS x FROM dicom_metadata WHERE ${patientWhere(id)} LIMIT 1`, patientArgs(id))).length > 0;
}

// ---- studies --------------------------------------------------------------------------------------------------

export interface StudyRow {
  studyInstanceUid: string;
  patientId: string | null;
  date: string | null;
  description: string | null;
  modalities: string[];
  series: number;
  instances: number;
}

/** Counts and the description of the given studies, in the given order. */
async function studyRows(ctx: ServeContext, uids: string[]): Promise<StudyRow[]> {
  if (uids.length === 0) return [];
  const counts = await rows(
    ctx,
    `SELECT study_instance_uid AS uid, MIN(patient_id) AS patient_id, MIN(study_date) AS study_date,
            COUNT(DISTINCT series_instance_uid) AS series, COUNT(*) AS instances, ${distinctList(ctx, 'modality')} AS modalities
     FROM dicom_metadata WHERE study_instance_uid IN (${uids.map(() => '?').join(',')}) GROUP BY study_instance_uid`,
    uids,
  );
  const byUid = new Map(counts.map((c) => [String(c.uid), c]));
  const descriptions = await firstOfEach(ctx, 'study_instance_uid', uids, { description: metaText(ctx, '00081030') });
  const out: StudyRow[] = [];
  for (const uid of uids) {
    const c = byUid.get(uid);
    if (!c) continue;
    const d = descriptions.get(uid);
    out.push({
      studyInstanceUid: uid,
      patientId: str(c.patient_id),
      date: str(c.study_date),
      description: str(d?.description),
      modalities: list(c.modalities),
      series: n(c.series),
      instances: n(c.instances),
    });
  }
  return out;
}

export async function studiesOfPatient(ctx: ServeContext, id: string | null, page: number): Promise<Page<StudyRow>> {
  const keys = await rows<{ uid: string }>(
    ctx,
    `SELECT study_instance_uid AS uid FROM dicom_metadata WHERE ${patientWhere(id)} GROUP BY study_instance_uid
     ORDER BY MIN(study_date) DESC, study_instance_uid LIMIT ? OFFSET ?`,
    [...patientArgs(id), PAGE_SIZE + 1, offset(page)],
  );
  const { items, hasNext } = paged(keys.map((k) => k.uid));
  return { items: await studyRows(ctx, items), hasNext };
}

export async function study(ctx: ServeContext, uid: string): Promise<StudyRow | null> {
  return (await studyRows(ctx, [uid]))[0] ?? null;
}

export interface SearchQuery {
  patientId?: string;
  modality?: string;
  from?: string;
  to?: string;
  q?: string;
}

/** `*` and `?` (DICOM wildcards) as LIKE's `%` and `_`, the rest literal. */
function likePattern(text: string, wildcards: boolean): string {
  const escaped = text.replace(/[\\%_]/g, (c) => `\\${c}`);
  return wildcards ? escaped.replace(/\*/g, '%').replace(/\?/g, '_') : escaped;
}

/** The index the search walks (migration 003_serve_ui_indexes): every column it filters on, in study date order. */
export const SEARCH_INDEX = 'dicom_metadata_search_idx';

/**
 * Studies matching every given criterion: PatientID (exact, or with * and ? wildcards), a modality, a study date
 * range (inclusive, YYYY-MM-DD), and free text found in a PatientID, a study or series instance UID (case-insensitive)
 * or equal to a modality or a SOP Instance UID. Newest study first; one page.
 *
 * Every condition is on a column of SEARCH_INDEX, which SQLite is told to walk newest first: no table row is read,
 * and the walk stops after a page of studies (a search that matches little reads the whole index, never the table).
 */
export async function searchStudies(ctx: ServeContext, s: SearchQuery, page: number): Promise<Page<StudyRow>> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (s.patientId) {
    if (/[*?]/.test(s.patientId)) {
      where.push(`patient_id LIKE ? ESCAPE '\\'`);
      args.push(likePattern(s.patientId, true));
    } else {
      where.push('patient_id = ?');
      args.push(s.patientId);
    }
  }
  if (s.modality) {
    where.push('modality = ?');
    args.push(s.modality.toUpperCase());
  }
  if (s.from) {
    where.push('study_date >= ?');
    args.push(s.from);
  }
  if (s.to) {
    where.push('study_date <= ?');
    args.push(s.to);
  }
  if (s.q) {
    const like = `%${likePattern(s.q.toLowerCase(), false)}%`;
    const cols = ['patient_id', 'study_instance_uid', 'series_instance_uid'];
    const terms = [...cols.map((c) => `LOWER(${c}) LIKE ? ESCAPE '\\'`), 'modality = ?'];
    args.push(...cols.map(() => like), s.q.toUpperCase());
    // A SOP Instance UID: its study, by the primary key.
    const [sop] = await rows(ctx, 'SELECT study_instance_uid FROM dicom_metadata WHERE sop_instance_uid = ?', [s.q]);
    if (sop) (terms.push('study_instance_uid = ?'), args.push(sop.study_instance_uid));
    where.push(`(${terms.join(' OR ')})`);
  }
  // An exact PatientID: that patient's few rows through the patient index, sorted. Otherwise the search index.
  const exactPatient = !!s.patientId && !/[*?]/.test(s.patientId);
  const from = ctx.dialect === 'sqlite' && !exactPatient ? `dicom_metadata INDEXED BY ${SEARCH_INDEX}` : 'dicom_metadata';
  const keys = await rows<{ uid: string }>(
    ctx,
    `SELECT study_instance_uid AS uid, study_date FROM ${from} ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
     GROUP BY study_date, study_instance_uid ORDER BY study_date DESC ${ctx.dialect === 'postgres' ? 'NULLS LAST' : ''}, study_instance_uid DESC LIMIT ? OFFSET ?`,
    [...args, PAGE_SIZE + 1, offset(page)],
  );
  const { items, hasNext } = paged([...new Set(keys.map((k) => k.uid))]);
  return { items: await studyRows(ctx, items), hasNext };
}

// ---- series ---------------------------------------------------------------------------------------------------

export interface SeriesIssue {
  code: string;
  message: string;
}

export interface SeriesRow {
  seriesInstanceUid: string;
  studyInstanceUid: string;
  patientId: string | null;
  modality: string | null;
  number: string | null;
  date: string | null;
  description: string | null;
  slices: number;
  minThickness: number | null;
  maxThickness: number | null;
  issues: SeriesIssue[];
}

async function issuesOf(ctx: ServeContext, uids: string[]): Promise<Map<string, SeriesIssue[]>> {
  const out = new Map<string, SeriesIssue[]>();
  if (uids.length === 0) return out;
  const r = await rows(
    ctx,
    `SELECT DISTINCT series_instance_uid AS uid, code, message FROM series_issues WHERE series_instance_uid IN (${uids.map(() => '?').join(',')})
     ORDER BY series_instance_uid, code, message`,
    uids,
  );
  for (const x of r) {
    const uid = String(x.uid);
    if (!out.has(uid)) out.set(uid, []);
    out.get(uid)!.push({ code: String(x.code), message: String(x.message) });
  }
  return out;
}

async function seriesRows(ctx: ServeContext, where: string, args: unknown[], page: number | null): Promise<Page<SeriesRow>> {
  const r = await rows(
    ctx,
    `SELECT series_instance_uid AS uid, MIN(study_instance_uid) AS study, MIN(patient_id) AS patient_id, MIN(modality) AS modality,
            MIN(study_date) AS study_date, COUNT(*) AS slices, MIN(slice_thickness) AS min_t, MAX(slice_thickness) AS max_t
     FROM dicom_metadata WHERE ${where} GROUP BY series_instance_uid ORDER BY MIN(modality), series_instance_uid
     ${page === null ? '' : 'LIMIT ? OFFSET ?'}`,
    page === null ? args : [...args, PAGE_SIZE + 1, offset(page)],
  );
  const { items, hasNext } = paged(r);
  const issues = await issuesOf(ctx, items.map((x) => String(x.uid)));
  const heads = await firstOfEach(ctx, 'series_instance_uid', items.map((x) => String(x.uid)), {
    description: metaText(ctx, '0008103E'),
    number: metaText(ctx, '00200011'),
    series_date: metaText(ctx, '00080021'),
  });
  const out: SeriesRow[] = [];
  for (const x of items) {
    const uid = String(x.uid);
    const m = heads.get(uid);
    out.push({
      seriesInstanceUid: uid,
      studyInstanceUid: String(x.study),
      patientId: str(x.patient_id),
      modality: str(x.modality),
      number: str(m?.number),
      date: dicomDate(str(m?.series_date)) ?? str(x.study_date),
      description: str(m?.description),
      slices: n(x.slices),
      minThickness: opt(x.min_t),
      maxThickness: opt(x.max_t),
      issues: issues.get(uid) ?? [],
    });
  }
  return { items: out, hasNext };
}

/** YYYYMMDD → YYYY-MM-DD; anything else as it is. */
function dicomDate(d: string | null): string | null {
  return d && /^\d{8}$/.test(d) ? `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}` : d;
}

export const seriesOfStudy = (ctx: ServeContext, studyUid: string, page: number) => seriesRows(ctx, 'study_instance_uid = ?', [studyUid], page);

export async function series(ctx: ServeContext, uid: string): Promise<SeriesRow | null> {
  return (await seriesRows(ctx, 'series_instance_uid = ?', [uid], null)).items[0] ?? null;
}

// ---- instances ------------------------------------------------------------------------------------------------

export interface InstanceRow {
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  patientId: string | null;
  instanceNumber: number | null;
  rows: number | null;
  columns: number | null;
  sliceThickness: number | null;
  transferSyntaxUid: string | null;
  filePath: string;
  sourcePath: string;
  fileSize: number;
  runId: string;
  modality: string | null;
}

const INSTANCE_COLUMNS = `sop_instance_uid, series_instance_uid, study_instance_uid, patient_id, instance_number, rows, columns,
  slice_thickness, transfer_syntax_uid, file_path, source_path, file_size, run_id, modality`;

function instanceRow(x: Row): InstanceRow {
  return {
    sopInstanceUid: String(x.sop_instance_uid),
    seriesInstanceUid: String(x.series_instance_uid),
    studyInstanceUid: String(x.study_instance_uid),
    patientId: str(x.patient_id),
    instanceNumber: opt(x.instance_number),
    rows: opt(x.rows),
    columns: opt(x.columns),
    sliceThickness: opt(x.slice_thickness),
    transferSyntaxUid: str(x.transfer_syntax_uid),
    filePath: String(x.file_path),
    sourcePath: String(x.source_path),
    fileSize: n(x.file_size),
    runId: String(x.run_id),
    modality: str(x.modality),
  };
}

const BY_NUMBER = `ORDER BY CASE WHEN instance_number IS NULL THEN 1 ELSE 0 END, instance_number, sop_instance_uid`;

export async function instancesOfSeries(ctx: ServeContext, seriesUid: string, page: number): Promise<Page<InstanceRow>> {
  const r = await rows(ctx, `SELECT ${INSTANCE_COLUMNS} FROM dicom_metadata WHERE series_instance_uid = ? ${BY_NUMBER} LIMIT ? OFFSET ?`, [
    seriesUid,
    PAGE_SIZE + 1,
    offset(page),
  ]);
  return paged(r.map(instanceRow));
}

/** Up to `count` SOP Instance UIDs spread evenly over the series in InstanceNumber order (the thumbnails strip). */
export async function spreadOfSeries(ctx: ServeContext, seriesUid: string, total: number, count: number): Promise<string[]> {
  const picks = [...new Set(Array.from({ length: Math.min(count, total) }, (_, k) => Math.round((k * (total - 1)) / Math.max(1, Math.min(count, total) - 1))))];
  const out: string[] = [];
  for (const at of picks) {
    const [x] = await rows(ctx, `SELECT sop_instance_uid FROM dicom_metadata WHERE series_instance_uid = ? ${BY_NUMBER} LIMIT 1 OFFSET ?`, [seriesUid, at]);
    if (x) out.push(String(x.sop_instance_uid));
  }
  return out;
}

/** The slice a series' thumbnail shows: the middle one in InstanceNumber order (as the report's). */
export async function middleInstance(ctx: ServeContext, seriesUid: string): Promise<string | null> {
  const [c] = await rows(ctx, 'SELECT COUNT(*) AS n FROM dicom_metadata WHERE series_instance_uid = ?', [seriesUid]);
  const total = n(c?.n);
  if (total === 0) return null;
  const [x] = await rows(ctx, `SELECT sop_instance_uid FROM dicom_metadata WHERE series_instance_uid = ? ${BY_NUMBER} LIMIT 1 OFFSET ?`, [
    seriesUid,
    Math.floor((total - 1) / 2),
  ]);
  return x ? String(x.sop_instance_uid) : null;
}

export async function instance(ctx: ServeContext, sopUid: string): Promise<(InstanceRow & { meta: DicomJson }) | null> {
  const [x] = await rows(ctx, `SELECT ${INSTANCE_COLUMNS}, meta FROM dicom_metadata WHERE sop_instance_uid = ?`, [sopUid]);
  return x ? { ...instanceRow(x), meta: parseMeta(x.meta) } : null;
}

/** What the series page's geometry needs of every slice, without the rest of each header. */
export async function geometryOfSeries(ctx: ServeContext, seriesUid: string, limit: number): Promise<{ position: number[] | null; orientation: number[] | null; spacing: number[] | null }[]> {
  const r = await rows(
    ctx,
    `SELECT ${metaValues(ctx, '00200032')} AS ipp, ${metaValues(ctx, '00200037')} AS iop, ${metaValues(ctx, '00280030')} AS ps
     FROM dicom_metadata WHERE series_instance_uid = ? LIMIT ?`,
    [seriesUid, limit],
  );
  const numbers = (v: unknown): number[] | null => {
    const a = typeof v === 'string' ? (JSON.parse(v) as unknown) : v;
    if (!Array.isArray(a)) return null;
    const out = a.map(Number);
    return out.every(Number.isFinite) ? out : null;
  };
  return r.map((x) => ({ position: numbers(x.ipp), orientation: numbers(x.iop), spacing: numbers(x.ps) }));
}

// ---- runs and problems ----------------------------------------------------------------------------------------

export interface RunRow {
  runId: string;
  source: string | null;
  loadedAt: string;
  instances: number;
  validationRows: number;
  seriesIssues: number;
  /** Entries by status (valid, invalid, duplicate, ...). */
  statuses: Record<string, number>;
}

async function statusesOf(ctx: ServeContext, runIds: string[]): Promise<Map<string, Record<string, number>>> {
  const out = new Map<string, Record<string, number>>();
  if (runIds.length === 0) return out;
  const r = await rows(
    ctx,
    `SELECT run_id, status, COUNT(*) AS n FROM validation_results WHERE run_id IN (${runIds.map(() => '?').join(',')}) GROUP BY run_id, status`,
    runIds,
  );
  for (const x of r) {
    const id = String(x.run_id);
    if (!out.has(id)) out.set(id, {});
    out.get(id)![String(x.status)] = n(x.n);
  }
  return out;
}

function runRow(x: Row, statuses: Map<string, Record<string, number>>): RunRow {
  return {
    runId: String(x.run_id),
    source: str(x.source),
    loadedAt: String(x.loaded_at),
    instances: n(x.instances),
    validationRows: n(x.validation_rows),
    seriesIssues: n(x.series_issues),
    statuses: statuses.get(String(x.run_id)) ?? {},
  };
}

export async function runsPage(ctx: ServeContext, page: number, size = PAGE_SIZE): Promise<Page<RunRow>> {
  const r = await rows(ctx, 'SELECT * FROM runs ORDER BY loaded_at DESC, run_id LIMIT ? OFFSET ?', [size + 1, (page - 1) * size]);
  const items = r.slice(0, size);
  const statuses = await statusesOf(ctx, items.map((x) => String(x.run_id)));
  return { items: items.map((x) => runRow(x, statuses)), hasNext: r.length > size };
}

export async function run(ctx: ServeContext, runId: string): Promise<RunRow | null> {
  const [x] = await rows(ctx, 'SELECT * FROM runs WHERE run_id = ?', [runId]);
  return x ? runRow(x, await statusesOf(ctx, [runId])) : null;
}

export interface CodeCount {
  runId: string;
  status: string;
  code: string;
  count: number;
}

/** Problems (every status but valid) counted by run and code; one run when given. */
export async function problemCodes(ctx: ServeContext, runId?: string): Promise<CodeCount[]> {
  const r = await rows(
    ctx,
    `SELECT run_id, status, code, COUNT(*) AS n FROM validation_results WHERE status <> 'valid' ${runId ? 'AND run_id = ?' : ''}
     GROUP BY run_id, status, code ORDER BY run_id, status, code`,
    runId ? [runId] : [],
  );
  return r.map((x) => ({ runId: String(x.run_id), status: String(x.status), code: String(x.code), count: n(x.n) }));
}

export interface Problem {
  runId: string;
  path: string;
  status: string;
  code: string;
  message: string;
}

export async function problems(ctx: ServeContext, filter: { runId?: string; code?: string }, page: number): Promise<Page<Problem>> {
  const where = [`status <> 'valid'`];
  const args: unknown[] = [];
  if (filter.runId) (where.push('run_id = ?'), args.push(filter.runId));
  if (filter.code) (where.push('code = ?'), args.push(filter.code));
  const r = await rows(
    ctx,
    `SELECT run_id, path, status, code, message FROM validation_results WHERE ${where.join(' AND ')}
     ORDER BY run_id, entry_index, path LIMIT ? OFFSET ?`,
    [...args, PAGE_SIZE + 1, offset(page)],
  );
  return paged(r.map((x) => ({ runId: String(x.run_id), path: String(x.path), status: String(x.status), code: String(x.code), message: String(x.message) })));
}

export interface RunSeriesIssue extends SeriesIssue {
  seriesInstanceUid: string;
}

export async function seriesIssuesOfRun(ctx: ServeContext, runId: string, page: number): Promise<Page<RunSeriesIssue>> {
  const r = await rows(
    ctx,
    'SELECT series_instance_uid, code, message FROM series_issues WHERE run_id = ? ORDER BY series_instance_uid, code, message LIMIT ? OFFSET ?',
    [runId, PAGE_SIZE + 1, offset(page)],
  );
  return paged(r.map((x) => ({ seriesInstanceUid: String(x.series_instance_uid), code: String(x.code), message: String(x.message) })));
}
