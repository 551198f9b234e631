/**
 * Loading the stage outputs under DIR/work into the catalog. Knows no Temporal: the load-database
 * activity wraps it, heartbeating the cursor this reports and passing it back on a retry.
 *
 * Idempotent by construction: every insert is an upsert on the table's key, so rows re-sent after a
 * resume (the cursor may lag the last commit) or a whole re-run never duplicate. For validation_results
 * and series_issues the files are the whole truth for the run: a load that starts a file from the top
 * first clears that run's rows, so findings that disappeared do not linger.
 */
import type { Knex } from 'knex';
import { dicomJsonText, type InstanceRecord, type OutcomeRecord, type SeriesIssueRecord } from '../records';
import { readJsonLines } from '../io/jsonl';
import { workspace } from '../workspace';
import { isPostgres } from './catalog';

/** Records already committed, per input file (records, not lines: blank lines are not counted). */
export interface LoadCursor {
  instances: number;
  outcomes: number;
  seriesIssues: number;
}

export interface LoadCounts {
  instances: number;
  validationRows: number;
  seriesIssues: number;
}

export interface LoadOptions {
  outDir: string;
  runId: string;
  /** What the run ingested (zip, folder or URL), recorded in the runs table. */
  source?: string;
  /** Resume point from an earlier attempt. */
  cursor?: Partial<LoadCursor>;
  /** Called after each committed batch with the records done so far. */
  onProgress?: (cursor: LoadCursor) => void | Promise<void>;
  /** Rows per statement (capped by the dialect's limits). */
  batchSize?: number;
}

type Row = Record<string, unknown>;

const DEFAULT_BATCH_ROWS = 500;
// SQLite builds a multi-row insert as SELECT ... UNION ALL SELECT ..., and a compound select
// may have at most 500 terms (SQLITE_MAX_COMPOUND_SELECT).
const SQLITE_MAX_ROWS = 500;
// Bind parameters per statement: PostgreSQL's protocol allows 65535; SQLite >= 3.32 allows 32766.
const MAX_PARAMS = { sqlite: 32766, postgres: 65535 };
// Keep one statement's payload modest even when headers are large (meta JSON dominates).
const MAX_BATCH_BYTES = 8 * 1024 * 1024;

/** Rows that fit one multi-row insert of `columns` columns on this dialect. */
export function rowsPerStatement(columns: number, dialect: 'sqlite' | 'postgres', wanted = DEFAULT_BATCH_ROWS): number {
  const byParams = Math.floor(MAX_PARAMS[dialect] / columns);
  const cap = dialect === 'sqlite' ? Math.min(SQLITE_MAX_ROWS, byParams) : byParams;
  return Math.max(1, Math.min(wanted, cap));
}

// PostgreSQL text and jsonb cannot hold U+0000; DICOM padding sometimes leaves one in a value.
function text(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return value.includes('\u0000') ? value.replace(/\u0000/g, '') : value;
}

function real(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function int32(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) <= 2147483647 ? value : null;
}

export function instanceRow(r: InstanceRecord, runId: string): Row {
  const f = r.fields;
  return {
    sop_instance_uid: text(f.sopInstanceUid),
    patient_id: text(f.patientId),
    study_instance_uid: text(f.studyInstanceUid),
    series_instance_uid: text(f.seriesInstanceUid),
    slice_thickness: real(f.sliceThickness),
    pixel_spacing_row: real(f.pixelSpacingRow),
    pixel_spacing_col: real(f.pixelSpacingCol),
    study_date: text(f.studyDate),
    acquisition_date: text(f.acquisitionDate),
    instance_number: int32(f.instanceNumber),
    modality: text(f.modality),
    rows: int32(f.rows),
    columns: int32(f.columns),
    transfer_syntax_uid: text(f.transferSyntaxUid),
    file_path: text(r.organizedPath),
    source_path: text(r.source),
    file_size: real(f.fileSize) ?? 0,
    run_id: runId,
    meta: dicomJsonText(r.meta),
  };
}

export function outcomeRow(r: OutcomeRecord, runId: string): Row {
  return {
    run_id: runId,
    path: text(r.path),
    status: r.status,
    code: text(r.code) ?? '',
    message: text(r.message) ?? '',
    entry_index: int32(r.i),
  };
}

export function seriesIssueRow(r: SeriesIssueRecord, runId: string): Row {
  return {
    series_instance_uid: text(r.seriesInstanceUid),
    code: text(r.code),
    message: text(r.message),
    run_id: runId,
  };
}

interface TableSpec<T> {
  file: string;
  cursorKey: keyof LoadCursor;
  table: string;
  key: string[];
  /** merge: a re-run updates the row; ignore: an identical row is already there. */
  onConflict: 'merge' | 'ignore';
  /** Delete this run's rows before loading the file from its first record. */
  clearRunFirst: boolean;
  /** Every record has its own key (no repeats in the file): batches may be written concurrently. */
  uniqueKeys: boolean;
  toRow(record: T, runId: string): Row;
}

