/** Stage outputs (instances, outcomes, series issues) written as organize would, and fresh catalogs per dialect. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import knexFactory from 'knex';
import { writeJsonLines } from '../../src/io/jsonl';
import type { InstanceFields, InstanceRecord, OutcomeRecord, SeriesIssueRecord } from '../../src/records';
import { workspace } from '../../src/workspace';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

export const STUDY = '1.2.840.1.1';
export const SERIES_CT = '1.2.840.1.1.2';
export const SERIES_CR = '1.2.840.1.1.3';

/** Slice k of a CT series (thickness 2.5, except where overridden), or the single CR image when series is SERIES_CR. */
export function instance(k: number, series = SERIES_CT, over: Partial<InstanceFields> = {}): InstanceRecord {
  const isCt = series === SERIES_CT;
  const sop = `${series}.${k}`;
  const fields: InstanceFields = {
    patientId: 'LIDC-IDRI-0001',
    studyInstanceUid: STUDY,
    seriesInstanceUid: series,
    sopInstanceUid: sop,
    sliceThickness: isCt ? 2.5 : null,
    pixelSpacingRow: 0.703125,
    pixelSpacingCol: 0.703125,
    studyDate: '2000-01-01',
    acquisitionDate: isCt ? '2000-01-02' : null,
    instanceNumber: k,
    modality: isCt ? 'CT' : 'CR',
    rows: 512,
    columns: isCt ? 512 : 400,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    fileSize: 525000 + k,
    imagePositionPatient: isCt ? [-180, -180, -100 + 2.5 * k] : null,
    imageOrientationPatient: isCt ? [1, 0, 0, 0, 1, 0] : null,
    ...over,
  };
  return {
    i: k,
    source: `LIDC-IDRI/LIDC-IDRI-0001/study/${isCt ? 'ct' : 'cr'}/1-${String(k).padStart(3, '0')}.dcm`,
    organizedPath: `organized/${fields.patientId}/${fields.studyInstanceUid}/${series}/${sop}.dcm`,
    fields,
    meta: {
      '00080018': { vr: 'UI', Value: [sop] },
      '00080060': { vr: 'CS', Value: [fields.modality] },
      '00080070': { vr: 'LO', Value: ['SIEMENS'] },
      ...(isCt ? { '00180060': { vr: 'DS', Value: [120] } } : {}),
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Yamada^Tarou', Ideographic: '山田^太郎' }] },
      '00100020': { vr: 'LO', Value: [fields.patientId] },
      '00180050': { vr: 'DS', Value: fields.sliceThickness === null ? undefined : [fields.sliceThickness] },
      '00200013': { vr: 'IS', Value: [k] },
    },
  };
}

export function outcome(i: number, status: OutcomeRecord['status'] = 'valid', code = 'OK'): OutcomeRecord {
  return { i, path: `LIDC-IDRI/file-${i}.dcm`, status, code, message: code === 'OK' ? 'valid' : `problem ${code} in entry ${i}` };
}

export interface RunFiles {
  instances: InstanceRecord[];
  outcomes: OutcomeRecord[];
  issues: SeriesIssueRecord[];
}

/** The stage files of a run: in DIR/work (the shared layout), or in the run's own folder DIR/work/runs/<runKey>. */
export async function writeRun(outDir: string, run: RunFiles, runKey?: string): Promise<void> {
  const ws = workspace(outDir, runKey);
  await writeJsonLines(ws.instances, run.instances);
  await writeJsonLines(ws.outcomes, run.outcomes);
  await writeJsonLines(ws.seriesIssues, run.issues);
}

/** A small run: 5 CT slices, 1 CR image, 8 outcomes (6 valid, a duplicate, an invalid), 1 series issue. */
export function smallRun(): RunFiles {
  const instances = [1, 2, 3, 4, 5].map((k) => instance(k)).concat([instance(1, SERIES_CR)]);
  instances[4].fields.sliceThickness = 1.25; // min/max thickness differ in the summary
  const outcomes = instances.map((_, i) => outcome(i));
  outcomes.push(outcome(6, 'duplicate', 'DUPLICATE_INSTANCE'), outcome(7, 'invalid', 'TRUNCATED'));
  const issues = [{ seriesInstanceUid: SERIES_CT, code: 'MIXED_SLICE_THICKNESS', message: 'SliceThickness values 2.5 (4), 1.25 (1)' }];
  return { instances, outcomes, issues };
}

const tempDirs: string[] = [];

/** A new temp dir, removed by removeTempDirs() (call it in afterAll). */
export function tempDir(prefix = 'dicomflow-db-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
}

let databases = 0;

/** A fresh empty database on the given PostgreSQL server (one per test, so tests do not share rows). */
export async function freshPgDatabase(serverUrl: string): Promise<string> {
  const name = `t${process.pid}_${++databases}`;
  const admin = knexFactory({ client: 'pg', connection: serverUrl });
  try {
    await admin.raw(`CREATE DATABASE ${name}`);
  } finally {
    await admin.destroy();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export type Dialect = 'sqlite' | 'postgres';

/**
 * Fresh catalogs for a test file: `fresh(dialect)` gives a new output folder and, for PostgreSQL, a new empty
 * database on one server started on first use. Call `cleanup()` in afterAll.
 */
export function catalogFactory(): { fresh(dialect: Dialect): Promise<{ outDir: string; dbUrl?: string }>; cleanup(): Promise<void> } {
  let server: Promise<TestPostgres> | undefined;
  return {
    async fresh(dialect) {
      const outDir = tempDir();
      if (dialect === 'sqlite') return { outDir };
      server ??= startPostgres();
      return { outDir, dbUrl: await freshPgDatabase((await server).url) };
    },
    async cleanup() {
      removeTempDirs();
      if (server) await (await server).stop();
    },
  };
}
