/**
 * The naive baseline dicomflow is measured against: the seed notebook's pipeline
 * (/work/shared/seeds/qure-lidc-pipeline-README.txt) written plainly in Node, one step after the other:
 * unzip every entry to disk, read each whole file and parse it, copy it into Patient/Study/Series
 * folders, insert the rows one by one into SQLite. No durability, no de-duplication, no reports.
 */
import Database from 'better-sqlite3';
import * as fs from 'fs';
import * as path from 'path';
import { pipeline } from 'stream/promises';
import * as yauzl from 'yauzl';
import { readDicomBytes } from '../dicom/read';
import { organizedPath } from '../organize/tree';

export interface NaiveResult {
  entries: number;
  valid: number;
  rows: number;
  /** ms spent unzipping, and in the rest (read, parse, copy, insert) */
  unzipMs: number;
  restMs: number;
}

/** Unzips every file entry of `zipPath` under `dir`, one after the other; returns the files written. */
async function unzipAll(zipPath: string, dir: string): Promise<string[]> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(zipPath, { lazyEntries: true }, (err, z) => (err ? reject(err) : resolve(z))),
  );
  const files: string[] = [];
  try {
    for (;;) {
      const entry = await new Promise<yauzl.Entry | null>((resolve, reject) => {
        zip.once('entry', resolve);
        zip.once('end', () => resolve(null));
        zip.once('error', reject);
        zip.readEntry();
      });
      zip.removeAllListeners('entry').removeAllListeners('end').removeAllListeners('error');
      if (!entry) return files;
      if (entry.fileName.endsWith('/')) continue;
      const file = path.join(dir, entry.fileName);
      if (!file.startsWith(dir + path.sep)) continue; // yauzl already refuses '..'; belt and braces
      fs.mkdirSync(path.dirname(file), { recursive: true });
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) => (err ? reject(err) : resolve(s))),
      );
      await pipeline(stream, fs.createWriteStream(file));
      files.push(file);
    }
  } finally {
    zip.close();
  }
}

export async function naiveIngest(zipPath: string, outDir: string): Promise<NaiveResult> {
  const extracted = path.join(outDir, 'extracted');
  const t0 = performance.now();
  const files = await unzipAll(zipPath, extracted);
  const unzipMs = performance.now() - t0;

  const db = new Database(path.join(outDir, 'naive.db'));
  try {
    db.exec(`CREATE TABLE dicom_metadata (
      sop_instance_uid TEXT PRIMARY KEY, patient_id TEXT, study_instance_uid TEXT, series_instance_uid TEXT,
      slice_thickness REAL, pixel_spacing_row REAL, pixel_spacing_col REAL, study_date TEXT, acquisition_date TEXT,
      instance_number INTEGER, file_path TEXT, meta TEXT)`);
    const insert = db.prepare('INSERT OR REPLACE INTO dicom_metadata VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    // Python's sqlite3 opens one implicit transaction and the notebook commits once at the end: the same here.
    db.exec('BEGIN');
    let valid = 0;
    for (const file of files) {
      const bytes = fs.readFileSync(file);
      const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
      if (r.status !== 'valid' || !r.fields) continue;
      valid++;
      const f = r.fields;
      const dest = path.join(outDir, organizedPath(f));
      fs.mkdirSync(path.dirname(dest), { recursive: true });
      fs.copyFileSync(file, dest);
      insert.run(f.sopInstanceUid, f.patientId, f.studyInstanceUid, f.seriesInstanceUid, f.sliceThickness, f.pixelSpacingRow,
        f.pixelSpacingCol, f.studyDate, f.acquisitionDate, f.instanceNumber, dest, JSON.stringify(r.meta));
    }
    db.exec('COMMIT');
    const rows = (db.prepare('SELECT COUNT(*) AS n FROM dicom_metadata').get() as { n: number }).n;
    return { entries: files.length, valid, rows, unzipMs, restMs: performance.now() - t0 - unzipMs };
  } finally {
    db.close();
  }
}
