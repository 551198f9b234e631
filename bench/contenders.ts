/**
 * The contenders of the end-to-end rows. Each `once()` prepares untimed (fresh output folder; for dicomflow with
 * server and worker up: DIR's Temporal server and a `dicomflow worker` process), writes dirty pages out, warms the
 * zip, times ONE command from spawn to exit, then checks the result, untimed.
 *
 * Outputs stay where they are until the bench ends (its temp folder goes then, ~12 GB with --scale): deleting a tree
 * of tens of thousands of files slows the file creation of whatever runs next on some disks, by a lot and unevenly.
 * Measured on the 2-core VM of the README (ext4 mounted with discard): set 2's extract stage took 1.3-1.4 s after
 * runs that deleted nothing, 3.6-5.9 s right after two unzipped copies of set 2 were deleted, whether the run
 * started at once or 20 s later; the contender that came after the notebook's cleanup paid for it.
 */
import type { ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as sqlite3 from 'sqlite3';
import type { Dataset } from './datasets';
import { dicomflow, DICOMFLOW, envWith, ok, peakRss, run, ROOT, scratchGone, startUntil, stop, syncDisks, warm } from './proc';

export const NOTEBOOK = path.join(ROOT, 'bench', 'notebook.py');
export const PYTHON = '/usr/bin/python3';

export interface Sample {
  ms: number;
  /** one line of facts about the run (stage times, rows) for the notes */
  facts: string;
  /** peak RSS of the worker process (dicomflow with server and worker up) */
  workerPeakRss?: number;
}

export interface Contender {
  label: string;
  once: () => Promise<Sample>;
  /** After its last run: stop what it kept running between runs. */
  finish?: () => Promise<void>;
}

/** What is running that the bench started: stopped on exit, Ctrl-C included. */
const liveServers = new Set<string>();
const liveWorkers = new Set<ChildProcess>();
let counter = 0;

export async function stopEverything(): Promise<void> {
  for (const w of liveWorkers) await stop(w, 5000).catch(() => undefined);
  liveWorkers.clear();
  for (const dir of liveServers) await dicomflow(['server', 'stop', '--out', dir]).catch(() => undefined);
  liveServers.clear();
}

/** A fresh output folder path under `work` (not created). */
function freshDir(work: string, label: string): string {
  return path.join(work, `${label}-${++counter}`);
}

function beforeTimed(zip: string): void {
  syncDisks();
  warm([zip]);
}

/** Rows of a SQLite table, read through the sqlite3 driver the catalog uses. */
export function countRows(dbFile: string, table: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(dbFile, sqlite3.OPEN_READONLY, (err) => {
      if (err) return reject(new Error(`${dbFile}: ${err.message}`));
      db.get(`SELECT COUNT(*) AS n FROM ${table}`, (e: Error | null, row: { n: number } | undefined) => {
        db.close();
        if (e) reject(new Error(`${dbFile}: ${e.message}`));
        else resolve(row!.n);
      });
    });
  });
}

function expectRows(what: string, rows: number, ds: Dataset): void {
  if (rows !== ds.instances) throw new Error(`${what} on ${ds.name}: ${rows} catalog rows, expected ${ds.instances}`);
}

function countFiles(dir: string): number {
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
}

/** Two `unzip` processes at once, each extracting half of the patients: the 2-core floor of any extraction. */
export function unzipPair(ds: Dataset, work: string): Contender {
  const patients = [...ds.patientFolders].sort();
  if (!patients.every((p) => p.startsWith('LIDC-IDRI/'))) throw new Error(`${ds.name}: entries outside LIDC-IDRI/<patient>/`);
  const half = Math.ceil(patients.length / 2);
  const parts = [patients.slice(0, half), patients.slice(half)].filter((p) => p.length > 0);
  return {
    label: '2 x unzip',
    once: async () => {
      const dir = freshDir(work, 'unzip');
      fs.mkdirSync(dir);
      beforeTimed(ds.zip);
      const t0 = performance.now();
      const done = await Promise.all(parts.map((mine, k) => run('unzip', ['-q', '-o', ds.zip, ...mine.map((p) => `${p}/*`), '-d', path.join(dir, String(k))])));
      const ms = performance.now() - t0;
      done.forEach((r, k) => ok(`unzip (half ${k + 1})`, r));
      const files = countFiles(dir);
      if (files !== ds.entries) throw new Error(`2 x unzip on ${ds.name}: ${files} files, expected ${ds.entries}`);
      return { ms, facts: `${parts.map((p) => p.length).join(' + ')} patients, ${files} files` };
    },
  };
}

/** bench/notebook.py with Debian's python3: the seed notebook's pipeline, one sequential script. */
export function notebook(ds: Dataset, work: string): Contender {
  return {
    label: 'notebook',
    once: async () => {
      const dir = freshDir(work, 'notebook');
      beforeTimed(ds.zip);
      const r = ok('bench/notebook.py', await run(PYTHON, [NOTEBOOK, ds.zip, dir]));
      const rows = await countRows(path.join(dir, 'mydatabase.db'), 'dicom_metadata');
      expectRows('notebook', rows, ds);
      return { ms: r.ms, facts: r.stdout.trim().split('\n').pop()!.replace(/^notebook: /, '') };
    },
  };
}

