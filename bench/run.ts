/**
 * `npm run bench`: dicomflow against the floor and the baseline, in ONE run, as ratios (never compare absolute
 * times across runs), on datasets made by synth (deflated, as real CT zips are). Each row has a target; the table
 * says whether it is met, with the load average at start and end (other processes bend every ratio).
 *
 *   npm run bench -- [--runs N] [--quick] [--scale] [--rows 1,2,3,4] [--data DIR]
 *
 *   1  set 1 (8 patients x 140 CT slices 512x512), end to end with server and worker up:
 *        <= 1.5x two parallel `unzip` processes (each half of the patients), <= 0.6x the notebook-style script
 *   2  set 2 (100 patients x 190 slices 64x64), end to end with server and worker up: <= 0.25x the notebook
 *        (with 2 x unzip over set 2 timed beside it as a reference: the floor of creating its 19,200 files)
 *   3  set 1 cold (no Temporal server yet; `dicomflow ingest` starts it), command start to exit: <= 1.0x the notebook
 *   4  header stage alone, page cache warm: readHeaderBytes over set 2's files >= 20,000 files/s
 *   5  --scale only: 1000 patients x 245 slices 32x32 (~250k files) once, server and worker up: the worker's
 *      peak RSS <= 512 MB, time per file <= 1.2x set 2's, and the largest workflow history far inside Temporal's limit
 *   6  incremental: a folder of ~100,000 files (410 patients x 245 slices 32x32) ingested, 10 new files
 *      dropped in, the same command again (`--runs` times, 10 other files each): the median incremental run
 *      <= 0.1x the full run (server and worker up)
 *
 * End-to-end rows take the median of `--runs` (default 3) runs per contender, alternated in ABBA order (A B C, C B A, ...).
 * "Server and worker up": DIR's embedded Temporal server (`dicomflow server start --out DIR`) and a separate
 * `dicomflow worker --out DIR` process are started before the clock starts; the timed command is
 * `TEMPORAL_ADDRESS=<server> dicomflow ingest ZIP --out DIR`, a pure client. Exits 1 when a target is missed.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { alternate, dicomflowCold, dicomflowWarm, notebook, NOTEBOOK, PYTHON, stopEverything, unzipPair, type Contender, type Sample } from './contenders';
import { dataset, datasetFolder, describe, type Dataset, type DatasetSpec } from './datasets';
import { headerStage } from './headers';
import { incrementalRun, NEW_FILES } from './incremental';
import { HISTORY_EVENT_LIMIT, histories, type HistoryFacts } from './histories';
import { loadAverage, median, mib, onPath, secs } from './proc';

interface Options {
  runs: number;
  quick: boolean;
  scale: boolean;
  rows: Set<number>;
  data: string | null;
  headerRounds: number;
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const scale = argv.includes('--scale');
  const value = (name: string): string | undefined => {
    const k = argv.indexOf(`--${name}`);
    if (k < 0) return undefined;
    if (k + 1 >= argv.length) throw new Error(`--${name} needs a value`);
    return argv[k + 1];
  };
  const whole = (name: string, fallback: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, got "${v}"`);
    return n;
  };
  const known = new Set(['--runs', '--quick', '--scale', '--rows', '--data', '--header-rounds']);
  argv.forEach((a, k) => {
    if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a}`);
    if (!a.startsWith('--') && !['--runs', '--rows', '--data', '--header-rounds'].includes(argv[k - 1])) throw new Error(`unexpected argument ${a}`);
  });
  const rowsArg = value('rows');
  const rows = new Set(rowsArg ? rowsArg.split(',').map(Number) : [1, 2, 3, 4, ...(scale ? [5] : []), 6]);
  for (const r of rows) if (![1, 2, 3, 4, 5, 6].includes(r)) throw new Error(`--rows takes numbers 1-6, got "${rowsArg}"`);
  return { runs: whole('runs', quick ? 1 : 3), quick, scale, rows, data: value('data') ?? null, headerRounds: whole('header-rounds', quick ? 3 : 5) };
}

const SETS = {
  set1: { full: { patients: 8, slices: 140, size: 512 }, quick: { patients: 2, slices: 40, size: 512 } },
  set2: { full: { patients: 100, slices: 190, size: 64 }, quick: { patients: 10, slices: 190, size: 64 } },
  scale: { full: { patients: 1000, slices: 245, size: 32 }, quick: { patients: 100, slices: 245, size: 32 } },
  // Row 6: the issue's case, a folder of ~100,000 catalogued files (410 x (245 CT + 1 CR) = 100,860).
  incremental: { full: { patients: 410, slices: 245, size: 32 }, quick: { patients: 10, slices: 190, size: 64 } },
} as const;

const spec = (name: keyof typeof SETS, quick: boolean): DatasetSpec => ({ name, ...SETS[name][quick ? 'quick' : 'full'] });

interface Row {
  id: string;
  what: string;
  measured: string;
  target: string;
  /** null: skipped (see note) */
  met: boolean | null;
  note?: string;
}

