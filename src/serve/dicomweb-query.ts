/**
 * QIDO-RS (DICOM PS3.18 §10.6) over the catalog: the query parameters of a search turned into indexed SQL, and the
 * matches into DICOM JSON. Keys the catalog has as columns (PatientID, StudyInstanceUID, SeriesInstanceUID,
 * SOPInstanceUID, Modality, ModalitiesInStudy, StudyDate, InstanceNumber) are matched on their columns; any other
 * attribute on the header (`meta`) of one instance of the study or series (of the instance itself at instance
 * level), never on the headers of all instances. Studies and series are grouped over the covering index
 * dicom_metadata_study_cover_idx (migration 002), and every answer is paged (limit, offset; at most MAX_LIMIT).
 *
 * Matching (PS3.4 C.2.2.2): single value; `*` and `?` wildcards (PN case-insensitive, other VRs case-sensitive);
 * UID lists (comma- or backslash-separated, or the key repeated); date ranges `A-B`, `A-`, `-B`; an empty value
 * matches everything and only asks for the attribute. `fuzzymatching` is accepted and ignored; an unknown key is
 * ignored and named in a Warning header.
 */
import type { Knex } from 'knex';
import { tagOfKeyword, vrOf } from '../dicom/dictionary';
import type { DicomJson, DicomJsonElement } from '../dicom/types';

export type Level = 'study' | 'series' | 'instance';

/** The most results one answer holds; a client pages with offset for more (a Warning header says when there are). */
export const MAX_LIMIT = 1000;
/** The most UIDs one list key may hold. */
const MAX_UIDS = 1000;

/** A query the server cannot run: answered 400 with the message. */
export class BadQuery extends Error {}

// Tags as DICOM JSON keys.
const T = {
  StudyDate: '00080020',
  StudyTime: '00080030',
  AccessionNumber: '00080050',
  InstanceAvailability: '00080056',
  ModalitiesInStudy: '00080061',
  Modality: '00080060',
  SOPClassUID: '00080016',
  SOPInstanceUID: '00080018',
  ReferringPhysicianName: '00080090',
  RetrieveURL: '00081190',
  StudyDescription: '00081030',
  SeriesDescription: '0008103E',
  PatientName: '00100010',
  PatientID: '00100020',
  PatientBirthDate: '00100030',
  PatientSex: '00100040',
  StudyInstanceUID: '0020000D',
  SeriesInstanceUID: '0020000E',
  StudyID: '00200010',
  SeriesNumber: '00200011',
  InstanceNumber: '00200013',
  NumberOfStudyRelatedSeries: '00201206',
  NumberOfStudyRelatedInstances: '00201208',
  NumberOfSeriesRelatedInstances: '00201209',
  SeriesDate: '00080021',
  SeriesTime: '00080031',
  NumberOfFrames: '00280008',
  Rows: '00280010',
  Columns: '00280011',
  BitsAllocated: '00280100',
} as const;

/** What each level returns by default (PS3.18 Table 6.7.1-2, -2a, -2b), plus what OHIF's lists show. */
const DEFAULT_TAGS: Record<Level, string[]> = {
  study: [
    T.StudyDate, T.StudyTime, T.AccessionNumber, T.InstanceAvailability, T.ModalitiesInStudy, T.ReferringPhysicianName,
    T.RetrieveURL, T.StudyDescription, T.PatientName, T.PatientID, T.PatientBirthDate, T.PatientSex, T.StudyInstanceUID,
    T.StudyID, T.NumberOfStudyRelatedSeries, T.NumberOfStudyRelatedInstances,
  ],
  series: [
    T.Modality, T.SeriesDescription, T.SeriesNumber, T.SeriesInstanceUID, T.NumberOfSeriesRelatedInstances, T.RetrieveURL,
    T.SeriesDate, T.SeriesTime, T.StudyInstanceUID, T.InstanceAvailability,
  ],
  instance: [
    T.SOPClassUID, T.SOPInstanceUID, T.InstanceAvailability, T.RetrieveURL, T.InstanceNumber, T.Rows, T.Columns,
    T.BitsAllocated, T.NumberOfFrames, T.StudyInstanceUID, T.SeriesInstanceUID, T.Modality,
  ],
};

