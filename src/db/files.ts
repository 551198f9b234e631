/**
 * The file catalog (`files`), without Temporal: what the incremental scan compares against, and what a run records
 * in it once its catalog rows are loaded. Bulk: the run's rows go in as the load's do (prepared multi-row upserts,
 * db/load.ts), then a few set-wide UPDATEs in one transaction; both behind the catalog's write lock (the advisory
 * lock of the loads on PostgreSQL). Every step is idempotent, so a retry after a failure between them redoes both.
 *
 * A run records every entry it processed (its status and code from outcomes.jsonl; size, mtime and hash from the
 * scan's files.jsonl for a folder, the size from the manifest for a zip), marks the files it found gone, and notes
 * itself as the last run that saw every file still there. With prune, the instances the gone files brought leave the
 * catalog and the tree.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Knex } from 'knex';
import type { EntryRecord, OutcomeRecord } from '../records';
import { jsonLineCursor, readAllJsonLines, type JsonLineCursor } from '../io/jsonl';
import { inByteOrder, noKnownFiles, scanFiles, type FileSeen, type KnownFiles, type ScanCounts } from '../incremental/scan';
import { isPostgres } from './catalog';
import { PG_LOAD_LOCK, upsertLines } from './load';
import { FILES_COLUMNS } from './migrations';

/** Rows of the file catalog read per query by knownFiles. */
const KNOWN_PAGE = 10_000;

/**
 * The catalog's files of `source`, in byte order of their paths (what the scan walks beside the folder's listing).
 * Read a page at a time in key order (the primary key's (source, path) index): the driver never holds every row of a
 * 250,000-file source at once, which made the scan's peak memory twice the pipeline's bound. SQLite's order is byte
 * order already; PostgreSQL's follows the database's collation, and the rows are put in byte order once read.
 */
export async function knownFiles(db: Knex, source: string, pageRows = KNOWN_PAGE): Promise<KnownFiles> {
  type Row = { path: string; size: number | string | null; mtime_ms: number | string | null; sha256: string | null; last_seen_at: string; gone_run_id: string | null };
  const known = noKnownFiles();
  // Most rows share the few times the runs saw them: each is parsed once.
  const times = new Map<string, number>();
  for (let after: string | undefined; ; ) {
    const page = db('files').select('path', 'size', 'mtime_ms', 'sha256', 'last_seen_at', 'gone_run_id').where({ source });
    if (after !== undefined) page.andWhere('path', '>', after);
    const rows = (await page.orderBy('path').limit(pageRows)) as Row[];
    for (const r of rows) {
      let seenAt = times.get(r.last_seen_at);
      if (seenAt === undefined) times.set(r.last_seen_at, (seenAt = Date.parse(r.last_seen_at)));
      known.paths.push(r.path);
      known.sizes.push(r.size === null ? NaN : Number(r.size));
      known.mtimes.push(r.mtime_ms === null ? NaN : Number(r.mtime_ms));
      known.sha256.push(r.sha256);
      known.seenAt.push(seenAt);
      known.gone.push(r.gone_run_id !== null);
    }
    if (rows.length < pageRows) return inByteOrder(known);
    after = rows[rows.length - 1].path;
  }
}

/** The lower-case extension of a path's file name, without the dot ('' when none). */
export function extensionOf(p: string): string {
  const name = p.slice(p.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : '';
}

/** The folder names of a '/'-separated path, as dbx.pixels' path_tags: 'a/b/c.dcm' → ["a","b"]. */
export function pathTags(p: string): string[] {
  return p.split('/').slice(0, -1).filter((part) => part !== '');
}

export interface FileCatalogOptions {
  outDir: string;
  runKey?: string;
  runId: string;
  /** The source as runs.source has it (a URL without its query). */
  source: string;
  /** The scan's counts (folders), recorded in runs. */
  changes?: ScanCounts;
  /** The hash of a zip source, recorded in runs. */
  sourceSha256?: string;
  /** Remove the instances of the files found gone from the catalog and the tree. */
  prune?: boolean;
}

export interface FileCatalogResult {
  /** Rows upserted: the entries this run processed (and touched files). */
  recorded: number;
  gone: number;
  /** Instances removed from the catalog and the tree (prune). */
  pruned: number;
}

const PATHS_PER_STATEMENT = 500;

/** A zip's manifest as the scan's records: each entry's size, new. */
function manifestSizes(entries: JsonLineCursor<EntryRecord>): JsonLineCursor<FileSeen> {
  return {
    next() {
      const e = entries.next();
      return e && { path: e.source, size: e.size ?? null, mtimeMs: null, sha256: null, change: 'new' };
    },
    close: () => entries.close(),
  };
}

function chunks<T>(list: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let k = 0; k < list.length; k += size) out.push(list.slice(k, k + size));
  return out;
}

