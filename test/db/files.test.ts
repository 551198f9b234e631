/**
 * The file catalog on real SQLite and real PostgreSQL, without Temporal: the scan of a folder against `files` (new,
 * changed, unchanged, gone; the hash settling a same-size file with a new mtime), what a run records there, the
 * README's SQL on both dialects, and --prune removing a gone file's instance from the catalog and the tree.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Knex } from 'knex';
import { openCatalog } from '../../src/db/catalog';
import { extensionOf, knownFiles, pathTags, recordFiles } from '../../src/db/files';
import { knownFile, scanFolder, type ScanCounts } from '../../src/incremental/scan';
import { readAllJsonLines, writeJsonLines } from '../../src/io/jsonl';
import { workspace } from '../../src/workspace';
import type { EntryRecord, OutcomeRecord } from '../../src/records';
import { catalogDialects } from '../helpers/tools';
import { catalogFactory, tempDir, type Dialect } from './fixtures';

const catalogs = catalogFactory();
afterAll(() => catalogs.cleanup());

test('extension and path tags of a path', () => {
  expect(extensionOf('LIDC-IDRI/LIDC-IDRI-0001/1.2/3-001.DCM')).toBe('dcm');
  expect(extensionOf('a/b/noext')).toBe('');
  expect(extensionOf('a/.hidden')).toBe('');
  expect(pathTags('LIDC-IDRI/LIDC-IDRI-0001/1.2/3-001.dcm')).toEqual(['LIDC-IDRI', 'LIDC-IDRI-0001', '1.2']);
  expect(pathTags('top.dcm')).toEqual([]);
});

/** One run of a folder: scan, every manifest entry 'valid' as its outcome, a runs row, then the file catalog. */
async function runOnce(db: Knex, outDir: string, folder: string, runId: string, prune = false): Promise<{ counts: ScanCounts; processed: string[] }> {
  const counts = await scanFolder({ source: folder, outDir, runKey: runId, known: await knownFiles(db, folder) });
  const ws = workspace(outDir, runId);
  const entries = await readAllJsonLines<EntryRecord>(ws.entriesManifest);
  await writeJsonLines(ws.outcomes, entries.map((e): OutcomeRecord => ({ i: e.i, path: e.source, status: 'valid', code: 'OK', message: 'valid' })));
  await db('runs').insert({ run_id: runId, source: folder, loaded_at: new Date().toISOString(), instances: 0, validation_rows: entries.length, series_issues: 0 });
  await recordFiles(db, { outDir, runKey: runId, runId, source: folder, changes: counts, prune });
  return { counts, processed: entries.map((e) => e.source) };
}