/** Last row wins for a repeated key inside one statement (PostgreSQL refuses to upsert a row twice). */
function dedupeByKey(rows: Row[], key: string[]): Row[] {
  const byKey = new Map<string, Row>();
  for (const row of rows) {
    const k = JSON.stringify(key.map((c) => row[c]));
    byKey.delete(k);
    byKey.set(k, row);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}

async function writeBatch(db: Knex, spec: TableSpec<unknown>, rows: Row[]): Promise<void> {
  const unique = dedupeByKey(rows, spec.key);
  await db.transaction(async (trx) => {
    const insert = trx(spec.table).insert(unique).onConflict(spec.key);
    await (spec.onConflict === 'merge' ? insert.merge() : insert.ignore());
  });
}

async function loadFile<T>(
  db: Knex,
  spec: TableSpec<T>,
  runId: string,
  cursor: LoadCursor,
  batchRows: number,
  onProgress?: LoadOptions['onProgress'],
): Promise<void> {
  const skip = cursor[spec.cursorKey];
  if (skip === 0 && spec.clearRunFirst) await db(spec.table).where({ run_id: runId }).delete();

  const dialect = isPostgres(db) ? 'postgres' : 'sqlite';
  // PostgreSQL parses the next batch's JSON while we read the one after: two batches in flight, on two
  // connections. Only where keys are unique by construction, so no two batches race for one row.
  const maxInFlight = dialect === 'postgres' && spec.uniqueKeys ? 2 : 1;
  const inFlight: Promise<number>[] = []; // each resolves to the record count through its batch, in file order
  const settleOldest = async () => {
    cursor[spec.cursorKey] = await inFlight.shift()!;
    await onProgress?.({ ...cursor });
  };

  let seen = 0;
  let batch: Row[] = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const through = seen;
    const written = writeBatch(db, spec as TableSpec<unknown>, batch).then(() => through);
    written.catch(() => undefined); // awaited in order below; a later batch failing first is not "unhandled"
    inFlight.push(written);
    batch = [];
    batchBytes = 0;
    while (inFlight.length >= maxInFlight) await settleOldest();
  };

  try {
    for await (const record of readJsonLines<T>(spec.file)) {
      seen++;
      if (seen <= skip) continue;
      const row = spec.toRow(record, runId);
      if (batch.length === 0) {
        // the first row tells the column count for the parameter limit
        batchRows = rowsPerStatement(Object.keys(row).length, dialect, batchRows);
      }
      batch.push(row);
      batchBytes += typeof row.meta === 'string' ? row.meta.length : 256;
      if (batch.length >= batchRows || batchBytes >= MAX_BATCH_BYTES) await flush();
    }
    await flush();
    while (inFlight.length > 0) await settleOldest();
  } finally {
    // On an error, let the other batch finish before the caller closes the connections.
    await Promise.allSettled(inFlight);
  }
  cursor[spec.cursorKey] = seen;
}

/** Load instances, outcomes and series issues of the run under outDir into the catalog `db`. */
export async function loadCatalog(db: Knex, opts: LoadOptions): Promise<LoadCounts> {
  const ws = workspace(opts.outDir);
  const cursor: LoadCursor = { instances: 0, outcomes: 0, seriesIssues: 0, ...opts.cursor };
  const batchRows = opts.batchSize ?? DEFAULT_BATCH_ROWS;

  const specs: TableSpec<never>[] = [
    {
      file: ws.instances,
      cursorKey: 'instances',
      table: 'dicom_metadata',
      key: ['sop_instance_uid'],
      onConflict: 'merge',
      clearRunFirst: false, // the catalog accumulates instances across runs
      uniqueKeys: true, // organize writes each SOP instance once
      toRow: instanceRow as (r: never, runId: string) => Row,
    },
    {
      file: ws.outcomes,
      cursorKey: 'outcomes',
      table: 'validation_results',
      key: ['run_id', 'path'],
      onConflict: 'merge',
      clearRunFirst: true,
      uniqueKeys: false, // a zip may list one path twice
      toRow: outcomeRow as (r: never, runId: string) => Row,
    },
    {
      file: ws.seriesIssues,
      cursorKey: 'seriesIssues',
      table: 'series_issues',
      key: ['series_instance_uid', 'code', 'message', 'run_id'],
      onConflict: 'ignore',
      clearRunFirst: true,
      uniqueKeys: false,
      toRow: seriesIssueRow as (r: never, runId: string) => Row,
    },
  ];
  for (const spec of specs) await loadFile(db, spec, opts.runId, cursor, batchRows, opts.onProgress);

  const counts: LoadCounts = {
    instances: cursor.instances,
    validationRows: cursor.outcomes,
    seriesIssues: cursor.seriesIssues,
  };
  const run = {
    run_id: opts.runId,
    source: opts.source ?? null,
    loaded_at: new Date().toISOString(),
    instances: counts.instances,
    validation_rows: counts.validationRows,
    series_issues: counts.seriesIssues,
  };
  const updated = ['loaded_at', 'instances', 'validation_rows', 'series_issues'];
  // A load that does not know the source keeps the one recorded before.
  await db('runs').insert(run).onConflict('run_id').merge(opts.source ? [...updated, 'source'] : updated);
  return counts;
}