const log = (line: string) => process.stdout.write(`${line}\n`);

function pad(cells: string[][]): string {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  return cells.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

/** "0.84x (10.12 s / 12.03 s)": a time ratio, the row's target being "at most". */
function ratioRow(id: string, what: string, mine: number, theirs: number, max: number, note?: string): Row {
  const x = mine / theirs;
  return { id, what, measured: `${x.toFixed(2)}x (${secs(mine)} / ${secs(theirs)})`, target: `<= ${max}x`, met: x <= max, note };
}

const skipped = (id: string, what: string, target: string, note: string): Row => ({ id, what, measured: '-', target, met: null, note });

const medianMs = (samples: Sample[]) => median(samples.map((s) => s.ms));
/** The facts line of the run whose time is the median (the middle one). */
function medianFacts(samples: Sample[]): string {
  const sorted = [...samples].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor((sorted.length - 1) / 2)].facts;
}
const allTimes = (samples: Sample[]) => samples.map((s) => (s.ms / 1000).toFixed(2)).join(', ');

function notebookAvailable(): string | null {
  if (!fs.existsSync(PYTHON)) return `${PYTHON} is missing`;
  try {
    execFileSync(PYTHON, ['-c', 'import pydicom, pandas, matplotlib'], { stdio: 'pipe' });
    return null;
  } catch {
    return `${PYTHON} cannot import pydicom, pandas and matplotlib`;
  }
}

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const cores = os.availableParallelism();
  log(`dicomflow benchmark${o.quick ? ' (--quick: smaller sets)' : ''}: node ${process.version}, ${cores} cores, ` +
    `median of ${o.runs} alternating run(s) per contender, rows ${[...o.rows].sort().join(', ')}`);
  const loadAtStart = loadAverage();
  log(`load average at start: ${loadAtStart}`);

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-bench-'));
  const dataDir = o.data ? path.resolve(o.data) : path.join(tmp, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const work = path.join(tmp, 'runs');
  fs.mkdirSync(work);
  let cleaning = false;
  const cleanup = async () => {
    if (cleaning) return;
    cleaning = true;
    await stopEverything();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    log('\ninterrupted: stopping the servers and workers the bench started ...');
    void cleanup().finally(() => process.exit(130));
  });

  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    const noNotebook = notebookAvailable();
    if (noNotebook) {
      log(`notebook baseline skipped (${noNotebook}): apt-get install -y python3-pydicom python3-pandas python3-matplotlib`);
    }
    const unzipMissing = onPath('unzip') === null;
    if (unzipMissing) log('2 x unzip floor skipped: unzip is not installed (apt-get install -y unzip)');

    const need = (...ids: number[]) => ids.some((id) => o.rows.has(id));
    const made: Record<string, Dataset> = {};
    for (const name of ['set1', 'set2', 'scale'] as const) {
      if ((name === 'set1' && !need(1, 3)) || (name === 'set2' && !need(2, 4, 5)) || (name === 'scale' && !need(5))) continue;
      const ds = await dataset(spec(name, o.quick), dataDir, (l) => log(`  ${l}`));
      made[name] = ds;
      log(`${name}: ${describe(ds)}: ${ds.entries} files, ${mib(ds.bytes)}; zip ${mib(ds.zipBytes)} (${((ds.zipBytes / ds.bytes) * 100).toFixed(0)} %, deflated)`);
    }
    log(`notebook baseline: ${PYTHON} ${path.relative(process.cwd(), NOTEBOOK)}\n`);

    // Set 1: rows 1 and 3, every contender alternated.
    if (made.set1) {
      const ds = made.set1;
      const c: Record<string, Contender> = {};
      if (o.rows.has(1) && !unzipMissing) c.unzip = unzipPair(ds, work);
      if (!noNotebook) c.notebook = notebook(ds, work);
      if (o.rows.has(1)) c.warm = dicomflowWarm(ds, work);
      if (o.rows.has(3)) c.cold = dicomflowCold(ds, work);
      const labels = Object.keys(c);
      log(`set 1: ${labels.map((k) => c[k].label).join(' / ')} ...`);
      const s = Object.fromEntries((await alternate(o.runs, labels.map((k) => c[k]), log)).map((x, k) => [labels[k], x]));
      for (const k of labels) notes.push(`set 1 ${c[k].label}: runs ${allTimes(s[k])} s; median run: ${medianFacts(s[k])}`);
      if (o.rows.has(1)) {
        const what = 'set 1, server+worker up / 2 parallel unzip';
        rows.push(s.unzip ? ratioRow('1a', what, medianMs(s.warm), medianMs(s.unzip), 1.5) : skipped('1a', what, '<= 1.5x', 'unzip is not installed'));
        const nb = 'set 1, server+worker up / notebook';
        rows.push(s.notebook ? ratioRow('1b', nb, medianMs(s.warm), medianMs(s.notebook), 0.6) : skipped('1b', nb, '<= 0.6x', 'no notebook baseline'));
      }
      if (o.rows.has(3)) {
        const what = 'set 1, cold (ingest starts its server) / notebook';
        rows.push(s.notebook ? ratioRow('3', what, medianMs(s.cold), medianMs(s.notebook), 1.0) : skipped('3', what, '<= 1.0x', 'no notebook baseline'));
      }
    }

    // Set 2: row 2 (and set 2's time per file for row 5).
    let set2FlowMs: number | null = null;
    if (made.set2 && need(2, 5)) {
      const ds = made.set2;
      const c: Record<string, Contender> = {};
      // The 2-core floor of set 2 too, as a reference (no target): where creating 19,000 small files costs the
      // kernel most of the time, it says how much of row 2's ratio is the file system's.
      if (o.rows.has(2) && !unzipMissing) c.unzip = unzipPair(ds, work);
      if (o.rows.has(2) && !noNotebook) c.notebook = notebook(ds, work);
      c.warm = dicomflowWarm(ds, work);
      const labels = Object.keys(c);
      log(`set 2: ${labels.map((k) => c[k].label).join(' / ')} ...`);
      const s = Object.fromEntries((await alternate(o.runs, labels.map((k) => c[k]), log)).map((x, k) => [labels[k], x]));
      for (const k of labels) notes.push(`set 2 ${c[k].label}: runs ${allTimes(s[k])} s; median run: ${medianFacts(s[k])}`);
      set2FlowMs = medianMs(s.warm);
      if (o.rows.has(2)) {
        const what = 'set 2, server+worker up / notebook';
        rows.push(s.notebook ? ratioRow('2', what, set2FlowMs, medianMs(s.notebook), 0.25) : skipped('2', what, '<= 0.25x', 'no notebook baseline'));
        if (s.unzip && s.notebook) {
          const floor = medianMs(s.unzip);
          notes.push(`set 2 reference: 2 x unzip is ${(floor / medianMs(s.notebook)).toFixed(2)}x the notebook; dicomflow is ${(set2FlowMs / floor).toFixed(2)}x 2 x unzip`);
        }
      }
    }

    // Row 4: the header stage alone over set 2's files on disk.
    if (o.rows.has(4)) {
      const dir = path.join(work, 'set2-files');
      log('header stage: writing set 2 as files ...');
      await datasetFolder(spec('set2', o.quick), dir);
      const h = await headerStage(dir, o.headerRounds); // the files stay until the end (see contenders.ts)
      rows.push({
        id: '4',
        what: `header stage: readHeaderBytes, ${h.threads} threads, warm cache`,
        measured: `${Math.round(h.rate).toLocaleString('en-US')} files/s`,
        target: '>= 20,000 files/s',
        met: h.rate >= 20_000,
      });
      notes.push(`header stage: ${h.files} files (${h.valid} valid), rounds ${h.rates.map((r) => Math.round(r)).join(', ')} files/s; ` +
        `every line equal to headerLines in one thread, which alone does ${Math.round(h.oneThreadRate)} files/s`);
    }

    // Row 5: scale, once.
    if (made.scale) {
      const ds = made.scale;
      let hist: HistoryFacts | null = null;
      log('scale: dicomflow, server+worker up, once ...');
      const contender = dicomflowWarm(ds, work, async (address) => {
        hist = await histories(address);
        return `${hist.executions} workflow executions, ${hist.total} history events in all`;
      });
      const [[sample]] = await alternate(1, [contender], log);
      notes.push(`scale: ${describe(ds)}, ${ds.entries} files: ${secs(sample.ms)}; ${sample.facts}`);
      const rss = sample.workerPeakRss;
      rows.push(rss === undefined
        ? skipped('5a', 'scale: worker peak RSS (VmHWM)', '<= 512 MB', '/proc/<pid>/status could not be read')
        : { id: '5a', what: 'scale: worker peak RSS (VmHWM)', measured: `${(rss / 1e6).toFixed(0)} MB`, target: '<= 512 MB', met: rss <= 512e6 });
      if (set2FlowMs !== null) {
        const perFile = sample.ms / ds.entries;
        const set2PerFile = set2FlowMs / made.set2.entries;
        const x = perFile / set2PerFile;
        rows.push({
          id: '5b', what: 'scale: time per file / set 2\'s', measured: `${x.toFixed(2)}x (${(perFile).toFixed(3)} ms / ${set2PerFile.toFixed(3)} ms)`,
          target: '<= 1.2x', met: x <= 1.2,
        });
      }
      const h = hist as HistoryFacts | null;
      const far = HISTORY_EVENT_LIMIT / 4;
      if (h) notes.push(`scale histories: ${h.executions} workflow executions (continued-as-new runs each counted), the largest ${h.largest.workflowId} (run ${h.largest.runId}) with ${h.largest.events} events; Temporal's limit is ${HISTORY_EVENT_LIMIT} events per execution`);
      rows.push(h
        ? {
            id: '5c', what: 'scale: largest workflow history', measured: `${h.largest.events.toLocaleString('en-US')} events`,
            target: `<= ${far.toLocaleString('en-US')} events (1/4 of the limit)`, met: h.largest.events <= far,
          }
        : skipped('5c', 'scale: largest workflow history', `<= ${far}`, 'histories not read'));
    }

    // Row 6: incremental ingestion of a folder.
    if (o.rows.has(6)) {
      log(`incremental: a folder of ~100,000 files, ingested, then ${NEW_FILES} new files, ${o.runs} times ...`);
      const r = await incrementalRun(spec('incremental', o.quick), work, o.runs);
      rows.push(ratioRow('6', `incremental: ${NEW_FILES} new files in a folder of ${r.files} / the full run`, r.incrementalMs, r.fullMs, 0.1));
      notes.push(`incremental: full run of ${r.files} files ${secs(r.fullMs)}, incremental ${secs(r.incrementalMs)}; ${r.facts}`);
    }

    const loadAtEnd = loadAverage();
    log(`\nload average at start: ${loadAtStart}`);
    log(`load average at end:   ${loadAtEnd}\n`);
    const cells = [['row', 'what', 'measured', 'target', 'met']];
    for (const r of rows) cells.push([r.id, r.what, r.measured, r.target, r.met === null ? `SKIP (${r.note})` : r.met ? 'yes' : 'NO']);
    log(pad(cells));
    log(`\nnotes:\n${notes.map((n) => `  * ${n}`).join('\n')}`);
    const missed = rows.filter((r) => r.met === false).length;
    log(missed ? `\n${missed} of ${rows.length} target(s) missed` : `\nall ${rows.filter((r) => r.met).length} targets met`);
    if (os.loadavg()[0] > cores * 0.5) log('(the machine was busy: other processes shared the cores, which bends every ratio; rerun when it is quiet before trusting a result)');
    return missed ? 1 : 0;
  } finally {
    await cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  async (err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    await stopEverything().catch(() => undefined);
    process.exit(2);
  },
);
