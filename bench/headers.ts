/**
 * Row 4, the header stage alone: `readHeaderBytes(entries)` (the read pool as the validate stage calls it: each
 * slice's validate and metadata lines as UTF-8 bytes) over the files of a dataset extracted to disk, page cache warm,
 * and every line checked against `headerLines(entry)` run in one thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readHeaderBytes } from '../src/dicom/read-pool';
import { headerLines, type EncodedHeaders, type HeaderLines } from '../src/dicom/header-lines';
import type { EntryRecord } from '../src/records';
import { median, syncDisks, warm } from './proc';

export interface HeaderResult {
  files: number;
  /** files/s of each timed round, and their median */
  rates: number[];
  rate: number;
  /** files/s of headerLines one file after another in this thread (for the notes) */
  oneThreadRate: number;
  threads: number;
  valid: number;
}

/** The pool loads read-worker.js from beside read-pool.js; without it readHeaders quietly reads in one thread. */
function poolScript(): string {
  const script = path.join(path.dirname(require.resolve('../src/dicom/read-pool')), 'read-worker.js');
  if (!fs.existsSync(script)) throw new Error(`${script} is missing: the read pool would not start its threads (build with tsconfig.bench.json)`);
  return script;
}

export async function headerStage(dir: string, rounds: number): Promise<HeaderResult> {
  poolScript();
  const files = fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name))
    .sort();
  const entries: EntryRecord[] = files.map((file, i) => ({ i, source: path.relative(dir, file).split(path.sep).join('/'), file, status: null }));
  // The files were just written: their writeback (and the earlier rows' deletions) would compete with the timed
  // rounds, as in the end-to-end rows, whose contenders also start after a sync.
  syncDisks();
  warm(files);

  // The reference, in this thread; timed for the notes only (its second pass, so the code is warm).
  const reference = entries.map(headerLines);
  const t0 = performance.now();
  entries.map(headerLines);
  const oneThreadRate = entries.length / ((performance.now() - t0) / 1000);

  await readHeaderBytes(entries); // untimed: starts the pool's threads and warms their code, as a worker's first batch does
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const lines = await readHeaderBytes(entries);
    rates.push(entries.length / ((performance.now() - t) / 1000));
    agree(lines, reference);
  }
  return {
    files: entries.length,
    rates,
    rate: median(rates),
    oneThreadRate,
    threads: Number(process.env.DICOMFLOW_READ_THREADS) || os.availableParallelism(),
    valid: reference.filter((l) => !l.invalid).length,
  };
}

function agree(slices: EncodedHeaders[], reference: HeaderLines[]): void {
  const text = (kind: 'validate' | 'metadata') => slices.map((e) => Buffer.from(e[kind]).toString('utf8')).join('');
  const want = (list: (string | null)[]) => list.flatMap((l) => (l === null ? [] : [`${l}\n`])).join('');
  const files = slices.reduce((n, e) => n + e.files, 0);
  if (files !== reference.length) throw new Error(`readHeaderBytes answered for ${files} entries of ${reference.length}`);
  for (const kind of ['validate', 'metadata'] as const) {
    const got = text(kind).split('\n');
    const expected = want(reference.map((l) => l[kind])).split('\n');
    const k = got.findIndex((line, n) => line !== expected[n]);
    if (k >= 0 || got.length !== expected.length) {
      throw new Error(`readHeaderBytes and headerLines disagree on ${kind} line ${k}:\n  pool:   ${got[k]?.slice(0, 300)}\n  thread: ${expected[k]?.slice(0, 300)}`);
    }
  }
}