export async function recordFiles(db: Knex, opts: FileCatalogOptions): Promise<FileCatalogResult> {
  const out = scanFiles(opts.outDir, opts.runKey);
  const now = new Date().toISOString();
  // What the scan saw of each file (folders: files.jsonl), or the manifest's sizes (zips): in the manifest's order, as
  // the outcomes are, so the two are paired line by line as the rows go in — neither is held whole (a map of 247,000
  // records was the largest thing in the worker at the end of a first run of a 247,000-file folder).
  const seen: JsonLineCursor<FileSeen> | undefined = fs.existsSync(out.files)
    ? jsonLineCursor<FileSeen>(out.files)
    : fs.existsSync(out.ws.entriesManifest)
      ? manifestSizes(jsonLineCursor<EntryRecord>(out.ws.entriesManifest))
      : undefined;
  // Files the scan found unchanged but touched (same bytes, another mtime): only their mtime changes. The scan's
  // records hold them between the processed ones.
  const touched: FileSeen[] = [];
  const seenOf = (p: string): FileSeen | undefined => {
    for (let f = seen?.next(); f; f = seen?.next()) {
      if (f.path === p && f.change !== 'touched') return f;
      if (f.change === 'touched') touched.push(f);
      else throw new Error(`file catalog: the scan's records and the run's outcomes disagree at ${p} (${f.path})`);
    }
    return undefined;
  };
  const gone = fs.existsSync(out.gone) ? await readAllJsonLines<string>(out.gone) : [];

  // The entries this run processed, from outcomes.jsonl, upserted in bulk first (prepared multi-row statements behind
  // the catalog's write lock, as the load's rows): first_run_id and first_seen_at stay as an earlier run wrote them.
  let recorded = 0;
  try {
    if (fs.existsSync(out.ws.outcomes)) {
      // (No outcomes: a run whose scan found nothing to process went straight to this.)
      const updated = ['size', 'mtime_ms', 'sha256', 'extension', 'path_tags', 'status', 'code', 'last_run_id', 'last_seen_at', 'gone_run_id'];
      recorded = await upsertLines(db, {
        file: out.ws.outcomes,
        table: 'files',
        columns: FILES_COLUMNS,
        key: ['source', 'path'],
        onConflict: 'merge',
        updated,
        clearRunFirst: false,
        shared: ['source', 'first_run_id', 'last_run_id', 'first_seen_at', 'last_seen_at', 'gone_run_id'],
        values(line) {
          const o = JSON.parse(line.toString('utf8')) as OutcomeRecord;
          const f = seenOf(o.path);
          // In FILES_COLUMNS order.
          return [opts.source, o.path, f?.size ?? null, f?.mtimeMs ?? null, f?.sha256 ?? null, extensionOf(o.path), JSON.stringify(pathTags(o.path)), o.status, o.code, opts.runId, opts.runId, now, now, null];
        },
      });
    }
    for (let f = seen?.next(); f; f = seen?.next()) if (f.change === 'touched') touched.push(f);
  } finally {
    seen?.close();
  }

  let removed: string[] = [];
  await db.transaction(async (trx) => {
    if (isPostgres(db)) await trx.raw('SELECT pg_advisory_xact_lock(?)', [PG_LOAD_LOCK]);
    for (const part of chunks(gone, PATHS_PER_STATEMENT)) {
      await trx('files').where({ source: opts.source }).whereIn('path', part).whereNull('gone_run_id').update({ gone_run_id: opts.runId });
    }
    // Every file still there was seen by this run (the rows just upserted say so already).
    await trx('files').where({ source: opts.source }).whereNull('gone_run_id').whereNot({ last_run_id: opts.runId }).update({ last_run_id: opts.runId, last_seen_at: now });
    for (const f of touched) {
      await trx('files').where({ source: opts.source, path: f.path }).update({ mtime_ms: f.mtimeMs, sha256: f.sha256 });
    }

    if (opts.prune) {
      // The instances the gone files brought (found gone by this run or an earlier one): their rows, loaded by runs of
      // this source.
      const allGone = ((await trx('files').select('path').where({ source: opts.source }).whereNotNull('gone_run_id')) as { path: string }[]).map((r) => r.path);
      const runsOfSource = trx('runs').select('run_id').where({ source: opts.source });
      for (const part of chunks(allGone, PATHS_PER_STATEMENT)) {
        const found = (await trx('dicom_metadata').select('file_path').whereIn('source_path', part).whereIn('run_id', runsOfSource.clone())) as { file_path: string }[];
        removed.push(...found.map((r) => r.file_path));
        await trx('dicom_metadata').whereIn('source_path', part).whereIn('run_id', runsOfSource.clone()).delete();
      }
    }
    const counts = opts.changes;
    // The run's row, when its load did not write one (a run that found nothing to process).
    await trx('runs')
      .insert({ run_id: opts.runId, source: opts.source, loaded_at: now, instances: 0, validation_rows: 0, series_issues: 0 })
      .onConflict('run_id')
      .ignore();
    await trx('runs')
      .where({ run_id: opts.runId })
      .update({
        source_sha256: opts.sourceSha256 ?? null,
        new_files: counts?.new ?? null,
        changed_files: counts?.changed ?? null,
        unchanged_files: counts?.unchanged ?? null,
        gone_files: counts?.gone ?? null,
      });
  });
  // The tree loses the pruned files once the catalog no longer names them.
  removed = [...new Set(removed)];
  for (const rel of removed) fs.rmSync(path.join(opts.outDir, rel), { force: true });
  return { recorded: recorded + touched.length, gone: gone.length, pruned: removed.length };
}