describe.each<Dialect>(catalogDialects())('%s catalog', (dialect) => {
  test('the catalog is read a page at a time: every row of the source once, across page ends, in any collation', async () => {
    const opts = await catalogs.fresh(dialect);
    const db = await openCatalog(opts);
    try {
      const now = new Date().toISOString();
      const row = (source: string, p: string, k: number) => ({ source, path: p, size: k, mtime_ms: 1000 + k, sha256: null, extension: 'dcm', path_tags: '[]', status: 'valid', code: 'OK', first_run_id: 'r1', last_run_id: 'r1', first_seen_at: now, last_seen_at: now, gone_run_id: k === 3 ? 'r1' : null });
      const paths = ['B/1.dcm', 'a/1.dcm', 'a/10.dcm', 'a/2.dcm', '\u00e9/1.dcm', 'Z.dcm', 'a b/1.dcm'];
      await db('files').insert([...paths.map((p, k) => row('/src/one', p, k)), row('/src/other', 'a/1.dcm', 99)]);
      for (const pageRows of [3, 7, 1000]) {
        const known = await knownFiles(db, '/src/one', pageRows);
        // In byte order of the UTF-8 paths whatever the database's collation: the order of the folder's listing.
        expect(known.paths).toEqual(['B/1.dcm', 'Z.dcm', 'a b/1.dcm', 'a/1.dcm', 'a/10.dcm', 'a/2.dcm', '\u00e9/1.dcm']);
        expect(knownFile(known, known.paths.indexOf('a/10.dcm'))).toMatchObject({ size: 2, mtimeMs: 1002, sha256: null, gone: false });
        expect(knownFile(known, known.paths.indexOf('a/2.dcm'))).toMatchObject({ gone: true });
      }
    } finally {
      await db.destroy();
    }
  });

  test('a folder scanned three times: new, changed, unchanged and gone files, exactly; --prune', async () => {
    const opts = await catalogs.fresh(dialect);
    const folder = tempDir('dicomflow-files-src-');
    const write = (p: string, text: string) => {
      fs.mkdirSync(path.dirname(path.join(folder, p)), { recursive: true });
      fs.writeFileSync(path.join(folder, p), text);
    };
    write('P1/s1/a.dcm', 'aaaa');
    write('P1/s1/b.dcm', 'bbbb');
    write('P2/c.dcm', 'cccc');
    write('P2/same.dcm', 'ssss');
    const db = await openCatalog(opts);
    try {
      const r1 = await runOnce(db, opts.outDir, folder, 'r1');
      expect(r1.counts).toEqual({ new: 4, changed: 0, unchanged: 0, gone: 0 });
      expect(r1.processed).toEqual(['P1/s1/a.dcm', 'P1/s1/b.dcm', 'P2/c.dcm', 'P2/same.dcm']);

      // b grows, same.dcm is rewritten with the same size and other bytes (and a time that cannot tell), c goes, d
      // arrives; a is touched: same bytes, a new mtime (the hash says unchanged).
      write('P1/s1/b.dcm', 'bbbbbb');
      const sameStat = fs.statSync(path.join(folder, 'P2/same.dcm'));
      write('P2/same.dcm', 'SSSS');
      fs.utimesSync(path.join(folder, 'P2/same.dcm'), sameStat.atime, sameStat.mtime);
      fs.rmSync(path.join(folder, 'P2/c.dcm'));
      write('P3/x/d.dcm', 'dddd');
      const later = new Date(Date.now() + 60_000);
      fs.utimesSync(path.join(folder, 'P1/s1/a.dcm'), later, later);
      const r2 = await runOnce(db, opts.outDir, folder, 'r2');
      // same.dcm: written within 2 s of r1's look with its old mtime back, so only its hash can tell, and does.
      expect(r2.counts).toEqual({ new: 1, changed: 2, unchanged: 1, gone: 1 });
      expect(r2.processed).toEqual(['P1/s1/b.dcm', 'P2/same.dcm', 'P3/x/d.dcm']);

      const rows = await db('files').where({ source: folder }).orderBy('path').select();
      const byPath = Object.fromEntries(rows.map((r) => [r.path, r]));
      expect(rows.map((r) => r.path)).toEqual(['P1/s1/a.dcm', 'P1/s1/b.dcm', 'P2/c.dcm', 'P2/same.dcm', 'P3/x/d.dcm']);
      expect(byPath['P1/s1/a.dcm']).toMatchObject({ first_run_id: 'r1', last_run_id: 'r2', gone_run_id: null, mtime_ms: Math.trunc(fs.statSync(path.join(folder, 'P1/s1/a.dcm')).mtimeMs) });
      expect(byPath['P1/s1/b.dcm']).toMatchObject({ first_run_id: 'r1', last_run_id: 'r2', size: 6, status: 'valid', code: 'OK', extension: 'dcm' });
      expect(byPath['P2/c.dcm']).toMatchObject({ first_run_id: 'r1', last_run_id: 'r1', gone_run_id: 'r2' });
      expect(byPath['P3/x/d.dcm']).toMatchObject({ first_run_id: 'r2', last_run_id: 'r2' });
      const tags = typeof byPath['P3/x/d.dcm'].path_tags === 'string' ? JSON.parse(byPath['P3/x/d.dcm'].path_tags) : byPath['P3/x/d.dcm'].path_tags;
      expect(tags).toEqual(['P3', 'x']);
      expect(byPath['P2/same.dcm'].sha256).toBe(require('crypto').createHash('sha256').update('SSSS').digest('hex'));
      expect(await db('runs').where({ run_id: 'r2' }).first()).toMatchObject({ new_files: 1, changed_files: 2, unchanged_files: 1, gone_files: 1 });

      // The README's path-tag query, on each dialect.
      const byTag =
        dialect === 'sqlite'
          ? await db.raw(`SELECT path FROM files WHERE EXISTS (SELECT 1 FROM json_each(files.path_tags) WHERE value = 'P1') ORDER BY path`)
          : (await db.raw(`SELECT path FROM files WHERE path_tags @> '["P1"]' ORDER BY path`)).rows;
      expect(byTag.map((r: { path: string }) => r.path)).toEqual(['P1/s1/a.dcm', 'P1/s1/b.dcm']);

      // Nothing changed: nothing processed. With --prune, the instance c brought leaves the catalog and the tree.
      const tree = path.join(opts.outDir, 'organized', 'P2', 'c.dcm');
      fs.mkdirSync(path.dirname(tree), { recursive: true });
      fs.writeFileSync(tree, 'cccc');
      const meta = { patient_id: 'P2', study_instance_uid: '1.2', series_instance_uid: '1.2.3', file_path: 'organized/P2/c.dcm', file_size: 4, meta: null };
      await db('dicom_metadata').insert([
        { ...meta, sop_instance_uid: '9.1', source_path: 'P2/c.dcm', run_id: 'r1' },
        // The same path in another source: not this folder's, never pruned.
        { ...meta, sop_instance_uid: '9.2', source_path: 'P2/c.dcm', run_id: 'other', file_path: 'organized/P2/other.dcm' },
      ]);
      const r3 = await runOnce(db, opts.outDir, folder, 'r3', true);
      expect(r3.counts).toEqual({ new: 0, changed: 0, unchanged: 4, gone: 0 });
      expect(r3.processed).toEqual([]);
      expect((await db('dicom_metadata').select('sop_instance_uid')).map((r) => r.sop_instance_uid)).toEqual(['9.2']);
      expect(fs.existsSync(tree)).toBe(false);
    } finally {
      await db.destroy();
    }
  });
});
