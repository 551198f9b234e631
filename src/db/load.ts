/**
 * Loading the stage outputs under DIR/work into the catalog. Knows no Temporal: the load-database
 * activity wraps it, heartbeating the cursor this reports and passing it back on a retry.
 *
 * Bulk by design: multi-row statements (a few hundred rows each, prebuilt SQL with bound values), many of them in
 * one transaction (up to ROWS_PER_COMMIT rows or BYTES_PER_COMMIT of text), the header passed through as the JSON
 * text organize wrote, never parsed. The cursor counts committed records, so a retry goes on after the last commit.
 *
 * Idempotent by construction: every insert is an upsert on the table's key, so rows re-sent after a resume or a
 * whole re-run never duplicate. For validation_results and series_issues the files are the whole truth for the run:
 * a load that starts a file from the top first clears that run's rows (in the same transaction), so findings that
 * disappeared do not linger.
 *
 * Runs into the same catalog at the same time each load their own rows (every row carries its run id): write
 * transactions are serialized, so the union is exact and no upsert waits on another in a deadlock. SQLite: BEGIN
 * IMMEDIATE takes the one write lock up front (WAL keeps readers going), tried with a short busy timeout and again
 * until it is free; PostgreSQL: each transaction first takes a transaction-level advisory lock. While it waits, the
 * load says so through onWait (the activity heartbeats it, and the progress line shows it).
 */
import { createHash } from 'crypto';
import type { Knex } from 'knex';
import { splitMetaLine, type InstanceRecord, type OutcomeRecord, type SeriesIssueRecord } from '../records';
import { readLineBuffers } from '../io/jsonl';
import { workspace } from '../workspace';
import { isPostgres } from './catalog';
import { DICOM_METADATA_COLUMNS } from './migrations';

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
  /** The run's scratch key: its stage files are under DIR/work/runs/<key> (workspace.ts). */
  runKey?: string;
  runId: string;
  /** What the run ingested (zip, folder or URL), recorded in the runs table. */
  source?: string;
  /** Resume point from an earlier attempt. */
  cursor?: Partial<LoadCursor>;
  /** Called after each commit with the records committed so far. */
  onProgress?: (cursor: LoadCursor) => void | Promise<void>;
  /** Called after every statement (liveness between commits). */
  onStatement?: () => void;
  /** Called about every WAIT_REPORT_MS while another run's load holds the catalog's write lock. */
  onWait?: (reason: string) => void;
  /** Rows per statement (capped by the dialect's limits). */
  batchSize?: number;
  /** Rows per transaction (default ROWS_PER_COMMIT). */
  rowsPerCommit?: number;
}

type Value = string | number | null | Buffer;

/**
 * Rows per statement. Preparing a multi-row upsert costs more than linearly in its rows (SQLite compiles the VALUES
 * rows as a compound SELECT): a 500-row dicom_metadata statement took 10-13 ms to prepare, a 128-row one 0.9 ms, and
 * each load prepares its statements anew. 100 rows: set 1's load (1,128 rows) 163-271 -> 65-144 ms, set 2's (19,100
 * rows) unchanged; past ~100 rows the per-statement cost no longer matters.
 */
const DEFAULT_BATCH_ROWS = 100;
// Kept from knex's multi-row insert form (SELECT ... UNION ALL, at most 500 terms): the most a caller may ask for.
const SQLITE_MAX_ROWS = 500;
// Bind parameters per statement: PostgreSQL's protocol allows 65535; SQLite >= 3.32 allows 32766.
const MAX_PARAMS = { sqlite: 32766, postgres: 65535 };
// Keep one statement's payload modest even when headers are large (meta JSON dominates).
const MAX_STATEMENT_BYTES = 8 * 1024 * 1024;
/** One transaction holds up to this many rows or bytes of text: big enough to be bulk, small enough to resume. */
export const ROWS_PER_COMMIT = 20_000;
const BYTES_PER_COMMIT = 128 * 1024 * 1024;

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

/**
 * Header JSON text made acceptable to PostgreSQL jsonb: a NUL inside a string is dropped and a lone UTF-16
 * surrogate becomes U+FFFD. JSON.stringify writes exactly these as \u escapes (paired surrogates stay raw), so only
 * escapes whose backslash is not itself escaped are touched. One regex test when there is nothing to change.
 */
export function catalogJson(json: string): string {
  // Nearly every header has no \u escape at all: indexOf answers that much faster than the case-insensitive regex.
  if (json.indexOf('\\u') === -1 || !/\\u(0000|d[89a-f])/i.test(json)) return json;
  return json.replace(/(?<!\\)((?:\\\\)*)\\u(0000|d[89a-f][0-9a-f]{2})/gi, (_m, slashes: string, code: string) =>
    slashes + (code === '0000' ? '' : '\\ufffd'),
  );
}

