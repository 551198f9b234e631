/**
 * Row 4, the header stage alone: `readHeaders(entries)` (the read pool the validate stage uses) over the files of a
 * dataset extracted to disk, page cache warm, and every line checked against `headerLines(entry)` run in one thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readHeaders } from '../src/dicom/read-pool';
import { headerLines, type HeaderLines } from '../src/dicom/header-lines';
import type { EntryRecord } from '../src/records';
import { median, warm } from './proc';

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
  warm(files);

  // The reference, in this thread; timed for the notes only (its second pass, so the code is warm).
  const reference = entries.map(headerLines);
  const t0 = performance.now();
  entries.map(headerLines);
  const oneThreadRate = entries.length / ((performance.now() - t0) / 1000);

  await readHeaders(entries); // untimed: starts the pool's threads and warms their code, as a worker's first batch does
  const rates: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    const lines = await readHeaders(entries);
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

function agree(lines: HeaderLines[], reference: HeaderLines[]): void {
  if (lines.length !== reference.length) throw new Error(`readHeaders returned ${lines.length} lines for ${reference.length} entries`);
  for (const [k, l] of lines.entries()) {
    const want = reference[k];
    if (l.validate !== want.validate || l.metadata !== want.metadata || l.invalid !== want.invalid) {
      throw new Error(`readHeaders and headerLines disagree on entry ${k}:\n  pool:   ${JSON.stringify(l)}\n  thread: ${JSON.stringify(want)}`);
    }
  }
}