/** Attributes a level's `includefield=all` adds from the header (beside the whole patient module, group 0010). */
const ALL_TAGS: Record<Level, string[]> = {
  study: ['00080020', '00080030', '00080050', '00080090', '00081030', '00081032', '00081060', '00200010', '00101010', '00101020', '00101030'],
  series: ['00080021', '00080031', '00080060', '0008103E', '00081070', '00080070', '00081090', '00180015', '00185100', '00200011', '00200060', '00400244', '00400245'],
  instance: [], // the whole header
};

/** Where a key is matched: its catalog column, or the header. */
const COLUMN_KEYS: Record<string, { column: string; kind: 'uid' | 'text' | 'date' | 'int' | 'modality' }> = {
  [T.PatientID]: { column: 'patient_id', kind: 'text' },
  [T.StudyInstanceUID]: { column: 'study_instance_uid', kind: 'uid' },
  [T.SeriesInstanceUID]: { column: 'series_instance_uid', kind: 'uid' },
  [T.SOPInstanceUID]: { column: 'sop_instance_uid', kind: 'uid' },
  [T.Modality]: { column: 'modality', kind: 'modality' },
  [T.ModalitiesInStudy]: { column: 'modality', kind: 'modality' },
  [T.StudyDate]: { column: 'study_date', kind: 'date' },
  [T.InstanceNumber]: { column: 'instance_number', kind: 'int' },
};

/** Keys constant within a study (matched at study membership), within a series, or per instance. */
const STUDY_LEVEL_COLUMNS = new Set([T.PatientID, T.StudyInstanceUID, T.StudyDate, T.ModalitiesInStudy]);
const SERIES_LEVEL_COLUMNS = new Set([T.SeriesInstanceUID, T.Modality]);

/** Query parameters that are not matching keys. */
const CONTROL = new Set(['limit', 'offset', 'includefield', 'fuzzymatching', 'token']);

export interface Query {
  level: Level;
  /** Matching keys by tag: the value as given (joined values of a repeated UID key). */
  match: Map<string, string>;
  include: Set<string>;
  includeAll: boolean;
  limit: number;
  offset: number;
  /** Parameters not understood (named in a Warning header). */
  ignored: string[];
}

/** A keyword or a tag (`00100010`, `0010,0010`) → the JSON key, or undefined. */
export function tagOf(name: string): string | undefined {
  const hex = name.replace(/,/g, '');
  if (/^[0-9A-Fa-f]{8}$/.test(hex)) return hex.toUpperCase();
  return tagOfKeyword(name);
}

function count(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new BadQuery(`${name} must be a whole number, got "${value}"`);
  return Number(value);
}

export function parseQuery(params: URLSearchParams, level: Level): Query {
  const q: Query = { level, match: new Map(), include: new Set(), includeAll: false, limit: MAX_LIMIT, offset: 0, ignored: [] };
  for (const [name, value] of params) {
    if (CONTROL.has(name)) {
      if (name === 'limit') q.limit = Math.min(count(value, 'limit'), MAX_LIMIT);
      else if (name === 'offset') q.offset = count(value, 'offset');
      else if (name === 'includefield') {
        for (const field of value.split(',').map((f) => f.trim()).filter(Boolean)) {
          if (field === 'all') q.includeAll = true;
          else {
            const tag = tagOf(field);
            if (tag) q.include.add(tag);
            else q.ignored.push(`includefield=${field}`);
          }
        }
      }
      continue;
    }
    const tag = tagOf(name);
    if (!tag) {
      q.ignored.push(name);
      continue;
    }
    const before = q.match.get(tag);
    // A repeated UID key is a list; any other repeated key: the last one.
    q.match.set(tag, before !== undefined && COLUMN_KEYS[tag]?.kind === 'uid' ? `${before},${value}` : value);
  }
  return q;
}

// ---------------------------------------------------------------------------------------------------------------------
// SQL

type Dialect = 'sqlite' | 'postgres';