/** "time per stage: extract 1.9 s, validate 2.0 s, ..." from the summary, shortened. */
function stagesOf(stdout: string): string {
  const line = stdout.split('\n').find((l) => l.includes('time per stage:'));
  return line ? line.replace(/.*time per stage:\s*/, 'stages: ') : 'no stage times printed';
}

function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/**
 * dicomflow with its Temporal server and a worker already up, as a team that ingests every day has them: one
 * `dicomflow server start` and one `dicomflow worker` process (untimed, before the first run), kept for every run of
 * the row. Each timed run is `TEMPORAL_ADDRESS=<server> dicomflow ingest ZIP --out <fresh DIR>`, a pure client (it
 * starts no server and no worker). `inspect` runs after the ingest. The worker's peak RSS is over all its runs.
 */
export function dicomflowWarm(ds: Dataset, work: string, inspect?: (address: string, dir: string) => Promise<string>): Contender {
  const local = envWith({ TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined });
  let up: { home: string; address: string; worker: ChildProcess; workerLog: string } | null = null;
  const start = async () => {
    if (up) return up;
    const home = freshDir(work, 'server');
    liveServers.add(home);
    const started = ok('dicomflow server start', await dicomflow(['server', 'start', '--out', home], local));
    const address = /gRPC address\s+(\S+)/.exec(started.stdout)?.[1];
    if (!address) throw new Error(`dicomflow server start printed no gRPC address:\n${started.stdout}`);
    const workerLog = `${home}.worker.log`;
    const worker = await startUntil(process.execPath, [DICOMFLOW, 'worker', '--out', home], /dicomflow worker polling/, { env: local, log: workerLog });
    liveWorkers.add(worker);
    return (up = { home, address, worker, workerLog });
  };
  return {
    label: 'dicomflow, server+worker up',
    once: async () => {
      const { home, address, worker, workerLog } = await start();
      const dir = freshDir(work, 'warm');
      beforeTimed(ds.zip);
      // The server's folder holds the payload codec key its worker uses; this run's folder is another one.
      const codecKey = path.join(home, 'temporal', 'codec.key');
      const r = await dicomflow(['ingest', ds.zip, '--out', dir], envWith({ TEMPORAL_ADDRESS: address, TEMPORAL_UI_URL: undefined, DICOMFLOW_CODEC_KEY_FILE: codecKey }));
      if (r.code !== 0) throw new Error(`dicomflow ingest (client) exited with ${r.code}:\n${r.stdout}\n${r.stderr}\nworker log:\n${tail(workerLog)}`);
      if (/local Temporal server/.test(r.stdout)) throw new Error('dicomflow ingest with TEMPORAL_ADDRESS used a local server');
      await scratchGone(dir); // the worker deletes the run's scratch after the run: its peak counts that too
      const workerPeakRss = peakRss(worker.pid!) ?? undefined;
      const inspected = inspect ? `; ${await inspect(address, dir)}` : '';
      expectRows('dicomflow', await countRows(path.join(dir, 'dicom.db'), 'dicom_metadata'), ds);
      return { ms: r.ms, facts: `${stagesOf(r.stdout)}${inspected}`, workerPeakRss };
    },
    finish: async () => {
      if (!up) return;
      await stop(up.worker);
      liveWorkers.delete(up.worker);
      await dicomflow(['server', 'stop', '--out', up.home]);
      liveServers.delete(up.home);
      up = null;
    },
  };
}

/** dicomflow cold: no server yet; `dicomflow ingest ZIP --out DIR` starts DIR's server and runs its own worker. */
export function dicomflowCold(ds: Dataset, work: string): Contender {
  return {
    label: 'dicomflow, cold',
    once: async () => {
      const dir = freshDir(work, 'cold');
      liveServers.add(dir);
      let r;
      try {
        beforeTimed(ds.zip);
        r = ok('dicomflow ingest (cold)', await dicomflow(['ingest', ds.zip, '--out', dir], envWith({ TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined })));
        if (!/Started the local Temporal server/.test(r.stdout)) throw new Error('dicomflow ingest (cold) did not start its own server');
      } finally {
        await dicomflow(['server', 'stop', '--out', dir]);
        liveServers.delete(dir);
      }
      expectRows('dicomflow (cold)', await countRows(path.join(dir, 'dicom.db'), 'dicom_metadata'), ds);
      return { ms: r.ms, facts: stagesOf(r.stdout) };
    },
  };
}

/**
 * Runs every contender `runs` times, alternated in ABBA order (A B C, C B A, A B C, ...): a linear drift hits all
 * alike, and no contender always runs right after the same other one (each inherits its predecessor's leftovers:
 * freed memory the VM gives back to its host, a page cache full of its files).
 */
export async function alternate(runs: number, contenders: Contender[], log: (line: string) => void): Promise<Sample[][]> {
  const samples: Sample[][] = contenders.map(() => []);
  try {
    return await alternateRuns(runs, contenders, samples, log);
  } finally {
    for (const c of contenders) await c.finish?.();
  }
}

async function alternateRuns(runs: number, contenders: Contender[], samples: Sample[][], log: (line: string) => void): Promise<Sample[][]> {
  for (let r = 0; r < runs; r++) {
    const order = [...contenders.keys()];
    if (r % 2 === 1) order.reverse();
    for (const k of order) {
      const c = contenders[k];
      const s = await c.once();
      samples[k].push(s);
      log(`   run ${r + 1}/${runs} ${c.label}: ${(s.ms / 1000).toFixed(2)} s`);
    }
  }
  return samples;
}