/** The same on JSON bytes: untouched (not even decoded) unless they hold an escape to fix. */
export function catalogJsonBytes(json: Buffer): Buffer {
  if (json.indexOf(BACKSLASH_U) === -1) return json;
  const text = json.toString('utf8');
  const fixed = catalogJson(text);
  return fixed === text ? json : Buffer.from(fixed, 'utf8');
}
const BACKSLASH_U = Buffer.from('\\u');

/** A header object as catalog JSON text. */
export function metaJson(meta: unknown): string | null {
  return meta === undefined || meta === null ? null : catalogJson(JSON.stringify(meta));
}

/** A dicom_metadata row, in DICOM_METADATA_COLUMNS order, from an instances.jsonl line; the header stays bytes. */
function instanceValues(line: Buffer, runId: string): Value[] {
  const { record: r, meta } = splitMetaLine<Omit<InstanceRecord, 'meta'>>(line);
  const f = r.fields;
  return [
    text(f.sopInstanceUid),
    text(f.patientId),
    text(f.studyInstanceUid),
    text(f.seriesInstanceUid),
    real(f.sliceThickness),
    real(f.pixelSpacingRow),
    real(f.pixelSpacingCol),
    text(f.studyDate),
    text(f.acquisitionDate),
    int32(f.instanceNumber),
    text(f.modality),
    int32(f.rows),
    int32(f.columns),
    text(f.transferSyntaxUid),
    text(r.organizedPath),
    text(r.source),
    real(f.fileSize) ?? 0,
    runId,
    meta === null ? null : catalogJsonBytes(meta),
  ];
}

function outcomeValues(line: Buffer, runId: string): Value[] {
  const r = JSON.parse(line.toString('utf8')) as OutcomeRecord;
  return [runId, text(r.path), r.status, text(r.code) ?? '', text(r.message) ?? '', int32(r.i)];
}

function seriesIssueValues(line: Buffer, runId: string): Value[] {
  const r = JSON.parse(line.toString('utf8')) as SeriesIssueRecord;
  return [text(r.seriesInstanceUid), text(r.code), text(r.message), runId];
}

/** A JSON-lines file bulk-loaded into a table: one row per line. */
export interface TableSpec {
  file: string;
  table: string;
  columns: readonly string[];
  key: string[];
  /** merge: a re-run updates the row; ignore: an identical row is already there. */
  onConflict: 'merge' | 'ignore';
  /** The columns a merge updates (default: every column outside the key). */
  updated?: readonly string[];
  /** Delete this run's rows before loading the file from its first record. */
  clearRunFirst: boolean;
  /**
   * A column whose value comes as UTF-8 bytes (the header): SQLite stores them as text with CAST(? AS TEXT), never
   * decoded here; PostgreSQL gets them decoded (its driver would send bytes as bytea).
   */
  textBytes?: string;
  values(line: Buffer, runId: string): Value[];
  /**
   * Columns holding one value for every row of the load (the run id, the source): bound once per statement, not once
   * per row (binding is most of the loader's own work; the file catalog's rows have 6 such columns of 14).
   */
  shared?: readonly string[];
}

/**
 * INSERT ... VALUES (...), ... ON CONFLICT for `rows` rows: ? placeholders on SQLite, $n on PostgreSQL. The header
 * column is bound as bytes on SQLite and stored as text by CAST.
 */
