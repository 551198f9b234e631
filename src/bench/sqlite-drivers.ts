/**
 * Which SQLite driver the catalog uses under knex: loads the same dicom_metadata-like rows through knex and the
 * real load path (src/db/load.ts) with sqlite3 and better-sqlite3 and prints rows/s and the ratio.
 *
 *   npm run build && node dist/bench/sqlite-drivers.js [rows]
 *
 * The stack's default is sqlite3; better-sqlite3 was allowed only if measured faster. Measured here (2 cores,
 * 50,000 rows with ~3 KB headers): better-sqlite3 8469 rows/s, sqlite3 8649 rows/s (0.98x; 0.86x-1.07x over
 * later runs). The driver is not the bottleneck: parsing the input lines, serializing `meta` and SQLite's own
 * work dominate. So the catalog uses sqlite3 (which also keeps the event loop free); better-sqlite3 is a dev
 * dependency, kept for this comparison and the benchmark's notebook-style baseline.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import knexFactory, { type Knex } from 'knex';
import { writeJsonLines } from '../io/jsonl';
import { loadCatalog } from '../db/load';
import { migrationSource } from '../db/migrations';
import type { InstanceRecord } from '../records';
import { workspace } from '../workspace';

type Driver = 'better-sqlite3' | 'sqlite3';

/** A CT slice record with a header of realistic size (~60 elements). */
function record(k: number): InstanceRecord {
  const series = `1.3.6.1.4.1.14519.5.2.1.6279.6001.${100000 + Math.floor(k / 200)}`;
  const sop = `${series}.${k}`;
  const meta: InstanceRecord['meta'] = {
    '00080018': { vr: 'UI', Value: [sop] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: `PATIENT^${Math.floor(k / 1000)}` }] },
  };
  for (let e = 0; e < 60; e++) meta[`0019${(0x1000 + e).toString(16).toUpperCase()}`] = { vr: 'LO', Value: [`value ${e} of slice ${k}`] };
  return {
    i: k,
    source: `LIDC-IDRI/LIDC-IDRI-${k}/study/series/1-${k}.dcm`,
    organizedPath: `organized/P/${series}/${sop}.dcm`,
    fields: {
      patientId: `LIDC-IDRI-${String(Math.floor(k / 1000)).padStart(4, '0')}`,
      studyInstanceUid: `1.3.6.1.4.1.14519.5.2.1.6279.6001.${Math.floor(k / 1000)}`,
      seriesInstanceUid: series,
      sopInstanceUid: sop,
      sliceThickness: 2.5,
      pixelSpacingRow: 0.703125,
      pixelSpacingCol: 0.703125,
      studyDate: '2000-01-01',
      acquisitionDate: '2000-01-01',
      instanceNumber: k % 200,
      modality: 'CT',
      rows: 512,
      columns: 512,
      transferSyntaxUid: '1.2.840.10008.1.2',
      fileSize: 525000,
      imagePositionPatient: [-180, -180, k * 2.5],
      imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    },
    meta,
  };
}

function open(driver: Driver, file: string): Knex {
  return knexFactory({
    client: driver,
    connection: { filename: file },
    useNullAsDefault: true,
    pool: {
      // The same pragmas as the catalog (src/db/catalog.ts), through each driver's own API.
      afterCreate(conn: any, done: (err: Error | null, conn: unknown) => void) { // eslint-disable-line @typescript-eslint/no-explicit-any
        if (driver === 'better-sqlite3') {
          conn.pragma('journal_mode = WAL');
          conn.pragma('synchronous = NORMAL');
          done(null, conn);
        } else {
          conn.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;', (err: Error | null) => done(err, conn));
        }
      },
    },
  });
}

async function measure(driver: Driver, outDir: string, rows: number): Promise<number> {
  const file = path.join(outDir, `${driver}-${Date.now()}.db`);
  const db = open(driver, file);
  try {
    await db.migrate.latest({ migrationSource });
    const started = process.hrtime.bigint();
    await loadCatalog(db, { outDir, runId: 'bench' });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return rows / seconds;
  } finally {
    await db.destroy();
    for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
  }
}

/** Loadable, native binding included (a package present without its built binding does not count). */
function installed(name: string): boolean {
  try {
    require(name);
    return true;
  } catch {
    return false;
  }
}

export interface SqliteDriverRates {
  rows: number;
  /** rows/s of each driver that is installed (best of two rounds) */
  rowsPerSecond: Partial<Record<Driver, number>>;
}

/** Loads `rows` records with each installed driver. */
export async function measureSqliteDrivers(rows = 50000): Promise<SqliteDriverRates> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-bench-sqlite-'));
  try {
    const ws = workspace(outDir);
    await writeJsonLines(ws.instances, (function* () {
      for (let k = 1; k <= rows; k++) yield record(k);
    })());
    await writeJsonLines(ws.outcomes, []);
    await writeJsonLines(ws.seriesIssues, []);

    const drivers = (['sqlite3', 'better-sqlite3'] as Driver[]).filter(installed);
    const best: Partial<Record<Driver, number>> = {};
    // Two rounds, alternating, best of each: the first round also warms the file cache.
    for (let round = 0; round < 2; round++) {
      for (const driver of drivers) best[driver] = Math.max(best[driver] ?? 0, await measure(driver, outDir, rows));
    }
    return { rows, rowsPerSecond: best };
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

export async function benchSqliteDrivers(rows = 50000): Promise<string> {
  const { rowsPerSecond: best } = await measureSqliteDrivers(rows);
  const lines = [`SQLite load of ${rows} dicom_metadata rows through knex (500-row upserts, WAL, synchronous=NORMAL):`];
  for (const driver of ['better-sqlite3', 'sqlite3'] as const) if (best[driver]) lines.push(`  ${driver.padEnd(15)} ${Math.round(best[driver]!)} rows/s`);
  if (best.sqlite3) lines.push(`  better-sqlite3 / sqlite3 = ${(best['better-sqlite3']! / best.sqlite3).toFixed(2)}x`);
  else lines.push('  sqlite3 not installed: `npm install --no-save sqlite3` to compare');
  return lines.join('\n');
}

if (require.main === module) {
  const rows = Number(process.argv[2] ?? 50000);
  benchSqliteDrivers(rows).then(
    (text) => console.log(text),
    (err) => {
      console.error(err);
      process.exitCode = 1;
    },
  );
}
