/** The catalog contract on real SQLite and real PostgreSQL: schema, values, JSON queries, idempotent loads. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Knex } from 'knex';
import { backgroundDone } from '../../src/background';
import { catalogTarget, describeDb, openCatalog, releaseCatalog } from '../../src/db/catalog';
import { loadCatalog, metaJson, PG_LOAD_LOCK, rowsPerStatement, WAITING_FOR_LOCK, type LoadCursor } from '../../src/db/load';
import { DICOM_METADATA_COLUMNS, migrationSource } from '../../src/db/migrations';
import { instance, outcome, SERIES_CR, SERIES_CT, smallRun, STUDY, writeRun, catalogFactory } from './fixtures';
import { catalogDialects } from '../helpers/tools';

type Dialect = 'sqlite' | 'postgres';
const catalogs = catalogFactory();
const fresh = catalogs.fresh;
afterAll(() => catalogs.cleanup());

async function withCatalog<T>(opts: { outDir: string; dbUrl?: string }, fn: (db: Knex) => Promise<T>): Promise<T> {
  const db = await openCatalog(opts);
  try {
    return await fn(db);
  } finally {
    await db.destroy();
  }
}

async function count(db: Knex, table: string): Promise<number> {
  const [row] = await db(table).count<{ n: number }[]>({ n: '*' });
  return Number(row.n);
}

/** Column name → declared type, from the database's own catalog. */
async function columnTypes(db: Knex, dialect: Dialect, table: string): Promise<Record<string, string>> {
  if (dialect === 'sqlite') {
    const cols: { name: string; type: string }[] = await db.raw(`PRAGMA table_info(${table})`);
    return Object.fromEntries(cols.map((c) => [c.name, c.type.toLowerCase()]));
  }
  const res = await db.raw(
    'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?',
    [table],
  );
  return Object.fromEntries(res.rows.map((c: { column_name: string; data_type: string }) => [c.column_name, c.data_type]));
}

async function indexNames(db: Knex, dialect: Dialect, table: string): Promise<string[]> {
  if (dialect === 'sqlite') {
    const rows: { name: string }[] = await db.raw(`PRAGMA index_list(${table})`);
    return rows.map((r) => r.name);
  }
  const res = await db.raw('SELECT indexname FROM pg_indexes WHERE tablename = ?', [table]);
  return res.rows.map((r: { indexname: string }) => r.indexname);
}

const PN_SQL: Record<Dialect, string> = {
  sqlite: `SELECT json_extract(meta, '$."00100010".Value[0].Alphabetic') AS name, json_extract(meta, '$."00100010".Value[0].Ideographic') AS ideo FROM dicom_metadata WHERE sop_instance_uid = ?`,
  postgres: `SELECT meta->'00100010'->'Value'->0->>'Alphabetic' AS name, meta->'00100010'->'Value'->0->>'Ideographic' AS ideo FROM dicom_metadata WHERE sop_instance_uid = ?`,
};

async function rawRows(db: Knex, dialect: Dialect, sql: string, bindings: unknown[]): Promise<Record<string, unknown>[]> {
  const res = await db.raw(sql, bindings as Knex.RawBinding[]);
  return dialect === 'sqlite' ? res : res.rows;
}