export interface Sql {
  text: string;
  bindings: unknown[];
}

const and = (parts: Sql[]): Sql => ({
  text: parts.length ? parts.map((p) => `(${p.text})`).join(' AND ') : '1=1',
  bindings: parts.flatMap((p) => p.bindings),
});

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

function splitList(value: string): string[] {
  return value
    .split(/[,\\]/)
    .map((v) => v.trim())
    .filter(Boolean);
}

/** DICOM DA (YYYYMMDD, or YYYY.MM.DD) → the catalog's YYYY-MM-DD. */
function isoDate(da: string, key: string): string {
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(da.trim());
  if (!m) throw new BadQuery(`${key}: "${da}" is not a date (YYYYMMDD, or a range YYYYMMDD-YYYYMMDD)`);
  return `${m[1]}-${m[2]}-${m[3]}`;
}

function hasWildcard(v: string): boolean {
  return /[*?]/.test(v);
}

/** A `*`/`?` pattern as LIKE (with \ as escape) or GLOB. */
function likePattern(v: string): string {
  return v.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_');
}
function globPattern(v: string): string {
  return v.replace(/\[/g, '[[]');
}

/** `expr` (text) against a single value with wildcards; case-insensitive for PN. */
function textMatch(dialect: Dialect, expr: string, value: string, caseInsensitive: boolean): Sql {
  if (!hasWildcard(value)) {
    return caseInsensitive ? { text: `LOWER(${expr}) = LOWER(?)`, bindings: [value] } : { text: `${expr} = ?`, bindings: [value] };
  }
  if (dialect === 'postgres') return { text: `${expr} ${caseInsensitive ? 'ILIKE' : 'LIKE'} ? ESCAPE '\\'`, bindings: [likePattern(value)] };
  // SQLite: LIKE is case-insensitive (ASCII), GLOB case-sensitive.
  return caseInsensitive ? { text: `${expr} LIKE ? ESCAPE '\\'`, bindings: [likePattern(value)] } : { text: `${expr} GLOB ?`, bindings: [globPattern(value)] };
}

/** A column key's condition on dicom_metadata (unqualified column names). */
function columnCondition(dialect: Dialect, tag: string, value: string): Sql {
  const { column, kind } = COLUMN_KEYS[tag];
  const key = tag;
  switch (kind) {
    case 'uid': {
      const uids = splitList(value);
      if (uids.length > MAX_UIDS) throw new BadQuery(`${key}: at most ${MAX_UIDS} UIDs in one query`);
      return { text: `${column} IN (${placeholders(uids.length)})`, bindings: uids };
    }
    case 'modality': {
      const values = splitList(value);
      if (values.length === 1) return textMatch(dialect, column, values[0], false);
      return { text: `${column} IN (${placeholders(values.length)})`, bindings: values };
    }
    case 'date': {
      const range = /^([^-]*)-([^-]*)$/.exec(value.trim());
      if (!range) {
        const d = isoDate(value, key);
        return { text: `${column} = ?`, bindings: [d] };
      }
      const [lo, hi] = [range[1].trim(), range[2].trim()];
      if (!lo && !hi) throw new BadQuery(`${key}: "${value}" is not a date range`);
      const parts: Sql[] = [];
      if (lo) parts.push({ text: `${column} >= ?`, bindings: [isoDate(lo, key)] });
      if (hi) parts.push({ text: `${column} <= ?`, bindings: [isoDate(hi, key)] });
      return and(parts);
    }
    case 'int': {
      if (!/^-?\d{1,9}$/.test(value.trim())) throw new BadQuery(`${key}: "${value}" is not a whole number`);
      return { text: `${column} = ?`, bindings: [Number(value)] };
    }
    default:
      return textMatch(dialect, column, value, false);
  }
}

/** The first value of `tag` in the JSON column `meta` as text (a person name: its alphabetic form). */
function metaText(dialect: Dialect, meta: string, tag: string): string {
  const pn = vrOf(parseInt(tag, 16) >>> 0) === 'PN';
  if (dialect === 'postgres') return pn ? `(${meta}->'${tag}'->'Value'->0->>'Alphabetic')` : `(${meta}->'${tag}'->'Value'->>0)`;
  return pn ? `json_extract(${meta}, '$."${tag}".Value[0].Alphabetic')` : `CAST(json_extract(${meta}, '$."${tag}".Value[0]') AS TEXT)`;
}

/** A header key's condition on the JSON column `meta`. */
function metaCondition(dialect: Dialect, meta: string, tag: string, value: string): Sql {
  if (!/^[0-9A-F]{8}$/.test(tag)) throw new BadQuery(`not a tag: ${tag}`); // (tagOf gives only these)
  const vr = vrOf(parseInt(tag, 16) >>> 0);
  const expr = metaText(dialect, meta, tag);
  if (vr === 'UI') {
    const uids = splitList(value);
    return { text: `${expr} IN (${placeholders(uids.length)})`, bindings: uids };
  }
  if (vr === 'DA' && value.includes('-')) {
    const range = /^([^-]*)-([^-]*)$/.exec(value.trim());
    if (!range) throw new BadQuery(`${tag}: "${value}" is not a date range`);
    const parts: Sql[] = [];
    // DA values compare as text: YYYYMMDD.
    if (range[1]) parts.push({ text: `${expr} >= ?`, bindings: [isoDate(range[1], tag).replace(/-/g, '')] });
    if (range[2]) parts.push({ text: `${expr} <= ?`, bindings: [isoDate(range[2], tag).replace(/-/g, '')] });
    return and(parts);
  }
  return textMatch(dialect, expr, value, vr === 'PN');
}

export interface StudyRow {
  study: string;
  n_series: number;
  n_instances: number;
  modalities: string | null;
  rep_sop: string;
}
export interface SeriesRow {
  series: string;
  study: string;
  n_instances: number;
  rep_sop: string;
}
export interface InstanceRow {
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  meta: unknown;
}

/** Where the search is scoped by the URL: /studies/{study}/series, /studies/{study}/series/{series}/instances. */
export interface Scope {
  study?: string;
  series?: string;
}

export interface SearchResult {
  rows: DicomJson[];
  /** More matches exist past this page. */
  more: boolean;
}

/** Runs a QIDO search. `base` is the DICOMweb root URL for RetrieveURL (e.g. http://host:port/dicomweb). */
export async function search(db: Knex, dialect: Dialect, q: Query, scope: Scope, base: string): Promise<SearchResult> {
  if (q.level === 'study') return searchStudies(db, dialect, q, base);
  if (q.level === 'series') return searchSeries(db, dialect, q, scope, base);
  return searchInstances(db, dialect, q, activeKeys(q), scope, base);
}

/** Study-level column keys as a membership test: the study has an instance meeting them all. */
function studyMembership(dialect: Dialect, keys: [string, string][]): Sql | null {
  const conds = keys.map(([tag, v]) => columnCondition(dialect, tag, v));
  if (conds.length === 0) return null;
  const inner = and(conds);
  return { text: `study_instance_uid IN (SELECT study_instance_uid FROM dicom_metadata WHERE ${inner.text})`, bindings: inner.bindings };
}

/** The SQL of a study search (one row per study of the page, plus one to tell whether more follow). */
export function studySearchSql(dialect: Dialect, q: Query): Sql {
  const active = activeKeys(q);
  const uidKey = active.filter(([t]) => t === T.StudyInstanceUID);
  // Modality at study level means ModalitiesInStudy.
  const member = active.filter(([t]) => t !== T.StudyInstanceUID && COLUMN_KEYS[t] && (STUDY_LEVEL_COLUMNS.has(t as never) || t === T.Modality));
  const onMeta = active.filter(([t]) => !COLUMN_KEYS[t]);
  const where: Sql[] = uidKey.map(([t, v]) => columnCondition(dialect, t, v));
  const membership = studyMembership(dialect, member);
  if (membership) where.push(membership);
  const w = and(where);
  const mods = dialect === 'postgres' ? `string_agg(DISTINCT modality, ',')` : `group_concat(DISTINCT modality)`;
  const metaWhere = and(onMeta.map(([t, v]) => metaCondition(dialect, 'm.meta', t, v)));
  const text = `
    WITH st AS (
      SELECT study_instance_uid AS study, COUNT(DISTINCT series_instance_uid) AS n_series, COUNT(*) AS n_instances, ${mods} AS modalities
      FROM dicom_metadata WHERE ${w.text} GROUP BY study_instance_uid
    ), rep AS (
      SELECT st.*, (SELECT d.sop_instance_uid FROM dicom_metadata d WHERE d.study_instance_uid = st.study LIMIT 1) AS rep_sop FROM st
    )
    SELECT rep.study, rep.n_series, rep.n_instances, rep.modalities, rep.rep_sop FROM rep
    ${onMeta.length ? 'JOIN dicom_metadata m ON m.sop_instance_uid = rep.rep_sop' : ''}
    WHERE ${metaWhere.text}
    ORDER BY rep.study LIMIT ? OFFSET ?`;
  return { text, bindings: [...w.bindings, ...metaWhere.bindings, q.limit + 1, q.offset] };
}

const activeKeys = (q: Query): [string, string][] => [...q.match].filter(([, v]) => v.trim() !== '');

async function searchStudies(db: Knex, dialect: Dialect, q: Query, base: string): Promise<SearchResult> {
  const sql = studySearchSql(dialect, q);
  const rows = (await raw(db, dialect, sql.text, sql.bindings)) as StudyRow[];
  return pageOf(db, q, rows, (r) => ({
    [T.StudyInstanceUID]: { vr: 'UI', Value: [r.study] },
    [T.ModalitiesInStudy]: valueOrEmpty('CS', (r.modalities ?? '').split(',').filter(Boolean).sort()),
    [T.NumberOfStudyRelatedSeries]: { vr: 'IS', Value: [Number(r.n_series)] },
    [T.NumberOfStudyRelatedInstances]: { vr: 'IS', Value: [Number(r.n_instances)] },
    [T.RetrieveURL]: { vr: 'UR', Value: [`${base}/studies/${encodeURIComponent(r.study)}`] },
    [T.InstanceAvailability]: { vr: 'CS', Value: ['ONLINE'] },
  }));
}

/**
 * One page of a study or series search (`rows` holds one past the limit when there is more): each row answered with
 * its representative instance's header, the computed attributes over it.
 */
async function pageOf<R extends { rep_sop: string }>(db: Knex, q: Query, rows: R[], computed: (r: R) => DicomJson): Promise<SearchResult> {
  const page = rows.slice(0, q.limit);
  const metas = await metasOf(db, page.map((r) => r.rep_sop));
  return { more: rows.length > q.limit, rows: page.map((r) => result(q, metas.get(r.rep_sop) ?? {}, computed(r))) };
}

/** The SQL of a series search (one row per series of the page, plus one). */
export function seriesSearchSql(dialect: Dialect, q: Query, scope: Scope): Sql {
  const active = activeKeys(q);
  const where: Sql[] = [];
  if (scope.study !== undefined) where.push({ text: 'study_instance_uid = ?', bindings: [scope.study] });
  // Series-level columns (SeriesInstanceUID, Modality) on the rows; study-level ones as study membership.
  for (const [t, v] of active) if (SERIES_LEVEL_COLUMNS.has(t as never)) where.push(columnCondition(dialect, t, v));
  const membership = studyMembership(dialect, active.filter(([t]) => STUDY_LEVEL_COLUMNS.has(t as never)));
  if (membership) where.push(membership);
  const onMeta = active.filter(([t]) => !COLUMN_KEYS[t]);
  const w = and(where);
  const metaWhere = and(onMeta.map(([t, v]) => metaCondition(dialect, 'm.meta', t, v)));
  // Grouped in the covering index's order (study, series): no sort, no row read.
  const text = `
    WITH se AS (
      SELECT study_instance_uid AS study, series_instance_uid AS series, COUNT(*) AS n_instances
      FROM dicom_metadata WHERE ${w.text} GROUP BY study_instance_uid, series_instance_uid
    ), rep AS (
      SELECT se.*, (SELECT d.sop_instance_uid FROM dicom_metadata d WHERE d.study_instance_uid = se.study AND d.series_instance_uid = se.series LIMIT 1) AS rep_sop FROM se
    )
    SELECT rep.series, rep.study, rep.n_instances, rep.rep_sop FROM rep
    ${onMeta.length ? 'JOIN dicom_metadata m ON m.sop_instance_uid = rep.rep_sop' : ''}
    WHERE ${metaWhere.text}
    ORDER BY rep.study, rep.series LIMIT ? OFFSET ?`;
  return { text, bindings: [...w.bindings, ...metaWhere.bindings, q.limit + 1, q.offset] };
}

async function searchSeries(db: Knex, dialect: Dialect, q: Query, scope: Scope, base: string): Promise<SearchResult> {
  const sql = seriesSearchSql(dialect, q, scope);
  const rows = (await raw(db, dialect, sql.text, sql.bindings)) as SeriesRow[];
  return pageOf(db, q, rows, (r) => ({
    [T.StudyInstanceUID]: { vr: 'UI', Value: [r.study] },
    [T.SeriesInstanceUID]: { vr: 'UI', Value: [r.series] },
    [T.NumberOfSeriesRelatedInstances]: { vr: 'IS', Value: [Number(r.n_instances)] },
    [T.RetrieveURL]: { vr: 'UR', Value: [`${base}/studies/${encodeURIComponent(r.study)}/series/${encodeURIComponent(r.series)}`] },
    [T.InstanceAvailability]: { vr: 'CS', Value: ['ONLINE'] },
  }));
}

async function searchInstances(db: Knex, dialect: Dialect, q: Query, active: [string, string][], scope: Scope, base: string): Promise<SearchResult> {
  const where: Sql[] = [];
  if (scope.study !== undefined) where.push({ text: 'study_instance_uid = ?', bindings: [scope.study] });
  if (scope.series !== undefined) where.push({ text: 'series_instance_uid = ?', bindings: [scope.series] });
  for (const [t, v] of active) {
    if (t === T.ModalitiesInStudy) continue; // (a study key; its column is Modality)
    if (COLUMN_KEYS[t]) where.push(columnCondition(dialect, t, v));
    else where.push(metaCondition(dialect, 'meta', t, v));
  }
  const inStudy = active.find(([t]) => t === T.ModalitiesInStudy);
  if (inStudy) where.push(studyMembership(dialect, [inStudy])!);
  const w = and(where);
  // Within a series in slice order; across the catalog by the primary key (no sort of 250,000 rows).
  const order = scope.series !== undefined ? 'instance_number, sop_instance_uid' : 'sop_instance_uid';
  const sql = `SELECT sop_instance_uid, study_instance_uid, series_instance_uid, meta FROM dicom_metadata WHERE ${w.text} ORDER BY ${order} LIMIT ? OFFSET ?`;
  const rows = (await raw(db, dialect, sql, [...w.bindings, q.limit + 1, q.offset])) as InstanceRow[];
  const more = rows.length > q.limit;
  return {
    more,
    rows: rows.slice(0, q.limit).map((r) => {
      const meta = parseMeta(r.meta);
      const url = `${base}/studies/${encodeURIComponent(r.study_instance_uid)}/series/${encodeURIComponent(r.series_instance_uid)}/instances/${encodeURIComponent(r.sop_instance_uid)}`;
      const computed: DicomJson = {
        [T.StudyInstanceUID]: { vr: 'UI', Value: [r.study_instance_uid] },
        [T.SeriesInstanceUID]: { vr: 'UI', Value: [r.series_instance_uid] },
        [T.SOPInstanceUID]: { vr: 'UI', Value: [r.sop_instance_uid] },
        [T.RetrieveURL]: { vr: 'UR', Value: [url] },
        [T.InstanceAvailability]: { vr: 'CS', Value: ['ONLINE'] },
      };
      return result(q, meta, computed, url);
    }),
  };
}

async function raw(db: Knex, dialect: Dialect, sql: string, bindings: unknown[]): Promise<unknown[]> {
  const out = await db.raw(sql, bindings as Knex.RawBinding[]);
  return dialect === 'postgres' ? (out as { rows: unknown[] }).rows : (out as unknown[]);
}

/** The headers of these instances, by SOP Instance UID. */
async function metasOf(db: Knex, sops: string[]): Promise<Map<string, DicomJson>> {
  const out = new Map<string, DicomJson>();
  for (let k = 0; k < sops.length; k += 500) {
    const rows = (await db('dicom_metadata').whereIn('sop_instance_uid', sops.slice(k, k + 500)).select('sop_instance_uid', 'meta')) as { sop_instance_uid: string; meta: unknown }[];
    for (const r of rows) out.set(r.sop_instance_uid, parseMeta(r.meta));
  }
  return out;
}

/** The catalog's `meta` (text on SQLite, jsonb on PostgreSQL) as DICOM JSON. */
export function parseMeta(meta: unknown): DicomJson {
  if (meta === null || meta === undefined) return {};
  return (typeof meta === 'string' ? JSON.parse(meta) : meta) as DicomJson;
}

function valueOrEmpty(vr: string, values: unknown[]): DicomJsonElement {
  return values.length ? { vr, Value: values } : { vr };
}

/** One result: the level's attributes, the matching keys and the included fields, from `computed` or the header. */
function result(q: Query, meta: DicomJson, computed: DicomJson, instanceUrl?: string): DicomJson {
  const tags = new Set<string>([...DEFAULT_TAGS[q.level], ...q.match.keys(), ...q.include]);
  if (q.includeAll) {
    if (q.level === 'instance') for (const t of Object.keys(meta)) tags.add(t);
    else {
      for (const t of ALL_TAGS[q.level]) tags.add(t);
      for (const t of Object.keys(meta)) if (t.startsWith('0010')) tags.add(t);
    }
  }
  const out: DicomJson = {};
  for (const tag of [...tags].sort()) {
    if (tag.startsWith('0002') && q.level !== 'instance') continue;
    const el = computed[tag] ?? meta[tag];
    if (el) {
      if (el.BulkDataURI !== undefined || el.InlineBinary !== undefined) {
        if (instanceUrl && el.BulkDataURI !== undefined) out[tag] = { vr: el.vr, BulkDataURI: bulkUrl(instanceUrl, el.BulkDataURI, tag) };
        continue; // binary values are not search results
      }
      out[tag] = instanceUrl ? rewriteBulk(el, instanceUrl) : el;
    } else if (DEFAULT_TAGS[q.level].includes(tag) || q.match.has(tag)) {
      out[tag] = { vr: vrOf(parseInt(tag, 16) >>> 0) };
    }
  }
  return out;
}

/**
 * The URL a client fetches a bulk value at, from the catalog's `bulk:<tag>?offset=N&length=M`: the instance's URL
 * + /bulk/<tag>/<offset>. The server looks that offset up in the instance's header (never trusts a length or a path
 * from the URL).
 */
export function bulkUrl(instanceUrl: string, uri: string, tag: string): string {
  const m = /^bulk:([0-9A-Fa-f]{8})\?offset=(\d+)/.exec(uri);
  if (!m) return uri;
  return `${instanceUrl}/bulk/${m[1].toUpperCase() || tag}/${m[2]}`;
}

/** An element with every BulkDataURI inside (sequence items included) made a URL of this server. */
export function rewriteBulk(el: DicomJsonElement, instanceUrl: string, tag = ''): DicomJsonElement {
  if (el.BulkDataURI !== undefined) return { ...el, BulkDataURI: bulkUrl(instanceUrl, el.BulkDataURI, tag) };
  if (el.vr === 'SQ' && Array.isArray(el.Value)) {
    return { ...el, Value: el.Value.map((item) => rewriteHeader(item as DicomJson, instanceUrl)) };
  }
  return el;
}

export function rewriteHeader(meta: DicomJson, instanceUrl: string): DicomJson {
  const out: DicomJson = {};
  for (const [tag, el] of Object.entries(meta)) out[tag] = rewriteBulk(el, instanceUrl, tag);
  return out;
}
