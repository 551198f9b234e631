/** `db check` on real catalogs: passes on a good one, fails loudly when the schema loses a contract column. */
import * as path from 'path';
import type { Knex } from 'knex';
import { dbCheck } from '../../src/db/check';
import * as fs from 'fs';
import { connectCatalog, describeDb, openCatalog } from '../../src/db/catalog';
import { showInstance } from '../../src/cli/show-command';
import { loadCatalog } from '../../src/db/load';
import { smallRun, tempDir, writeRun, catalogFactory } from './fixtures';
import { catalogDialects } from '../helpers/tools';

type Dialect = 'sqlite' | 'postgres';
const catalogs = catalogFactory();
const fresh = catalogs.fresh;
afterAll(() => catalogs.cleanup());

/** A catalog holding smallRun(): 6 instances of 1 patient, 1 study, 2 series. */
async function loaded(dialect: Dialect, change?: (db: Knex) => Promise<void>) {
  const opts = await fresh(dialect);
  await writeRun(opts.outDir, smallRun());
  const db = await openCatalog(opts);
  try {
    await loadCatalog(db, { outDir: opts.outDir, runId: 'run-1' });
    await change?.(db);
  } finally {
    await db.destroy();
  }
  return opts;
}

/** The count printed after `label` in the check's text. */
function valueAfter(text: string, label: string): string | undefined {
  const line = text.split('\n').find((l) => l.trimStart().startsWith(label));
  return line?.slice(line.indexOf(label) + label.length).trim();
}

describe.each<Dialect>(catalogDialects())('db check on %s', (dialect) => {
  test('a good catalog passes, with counts and null counts', async () => {
    const opts = await loaded(dialect);
    const { ok, text } = await dbCheck(opts);
    expect(ok).toBe(true);
    expect(text).toContain('Schema: OK');
    expect(text).toMatch(/DB CHECK OK$/);
    expect(valueAfter(text, 'Records in dicom_metadata:')).toBe('6');
    expect(valueAfter(text, 'Distinct patients:')).toBe('1');
    expect(valueAfter(text, 'Distinct studies:')).toBe('1');
    expect(valueAfter(text, 'Distinct series:')).toBe('2');
    // the CR image has no slice thickness and no acquisition date
    expect(valueAfter(text, 'slice_thickness')).toBe('1');
    expect(valueAfter(text, 'acquisition_date')).toBe('1');
    expect(valueAfter(text, 'sop_instance_uid')).toBe('0');
    expect(valueAfter(text, 'Validation results:')).toBe('duplicate 1, invalid 1, valid 6');
    expect(valueAfter(text, 'Series issues:')).toBe('1');
  });

  test('fails loudly, naming the columns, after columns are dropped', async () => {
    const opts = await loaded(dialect, async (db) => {
      // plain DROP COLUMN: knex's SQLite emulation rebuilds the table, which the view forbids
      await db.raw('ALTER TABLE dicom_metadata DROP COLUMN transfer_syntax_uid');
      await db.raw('ALTER TABLE dicom_metadata DROP COLUMN acquisition_date');
    });
    const { ok, text } = await dbCheck(opts);
    expect(ok).toBe(false);
    expect(text).toContain('SCHEMA CHECK FAILED: dicom_metadata is missing required column(s): acquisition_date, transfer_syntax_uid');
    expect(text).toMatch(/DB CHECK FAILED: the catalog does not match the contract/);
    // the checks that can still run still report
    expect(valueAfter(text, 'Records in dicom_metadata:')).toBe('6');
  });

  test('fails when a table or the summary view is gone', async () => {
    const opts = await loaded(dialect, async (db) => {
      await db.raw('DROP VIEW series_summary');
      await db.schema.dropTable('series_issues');
    });
    const { ok, text } = await dbCheck(opts);
    expect(ok).toBe(false);
    expect(text).toContain('SCHEMA CHECK FAILED: table series_issues is missing');
    expect(text).toContain('SCHEMA CHECK FAILED: table series_summary is missing');
  });
});

test('no catalog at all is a clear failure, and nothing is created', async () => {
  const outDir = path.join(tempDir(), 'never-ingested');
  const { ok, text } = await dbCheck({ outDir });
  expect(ok).toBe(false);
  expect(text).toContain(`no catalog at ${path.join(outDir, 'dicom.db')}`);
  expect(require('fs').existsSync(outDir)).toBe(false);
});

describe.each<Dialect>(catalogDialects())('no catalog on %s', (dialect) => {
  test('db check and show say there is no catalog and create none', async () => {
    const opts = await fresh(dialect); // an empty folder, or an empty PostgreSQL database
    const { ok, text } = await dbCheck(opts);
    expect(ok).toBe(false);
    expect(text).not.toContain('DB CHECK OK');
    expect(text).not.toContain('SCHEMA CHECK');
    const where = dialect === 'sqlite' ? path.join(opts.outDir, 'dicom.db') : describeDb(opts);
    expect(text.split('\n').pop()!.startsWith(`DB CHECK FAILED: no catalog at ${where}`)).toBe(true);
    if (dialect === 'postgres') expect(text).toContain(": the database has none of dicomflow's tables");

    const stderr: string[] = [];
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      stderr.push(String(chunk));
      return true;
    });
    try {
      expect(await showInstance('1.2.3', opts)).toBe(1);
    } finally {
      jest.restoreAllMocks();
    }
    expect(stderr.join('')).toMatch(/^dicomflow: no catalog at /);
    // nothing was created: no SQLite file, no table in the PostgreSQL database
    if (dialect === 'sqlite') expect(fs.existsSync(opts.outDir) ? fs.readdirSync(opts.outDir) : []).toEqual([]);
    else {
      const db = connectCatalog(opts);
      try {
        expect(await db.schema.hasTable('dicom_metadata')).toBe(false);
        expect(await db.schema.hasTable('knex_migrations')).toBe(false);
      } finally {
        await db.destroy();
      }
    }
  });
});

test('an unreachable PostgreSQL is a failure, not a crash', async () => {
  const { ok, text } = await dbCheck({ dbUrl: 'postgres://nobody:secret@127.0.0.1:1/none' });
  expect(ok).toBe(false);
  expect(text).toContain('PostgreSQL postgres://nobody:***@127.0.0.1:1/none');
  expect(text).toMatch(/DB CHECK FAILED: .*ECONNREFUSED/);
});