describe('catalog target', () => {
  test('URLs and paths name the right database, passwords masked', () => {
    expect(catalogTarget({ outDir: '/tmp/out' })).toEqual({ dialect: 'sqlite', file: path.resolve('/tmp/out/dicom.db') });
    expect(catalogTarget({ dbUrl: 'sqlite:///var/x/cat.db' })).toEqual({ dialect: 'sqlite', file: '/var/x/cat.db' });
    expect(catalogTarget({ dbUrl: 'rel/cat.db' })).toEqual({ dialect: 'sqlite', file: path.resolve('rel/cat.db') });
    expect(catalogTarget({ dbUrl: 'postgresql://u:p@h:5432/d' }).dialect).toBe('postgres');
    expect(describeDb({ dbUrl: 'postgres://alice:s3cret@db:5432/dicom' })).toBe('PostgreSQL postgres://alice:***@db:5432/dicom');
    expect(() => catalogTarget({ dbUrl: 'mysql://h/d' })).toThrow(/Unsupported database URL/);
    expect(() => catalogTarget({})).toThrow(/--out DIR/);
  });

  test('a released SQLite catalog closes in the background: once it has, dicom.db alone holds every commit', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-release-'));
    try {
      const db = await openCatalog({ outDir });
      // More than SQLite's default 1,000 pages of log, fewer than the catalog's own limit: the commit leaves it all in
      // dicom.db-wal, and only the close folds it in.
      const [{ page_size: pageSize }] = (await db.raw('PRAGMA page_size')) as { page_size: number }[];
      const rows = Array.from({ length: 10_000 }, (_, k) => ({ run_id: `r${k}`, source: 'x'.repeat(2000), loaded_at: 'now', instances: k, validation_rows: 0, series_issues: 0 }));
      for (let k = 0; k < rows.length; k += 100) await db('runs').insert(rows.slice(k, k + 100));
      const wal = path.join(outDir, 'dicom.db-wal');
      expect(fs.statSync(wal).size).toBeGreaterThan(pageSize * 1000);
      await releaseCatalog(db, outDir);
      await backgroundDone();
      expect(fs.existsSync(wal)).toBe(false);
      // A copy of dicom.db without its log (what a user takes away) has every row.
      fs.copyFileSync(path.join(outDir, 'dicom.db'), path.join(outDir, 'copy.db'));
      const copy = await openCatalog({ dbUrl: path.join(outDir, 'copy.db') });
      try {
        expect(await copy('runs').count({ n: '*' })).toEqual([{ n: 10_000 }]);
        expect(pageSize).toBe(16384); // a new catalog's pages
      } finally {
        await copy.destroy();
      }
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  test('catalogs of one file closing at the same moment close one after the other: the last folds the log in', async () => {
    // Two closing at once could each see the other and leave the log behind (seen 3 times in 40 before closes of a
    // file were put in turn); 20 rounds of the kept catalog and another one of its file closed by backgroundDone.
    for (let round = 0; round < 20; round++) {
      const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-close-'));
      try {
        const db = await openCatalog({ outDir });
        await db('runs').insert({ run_id: `r${round}`, source: 's', loaded_at: 'now', instances: 1, validation_rows: 0, series_issues: 0 });
        await releaseCatalog(db, outDir);
        const kept = await openCatalog({ outDir });
        const other = await openCatalog({ outDir });
        await releaseCatalog(kept, outDir);
        await releaseCatalog(other, outDir);
        await backgroundDone();
        expect(fs.existsSync(path.join(outDir, 'dicom.db-wal'))).toBe(false);
      } finally {
        fs.rmSync(outDir, { recursive: true, force: true });
      }
    }
  });

  test('a released SQLite catalog stays open a moment: the next stage takes it as it is, backgroundDone closes it', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-kept-'));
    try {
      const wal = path.join(outDir, 'dicom.db-wal');
      const db = await openCatalog({ outDir });
      await db('runs').insert({ run_id: 'r1', source: 's', loaded_at: 'now', instances: 1, validation_rows: 0, series_issues: 0 });
      await releaseCatalog(db, outDir);
      const again = await openCatalog({ outDir });
      expect(again).toBe(db); // the same connection, its log not folded in
      expect(fs.statSync(wal).size).toBeGreaterThan(0);
      expect(await again('runs').count({ n: '*' })).toEqual([{ n: 1 }]);
      // A transaction left open on a released catalog (a stage whose ROLLBACK failed) is not handed on.
      await again.raw('BEGIN');
      await again('runs').insert({ run_id: 'r2', source: 's', loaded_at: 'now', instances: 1, validation_rows: 0, series_issues: 0 });
      await releaseCatalog(again, outDir);
      expect(await openCatalog({ outDir })).toBe(db);
      expect(await again('runs').count({ n: '*' })).toEqual([{ n: 1 }]);
      // Another catalog of the same file released meanwhile closes at once; the kept one waits.
      const other = await openCatalog({ outDir });
      expect(other).not.toBe(db);
      await releaseCatalog(again, outDir);
      await releaseCatalog(other, outDir);
      const started = Date.now();
      await backgroundDone();
      expect(Date.now() - started).toBeLessThan(1500); // closed now, not after the delay
      expect(fs.existsSync(wal)).toBe(false);
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  test('a catalog made before 16 KB pages keeps its 4 KB pages and loads as before', async () => {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-pages-'));
    try {
      // An older catalog: made with SQLite's default page size (already in WAL mode, as every catalog is).
      const sqlite3 = await import('sqlite3');
      await new Promise<void>((resolve, reject) => {
        const old = new sqlite3.Database(path.join(outDir, 'dicom.db'), (err) => err && reject(err));
        old.exec('PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE before_upgrade (x);', (err) => old.close(() => (err ? reject(err) : resolve())));
      });
      const run = smallRun();
      await writeRun(outDir, run);
      const db = await openCatalog({ outDir });
      try {
        expect(await db.raw('PRAGMA page_size')).toEqual([{ page_size: 4096 }]);
        await loadCatalog(db, { outDir, runId: 'r1' });
        expect(await count(db, 'dicom_metadata')).toBe(run.instances.length);
      } finally {
        await db.destroy();
      }
    } finally {
      fs.rmSync(outDir, { recursive: true, force: true });
    }
  });

  test('statements stay under each dialect limit', () => {
    expect(rowsPerStatement(19, 'sqlite')).toBe(100); // the default: preparing bigger upserts costs more than their rows
    expect(rowsPerStatement(19, 'sqlite', 5000)).toBe(500); // SQLite compound SELECT limit
    expect(rowsPerStatement(19, 'postgres', 5000)).toBe(3449); // 65535 / 19
    expect(rowsPerStatement(200, 'sqlite', 5000)).toBe(163); // 32766 / 200
  });

  test('meta JSON: NULs dropped, lone surrogates replaced, escaped backslashes and real pairs kept', () => {
    expect(metaJson({ a: { vr: 'LO', Value: ['x\u0000\u0000y\u0000'] } })).toBe('{"a":{"vr":"LO","Value":["xy"]}}');
    expect(metaJson({ a: 'path\\u0000', b: '\\\u0000' })).toBe(JSON.stringify({ a: 'path\\u0000', b: '\\' }));
    expect(JSON.parse(metaJson({ a: 'bad \ud800 end', b: 'low \udfff', c: 'pair 😀 山田' })!)).toEqual({ a: 'bad \ufffd end', b: 'low \ufffd', c: 'pair 😀 山田' });
    expect(metaJson({ a: 'plain' })).toBe('{"a":"plain"}');
  });
});

describe.each<Dialect>(catalogDialects())('%s catalog', (dialect) => {
  const expectedTypes: Record<Dialect, Record<string, string>> = {
    sqlite: { sop_instance_uid: 'text', slice_thickness: 'float', pixel_spacing_row: 'float', instance_number: 'integer', rows: 'integer', file_size: 'bigint', meta: 'json', study_date: 'text' },
    postgres: { sop_instance_uid: 'text', slice_thickness: 'double precision', pixel_spacing_row: 'double precision', instance_number: 'integer', rows: 'integer', file_size: 'bigint', meta: 'jsonb', study_date: 'text' },
  };

  test('schema: contract columns, types, keys and indexes', async () => {
    const opts = await fresh(dialect);
    await withCatalog(opts, async (db) => {
      const types = await columnTypes(db, dialect, 'dicom_metadata');
      expect(Object.keys(types).sort()).toEqual([...DICOM_METADATA_COLUMNS].sort());
      for (const [col, type] of Object.entries(expectedTypes[dialect])) expect([col, types[col]]).toEqual([col, type]);
      expect(Object.keys(await columnTypes(db, dialect, 'validation_results'))).toEqual(
        expect.arrayContaining(['run_id', 'path', 'status', 'code', 'message']),
      );
      expect(Object.keys(await columnTypes(db, dialect, 'series_issues')).sort()).toEqual(['code', 'message', 'run_id', 'series_instance_uid']);
      expect(Object.keys(await columnTypes(db, dialect, 'series_summary')).sort()).toEqual(
        ['max_slice_thickness', 'min_slice_thickness', 'modality', 'patient_id', 'series_instance_uid', 'slice_count', 'study_instance_uid'],
      );
      expect(await indexNames(db, dialect, 'dicom_metadata')).toEqual(
        expect.arrayContaining(['dicom_metadata_study_cover_idx', 'dicom_metadata_series_idx', 'dicom_metadata_patient_idx']),
      );
      // primary key: a second row with the same SOP Instance UID is refused
      const row = { sop_instance_uid: 'x', study_instance_uid: 's', series_instance_uid: 'r', file_path: 'f', source_path: 'p', file_size: 1, run_id: 'r1' };
      await db('dicom_metadata').insert(row);
      // (not toThrow: better-sqlite3's SqliteError comes from another realm once jest reuses the worker)
      const duplicateKey = { message: expect.stringMatching(/UNIQUE constraint failed|duplicate key value/) };
      await expect(db('dicom_metadata').insert(row)).rejects.toMatchObject(duplicateKey);
      await expect(db('validation_results').insert([outcomeRowFor('r1', 'a'), outcomeRowFor('r1', 'a')])).rejects.toMatchObject(duplicateKey);
    });
  });

  test('workers opening a new catalog at the same moment all get it migrated', async () => {
    const opts = await fresh(dialect);
    const opened = await Promise.allSettled(Array.from({ length: 4 }, () => openCatalog(opts)));
    const dbs = opened.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    try {
      expect(opened.filter((o) => o.status === 'rejected')).toEqual([]);
      for (const db of dbs) expect(await count(db, 'dicom_metadata')).toBe(0);
      const [done] = await dbs[0].migrate.list({ migrationSource });
      expect(done).toHaveLength((await migrationSource.getMigrations([])).length); // every migration, once
    } finally {
      await Promise.all(dbs.map((db) => db.destroy()));
    }
  });

  test('values land as the contract says, meta queryable as JSON', async () => {
    const opts = await fresh(dialect);
    const run = smallRun();
    await writeRun(opts.outDir, run);
    await withCatalog(opts, async (db) => {
      const counts = await loadCatalog(db, { outDir: opts.outDir, runId: 'run-1', source: 'demo.zip' });
      expect(counts).toEqual({ instances: 6, validationRows: 8, seriesIssues: 1 });

      const ct3 = await db('dicom_metadata').where({ sop_instance_uid: `${SERIES_CT}.3` }).first();
      expect(ct3).toMatchObject({
        patient_id: 'LIDC-IDRI-0001',
        study_instance_uid: STUDY,
        series_instance_uid: SERIES_CT,
        slice_thickness: 2.5,
        pixel_spacing_row: 0.703125,
        pixel_spacing_col: 0.703125,
        study_date: '2000-01-01',
        acquisition_date: '2000-01-02',
        instance_number: 3,
        modality: 'CT',
        rows: 512,
        columns: 512,
        transfer_syntax_uid: '1.2.840.10008.1.2.1',
        file_path: `organized/LIDC-IDRI-0001/${STUDY}/${SERIES_CT}/${SERIES_CT}.3.dcm`,
        source_path: 'LIDC-IDRI/LIDC-IDRI-0001/study/ct/1-003.dcm',
        file_size: 525003,
        run_id: 'run-1',
      });
      const cr = await db('dicom_metadata').where({ sop_instance_uid: `${SERIES_CR}.1` }).first();
      expect(cr.acquisition_date).toBeNull();
      expect(cr.slice_thickness).toBeNull();

      const [pn] = await rawRows(db, dialect, PN_SQL[dialect], [`${SERIES_CT}.3`]);
      expect(pn).toEqual({ name: 'Yamada^Tarou', ideo: '山田^太郎' });
      // the queries of src/db/README.md (knex needs PostgreSQL's ? operator escaped)
      const readme: Record<Dialect, string> = {
        sqlite: `SELECT sop_instance_uid, json_extract(meta, '$."00080070".Value[0]') AS manufacturer FROM dicom_metadata WHERE json_extract(meta, '$."00180060"') IS NOT NULL ORDER BY sop_instance_uid`,
        postgres: `SELECT sop_instance_uid, meta->'00080070'->'Value'->>0 AS manufacturer FROM dicom_metadata WHERE meta \\? '00180060' ORDER BY sop_instance_uid`,
      };
      const withKvp = await rawRows(db, dialect, readme[dialect], []);
      expect(withKvp).toEqual([1, 2, 3, 4, 5].map((k) => ({ sop_instance_uid: `${SERIES_CT}.${k}`, manufacturer: 'SIEMENS' })));

      const invalid = await db('validation_results').where({ run_id: 'run-1', status: 'invalid' });
      expect(invalid).toEqual([
        expect.objectContaining({ path: 'LIDC-IDRI/file-7.dcm', code: 'TRUNCATED', message: 'problem TRUNCATED in entry 7', entry_index: 7 }),
      ]);
      expect(await db('series_issues').select('series_instance_uid', 'code', 'run_id')).toEqual([
        { series_instance_uid: SERIES_CT, code: 'MIXED_SLICE_THICKNESS', run_id: 'run-1' },
      ]);
      expect(await db('runs').first()).toMatchObject({ run_id: 'run-1', source: 'demo.zip', instances: 6, validation_rows: 8, series_issues: 1 });

      const summary = await db('series_summary').orderBy('series_instance_uid');
      expect(summary.map((s) => ({ ...s, slice_count: Number(s.slice_count) }))).toEqual([
        { series_instance_uid: SERIES_CT, study_instance_uid: STUDY, patient_id: 'LIDC-IDRI-0001', modality: 'CT', slice_count: 5, min_slice_thickness: 1.25, max_slice_thickness: 2.5 },
        { series_instance_uid: SERIES_CR, study_instance_uid: STUDY, patient_id: 'LIDC-IDRI-0001', modality: 'CR', slice_count: 1, min_slice_thickness: null, max_slice_thickness: null },
      ]);
    });
  });

  test('loading twice gives the same rows; a re-run updates values and drops findings that went away', async () => {
    const opts = await fresh(dialect);
    const run = smallRun();
    await writeRun(opts.outDir, run);
    const tables = ['dicom_metadata', 'validation_results', 'series_issues', 'runs'];
    await withCatalog(opts, async (db) => {
      await loadCatalog(db, { outDir: opts.outDir, runId: 'run-1' });
      const first = await Promise.all(tables.map((t) => count(db, t)));
      expect(first).toEqual([6, 8, 1, 1]);
      await loadCatalog(db, { outDir: opts.outDir, runId: 'run-1' });
      expect(await Promise.all(tables.map((t) => count(db, t)))).toEqual(first);

      run.instances[0].fields.modality = 'OT';
      run.issues = [];
      await writeRun(opts.outDir, run);
      await loadCatalog(db, { outDir: opts.outDir, runId: 'run-1' });
      expect(await Promise.all(tables.map((t) => count(db, t)))).toEqual([6, 8, 0, 1]);
      expect((await db('dicom_metadata').where({ sop_instance_uid: `${SERIES_CT}.1` }).first()).modality).toBe('OT');
    });
  });

  test('a load interrupted after a batch resumes from its cursor without duplicates', async () => {
    const opts = await fresh(dialect);
    const instances = Array.from({ length: 230 }, (_, k) => instance(k + 1));
    const outcomes = instances.map((_, i) => outcome(i));
    await writeRun(opts.outDir, { instances, outcomes, issues: [] });
    await withCatalog(opts, async (db) => {
      let saved: LoadCursor | undefined;
      const crash = new Error('worker died');
      await expect(
        loadCatalog(db, {
          outDir: opts.outDir,
          runId: 'run-1',
          batchSize: 100,
          rowsPerCommit: 100,
          onProgress: (c) => {
            saved = c;
            if (c.instances >= 200) throw crash;
          },
        }),
      ).rejects.toBe(crash);
      expect(saved).toEqual({ instances: 200, outcomes: 0, seriesIssues: 0 });
      // exactly what the cursor says was committed
      expect(await count(db, 'dicom_metadata')).toBe(200);

      const progress: LoadCursor[] = [];
      const counts = await loadCatalog(db, { outDir: opts.outDir, runId: 'run-1', batchSize: 100, rowsPerCommit: 100, cursor: saved, onProgress: (c) => void progress.push(c) });
      expect(counts).toEqual({ instances: 230, validationRows: 230, seriesIssues: 0 });
      // resumed: the first batch written was the remaining 30 instances, not the first 100 again
      expect(progress[0]).toEqual({ instances: 230, outcomes: 0, seriesIssues: 0 });
      expect(await count(db, 'dicom_metadata')).toBe(230);
      expect(await count(db, 'validation_results')).toBe(230);
    });
  });

  test('two runs loading into one catalog at the same moment each keep their own rows; the union is exact', async () => {
    const opts = await fresh(dialect);
    const SERIES_B = '1.2.840.1.1.9';
    const runs = [
      { runId: 'run-a', runKey: 'run-a', instances: Array.from({ length: 4000 }, (_, k) => instance(k + 1)) },
      { runId: 'run-b', runKey: 'run-b', instances: Array.from({ length: 4000 }, (_, k) => instance(k + 1, SERIES_B)) },
    ];
    for (const r of runs) {
      const outcomes = r.instances.map((_, i) => ({ ...outcome(i), path: `${r.runId}/file-${i}.dcm` }));
      const issues = [{ seriesInstanceUid: r.instances[0].fields.seriesInstanceUid, code: 'INSTANCE_NUMBER_GAP', message: `gap in ${r.runId}` }];
      await writeRun(opts.outDir, { instances: r.instances, outcomes, issues }, r.runKey);
    }
    // Another writer holds the catalog's write lock when both loads start (SQLite's write lock, or the loads'
    // PostgreSQL advisory lock), for a while: both wait, say so, and load nothing until it lets go.
    const holder = await openCatalog(opts);
    let letGo!: () => void;
    const released = new Promise<void>((resolve) => (letGo = resolve));
    let locked!: () => void;
    const lockTaken = new Promise<void>((resolve) => (locked = resolve));
    const holding = holder
      .transaction(async (trx) => {
        if (dialect === 'sqlite') await trx('runs').insert({ run_id: 'holder', loaded_at: 'now', instances: 0, validation_rows: 0, series_issues: 0 });
        else await trx.raw('SELECT pg_advisory_xact_lock(?)', [PG_LOAD_LOCK]);
        locked();
        await released;
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await lockTaken;
    // Two workers, each with its own connections, loading in many small transactions so they interleave.
    const waits: string[] = [];
    const loading = Promise.all(
      runs.map((r) =>
        withCatalog(opts, (db) =>
          loadCatalog(db, { outDir: opts.outDir, runKey: r.runKey, runId: r.runId, source: `${r.runId}.zip`, batchSize: 100, rowsPerCommit: 200, onWait: (w) => void waits.push(w) }),
        ),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 2500));
    try {
      expect(waits.length).toBeGreaterThan(0); // they wait, and say so
      expect(new Set(waits)).toEqual(new Set([WAITING_FOR_LOCK]));
      expect(await withCatalog(opts, (db) => count(db, 'dicom_metadata'))).toBe(0); // read beside the lock (WAL): nothing loaded meanwhile
    } finally {
      letGo();
      await holding;
      await holder.destroy();
    }
    const counts = await loading;
    expect(counts).toEqual([
      { instances: 4000, validationRows: 4000, seriesIssues: 1 },
      { instances: 4000, validationRows: 4000, seriesIssues: 1 },
    ]);
    await withCatalog(opts, async (db) => {
      expect(await count(db, 'dicom_metadata')).toBe(8000);
      for (const r of runs) {
        const series = r.instances[0].fields.seriesInstanceUid;
        const own = await db('dicom_metadata').where({ run_id: r.runId }).select('sop_instance_uid').orderBy('sop_instance_uid');
        expect(own.map((row) => row.sop_instance_uid)).toEqual(r.instances.map((i) => i.fields.sopInstanceUid).sort());
        expect(own.every((row) => row.sop_instance_uid.startsWith(`${series}.`))).toBe(true);
        const validation = await db('validation_results').where({ run_id: r.runId }).select('path');
        expect(validation).toHaveLength(4000);
        expect(validation.every((row) => row.path.startsWith(`${r.runId}/`))).toBe(true);
        expect(await db('series_issues').where({ run_id: r.runId }).select('message')).toEqual([{ message: `gap in ${r.runId}` }]);
        expect(await db('runs').where({ run_id: r.runId }).first()).toMatchObject({ source: `${r.runId}.zip`, instances: 4000, validation_rows: 4000, series_issues: 1 });
      }
    });
  });

  test('a statement the database refuses fails the load with its error and rolls back its transaction', async () => {
    const opts = await fresh(dialect);
    const instances = Array.from({ length: 1500 }, (_, k) => instance(k + 1));
    (instances[299].fields as { studyInstanceUid: string | null }).studyInstanceUid = null; // NOT NULL column
    await writeRun(opts.outDir, { instances, outcomes: [], issues: [] });
    await withCatalog(opts, async (db) => {
      await expect(loadCatalog(db, { outDir: opts.outDir, runId: 'r' })).rejects.toMatchObject({
        message: expect.stringMatching(/NOT NULL constraint failed|not-null constraint/),
      });
      // the 1500 rows are one transaction: nothing of it stays
      expect(await count(db, 'dicom_metadata')).toBe(0);
    });
  });

  test('a path listed twice (zip entries may repeat) keeps its last outcome, in one batch or across batches', async () => {
    const opts = await fresh(dialect);
    const outcomes = [outcome(0), outcome(1), { ...outcome(2, 'invalid', 'NOT_DICOM'), path: outcome(0).path }, outcome(3)];
    await writeRun(opts.outDir, { instances: [], outcomes, issues: [] });
    await withCatalog(opts, async (db) => {
      for (const batchSize of [500, 1]) {
        await loadCatalog(db, { outDir: opts.outDir, runId: `run-${batchSize}`, batchSize });
        const rows = await db('validation_results').where({ run_id: `run-${batchSize}` }).orderBy('entry_index');
        expect(rows.map((r) => [r.path, r.code])).toEqual([
          [outcome(1).path, 'OK'],
          [outcome(0).path, 'NOT_DICOM'],
          [outcome(3).path, 'OK'],
        ]);
      }
    });
  });

  test('text with NUL characters, lone surrogates and odd numbers still loads', async () => {
    const opts = await fresh(dialect);
    const odd = instance(1, SERIES_CT, { patientId: 'P\u00001', instanceNumber: 1.5, sliceThickness: Number.NaN });
    odd.meta['00081030'] = { vr: 'LO', Value: ['Chest\u0000'] };
    odd.meta['00081090'] = { vr: 'LO', Value: ['broken \udc00 text'] };
    await writeRun(opts.outDir, { instances: [odd], outcomes: [], issues: [] });
    await withCatalog(opts, async (db) => {
      await loadCatalog(db, { outDir: opts.outDir, runId: 'r' });
      const row = await db('dicom_metadata').first();
      expect(row).toMatchObject({ patient_id: 'P1', instance_number: null, slice_thickness: null });
      const meta = typeof row.meta === 'string' ? JSON.parse(row.meta) : row.meta;
      expect(meta['00081030']).toEqual({ vr: 'LO', Value: ['Chest'] });
      expect(meta['00081090']).toEqual({ vr: 'LO', Value: ['broken \ufffd text'] });
    });
  });
});

function outcomeRowFor(runId: string, p: string) {
  return { run_id: runId, path: p, status: 'valid', code: 'OK', message: 'valid' };
}