function insertSql(spec: TableSpec, rows: number, dialect: 'sqlite' | 'postgres'): string {
  const q = (name: string) => `"${name}"`;
  // Numbered parameters: the shared columns' values first (each bound once, named in every row), then each row's own.
  const shared = spec.shared ?? [];
  let n = shared.length;
  const param = (k: number) => (dialect === 'postgres' ? `$${k}` : `?${k}`);
  const slot = (c: string) => {
    const s = shared.indexOf(c);
    const p = param(s >= 0 ? s + 1 : ++n);
    return c === spec.textBytes && dialect === 'sqlite' ? `CAST(${p} AS TEXT)` : p;
  };
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${spec.columns.map(slot).join(', ')})`);
  const action =
    spec.onConflict === 'merge'
      ? `DO UPDATE SET ${(spec.updated ?? spec.columns.filter((c) => !spec.key.includes(c))).map((c) => `${q(c)} = excluded.${q(c)}`).join(', ')}`
      : 'DO NOTHING';
  return `INSERT INTO ${q(spec.table)} (${spec.columns.map(q).join(', ')}) VALUES ${tuples.join(', ')} ON CONFLICT (${spec.key.map(q).join(', ')}) ${action}`;
}

/** A statement's parameters in insertSql's order: the shared columns' values (from the first row), then each row's own. */
function statementParams(rows: Value[][], sharedAt: number[], ownAt: number[]): Value[] {
  if (sharedAt.length === 0) return rows.flat();
  const params: Value[] = sharedAt.map((c) => rows[0][c]);
  for (const row of rows) for (const c of ownAt) params.push(row[c]);
  return params;
}

/** Last row wins for a repeated key inside one statement (PostgreSQL refuses to upsert a row twice). */
function dedupeByKey(rows: Value[][], keyAt: number[]): Value[][] {
  const byKey = new Map<string, Value[]>();
  for (const row of rows) {
    const k = JSON.stringify(keyAt.map((c) => row[c]));
    byKey.delete(k);
    byKey.set(k, row);
  }
  return byKey.size === rows.length ? rows : [...byKey.values()];
}

/**
 * The driver's own connection, taken from knex's pool for the bulk load: prepared statements (kept per SQL text) run
 * straight on it, without knex building each query. One statement may run while the next one's rows are built.
 */
interface BulkConnection {
  run(sql: string, params?: Value[]): Promise<void>;
  /** Starts a write transaction once no other load holds the catalog's write lock, waiting (and saying so) until then. */
  begin(onWait?: (reason: string) => void): Promise<void>;
  release(): Promise<void>;
}

/** What the progress line shows while a load waits for the write lock. */
export const WAITING_FOR_LOCK = "waiting for another run's load: the catalog is locked";
const WAIT_REPORT_MS = 1000;
/** SQLite: each try for the write lock waits this long inside SQLite before the loader reports and tries again. */
const SQLITE_LOCK_TRY_MS = 250;
/** The connections' usual busy timeout (catalog.ts), restored when the loader gives its connection back. */
const SQLITE_BUSY_TIMEOUT_MS = 10_000;
/** PostgreSQL advisory lock key of catalog loads ("dicf"). */
export const PG_LOAD_LOCK = 0x64696366;

interface SqliteStatement {
  run(params: Value[], cb: (err: Error | null) => void): void;
  finalize(cb?: () => void): void;
}
interface SqliteConnection {
  prepare(sql: string, cb: (err: Error | null) => void): SqliteStatement;
  run(sql: string, params: Value[], cb: (err: Error | null) => void): void;
}
interface PgConnection {
  query(config: { text: string; values?: Value[]; name?: string }): Promise<unknown>;
}

const statementNames = new Map<string, string>();

async function bulkConnection(db: Knex, dialect: 'sqlite' | 'postgres'): Promise<BulkConnection> {
  const conn = (await db.client.acquireConnection()) as unknown;
  const release = () => db.client.releaseConnection(conn) as Promise<void>;
  if (dialect === 'postgres') {
    const pg = conn as PgConnection;
    return {
      async run(sql, params = []) {
        if (params.length === 0) return void (await pg.query({ text: sql }));
        // Named after its text: prepared once per pooled connection, whichever load comes back to it.
        let name = statementNames.get(sql);
        if (!name) statementNames.set(sql, (name = `dicomflow_${createHash('sha1').update(sql).digest('hex').slice(0, 20)}`));
        await pg.query({ text: sql, values: params, name });
      },
      async begin(onWait) {
        await pg.query({ text: 'BEGIN' });
        let timer: NodeJS.Timeout | undefined;
        try {
          const tried = (await pg.query({ text: 'SELECT pg_try_advisory_xact_lock($1) AS ok', values: [PG_LOAD_LOCK] })) as { rows: { ok: boolean }[] };
          if (tried.rows[0]?.ok) return;
          // Queued behind the other load; the wait is reported while it lasts. onWait may throw (a cancelled
          // activity): from the timer that is kept and thrown once the lock is ours (then rolled back).
          onWait?.(WAITING_FOR_LOCK);
          let stop: unknown;
          timer = setInterval(() => {
            try {
              onWait?.(WAITING_FOR_LOCK);
            } catch (err) {
              stop ??= err;
            }
          }, WAIT_REPORT_MS);
          await pg.query({ text: 'SELECT pg_advisory_xact_lock($1)', values: [PG_LOAD_LOCK] });
          if (stop !== undefined) throw stop;
        } catch (err) {
          await pg.query({ text: 'ROLLBACK' }).catch(() => undefined);
          throw err;
        } finally {
          clearInterval(timer);
        }
      },
      release,
    };
  }
  const sqlite = conn as SqliteConnection;
  const statements = new Map<string, SqliteStatement>();
  const exec = (sql: string) => new Promise<void>((resolve, reject) => sqlite.run(sql, [], (err) => (err ? reject(err) : resolve())));
  await exec(`PRAGMA busy_timeout = ${SQLITE_LOCK_TRY_MS}`).catch(async (err) => {
    await release();
    throw err;
  });
  return {
    async begin(onWait) {
      let lastReport = 0;
      for (;;) {
        try {
          return await exec('BEGIN IMMEDIATE');
        } catch (err) {
          if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
          if (Date.now() - lastReport >= WAIT_REPORT_MS || lastReport === 0) {
            lastReport = Date.now();
            onWait?.(WAITING_FOR_LOCK);
          }
        }
      }
    },
    run(sql, params = []) {
      return new Promise((resolve, reject) => {
        const done = (err: Error | null) => (err ? reject(err) : resolve());
        if (params.length === 0) return sqlite.run(sql, [], done);
        let stmt = statements.get(sql);
        if (!stmt) {
          stmt = sqlite.prepare(sql, (err) => err && reject(err));
          statements.set(sql, stmt);
        }
        stmt.run(params, done);
      });
    },
    async release() {
      await Promise.all([...statements.values()].map((s) => new Promise<void>((r) => s.finalize(() => r()))));
      await exec(`PRAGMA busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`).catch(() => undefined);
      await release();
    },
  };
}

/** Where a file's load starts (records already committed) and what it says after each commit. */
interface FileCursor {
  skip: number;
  onCommit?: (records: number) => void | Promise<void>;
}

type BulkOptions = Pick<LoadOptions, 'onStatement' | 'onWait' | 'batchSize' | 'rowsPerCommit'>;

/** Loads `spec.file` from record `at.skip` on; returns the records it holds (blank lines not counted). */
async function loadFile(db: Knex, spec: TableSpec, runId: string, at: FileCursor, opts: BulkOptions): Promise<number> {
  const skip = at.skip;
  const dialect = isPostgres(db) ? 'postgres' : 'sqlite';
  const sharedAt = (spec.shared ?? []).map((c) => spec.columns.indexOf(c));
  const ownAt = spec.columns.map((_, c) => c).filter((c) => !sharedAt.includes(c));
  const perStatement = rowsPerStatement(ownAt.length, dialect, opts.batchSize ?? DEFAULT_BATCH_ROWS);
  const perCommit = opts.rowsPerCommit ?? ROWS_PER_COMMIT;
  const keyAt = spec.key.map((k) => spec.columns.indexOf(k));
  const sqlFor = new Map<number, string>();
  const conn = await bulkConnection(db, dialect);

  let open = false;
  let seen = 0;
  let rows: Value[][] = [];
  let rowBytes = 0;
  let inTransaction = { rows: 0, bytes: 0 };
  /** The statement the database is running while the next rows are built (at most one). */
  let running: Promise<void> | null = null;
  const settle = async () => {
    const p = running;
    running = null;
    await p;
  };
  const begin = async () => {
    await conn.begin(opts.onWait);
    open = true;
    if (seen === 0 && skip === 0 && spec.clearRunFirst) await conn.run(`DELETE FROM "${spec.table}" WHERE run_id = ${dialect === 'postgres' ? '$1' : '?'}`, [runId]);
  };
  const statement = async () => {
    if (rows.length === 0) return;
    if (!open) await begin();
    // SQLite merges a key repeated inside one statement row after row, the last row winning; PostgreSQL refuses to.
    const unique = dialect === 'postgres' || spec.onConflict !== 'merge' ? dedupeByKey(rows, keyAt) : rows;
    let sql = sqlFor.get(unique.length);
    if (!sql) sqlFor.set(unique.length, (sql = insertSql(spec, unique.length, dialect)));
    const next = conn.run(sql, statementParams(unique, sharedAt, ownAt));
    next.catch(() => undefined); // awaited in order, by settle()
    await settle();
    running = next;
    inTransaction.rows += rows.length;
    inTransaction.bytes += rowBytes;
    rows = [];
    rowBytes = 0;
    opts.onStatement?.();
  };
  const commit = async () => {
    await statement();
    await settle();
    if (open) await conn.run('COMMIT');
    open = false;
    inTransaction = { rows: 0, bytes: 0 };
    if (seen > skip) await at.onCommit?.(seen);
  };

  try {
    if (skip === 0 && spec.clearRunFirst) await begin(); // clear even when the file is empty
    const bytesAt = spec.textBytes && dialect === 'postgres' ? spec.columns.indexOf(spec.textBytes) : -1;
    for await (const lines of readLineBuffers(spec.file)) {
      for (const line of lines) {
        seen++;
        if (seen <= skip) continue;
        const values = spec.values(line, runId);
        if (bytesAt >= 0 && Buffer.isBuffer(values[bytesAt])) values[bytesAt] = values[bytesAt].toString('utf8');
        rows.push(values);
        rowBytes += line.length;
        if (rows.length >= perStatement || rowBytes >= MAX_STATEMENT_BYTES) {
          await statement();
          if (inTransaction.rows >= perCommit || inTransaction.bytes >= BYTES_PER_COMMIT) await commit();
        }
      }
    }
    await commit();
  } catch (err) {
    // (assigned in statement(): the compiler's narrowing to null here does not see that)
    const inFlight = running as Promise<void> | null;
    if (inFlight) await Promise.allSettled([inFlight]);
    if (open) await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await conn.release();
  }
  return seen;
}

/**
 * Bulk upsert of a JSON-lines file's rows outside a catalog load (the file catalog's rows): the same prepared
 * multi-row statements and write lock as the load. Returns the records the file holds.
 */
export function upsertLines(db: Knex, spec: TableSpec, opts: BulkOptions = {}): Promise<number> {
  return loadFile(db, spec, '', { skip: 0 }, opts);
}

/** Load instances, outcomes and series issues of the run under outDir into the catalog `db`. */
export async function loadCatalog(db: Knex, opts: LoadOptions): Promise<LoadCounts> {
  const ws = workspace(opts.outDir, opts.runKey);
  const cursor: LoadCursor = { instances: 0, outcomes: 0, seriesIssues: 0, ...opts.cursor };

  const specs: (TableSpec & { cursorKey: keyof LoadCursor })[] = [
    {
      file: ws.instances,
      cursorKey: 'instances',
      table: 'dicom_metadata',
      columns: DICOM_METADATA_COLUMNS,
      key: ['sop_instance_uid'],
      onConflict: 'merge',
      clearRunFirst: false, // the catalog accumulates instances across runs
      textBytes: 'meta',
      values: instanceValues,
      shared: ['run_id'],
    },
    {
      file: ws.outcomes,
      cursorKey: 'outcomes',
      table: 'validation_results',
      columns: ['run_id', 'path', 'status', 'code', 'message', 'entry_index'],
      key: ['run_id', 'path'],
      onConflict: 'merge',
      clearRunFirst: true,
      values: outcomeValues,
      shared: ['run_id'],
    },
    {
      file: ws.seriesIssues,
      cursorKey: 'seriesIssues',
      table: 'series_issues',
      columns: ['series_instance_uid', 'code', 'message', 'run_id'],
      key: ['series_instance_uid', 'code', 'message', 'run_id'],
      onConflict: 'ignore',
      clearRunFirst: true,
      values: seriesIssueValues,
    },
  ];
  for (const spec of specs) {
    const key = spec.cursorKey;
    const onCommit = async (records: number) => {
      if (records <= cursor[key]) return;
      cursor[key] = records;
      await opts.onProgress?.({ ...cursor });
    };
    const seen = await loadFile(db, spec, opts.runId, { skip: cursor[key], onCommit }, opts);
    cursor[key] = Math.max(seen, cursor[key]);
  }

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
  await recordRun(db, run, opts.source ? [...updated, 'source'] : updated, opts.onWait);
  return counts;
}

/** The run's row in `runs`, upserted in a write transaction of its own (behind the same lock as the rows). */
async function recordRun(db: Knex, run: Record<string, Value>, updated: string[], onWait?: (reason: string) => void): Promise<void> {
  const dialect = isPostgres(db) ? 'postgres' : 'sqlite';
  const columns = Object.keys(run);
  const slots = columns.map((_, k) => (dialect === 'postgres' ? `$${k + 1}` : '?'));
  const sql =
    `INSERT INTO "runs" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES (${slots.join(', ')}) ` +
    `ON CONFLICT ("run_id") DO UPDATE SET ${updated.map((c) => `"${c}" = excluded."${c}"`).join(', ')}`;
  const conn = await bulkConnection(db, dialect);
  let open = false;
  try {
    await conn.begin(onWait);
    open = true;
    await conn.run(sql, columns.map((c) => run[c]));
    await conn.run('COMMIT');
    open = false;
  } catch (err) {
    if (open) await conn.run('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await conn.release();
  }
}
