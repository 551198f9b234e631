/**
 * The project's benchmark: each design choice against its naive alternative, in ONE run on one
 * synthesized dataset, reported as ratios (never absolute times across runs), plus the speed targets.
 *
 *   npm run bench [-- --patients N --slices M --size PX --quick --rounds R --no-drop-cache --sqlite-rows N]
 *
 * Exits 1 when a target fails. Targets live here, never in unit tests.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { readHeaders } from '../dicom/read-pool';
import { headerLines, type HeaderLines } from '../dicom/header-lines';
import { readDicomBytes, readDicomFile, readDicomFileSync, type DicomReadResult } from '../dicom/read';
import { placeFile } from '../organize/place';
import { organizedPath } from '../organize/tree';
import { synthesize, writeSynthFolder } from '../synth';
import { dicomflowIngest, type CliRun } from './dicomflow-cli';
import { naiveIngest, type NaiveResult } from './naive-ingest';
import { measureSqliteDrivers } from './sqlite-drivers';
import { bestOf, dropPageCache, timeOnce, warmFile } from './timing';

interface BenchOptions {
  patients: number;
  slices: number;
  size: number;
  quick: boolean;
  dropCache: boolean;
  sqliteRows: number;
  rounds: number;
}

function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const num = (name: string, fallback: number): number => {
    const k = argv.indexOf(`--${name}`);
    if (k < 0) return fallback;
    const n = Number(argv[k + 1]);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, got "${argv[k + 1]}"`);
    return n;
  };
  return {
    patients: num('patients', quick ? 3 : 8),
    slices: num('slices', quick ? 40 : 60),
    size: num('size', 512),
    quick,
    dropCache: !argv.includes('--no-drop-cache'),
    sqliteRows: num('sqlite-rows', quick ? 3000 : 10000),
    rounds: num('rounds', quick ? 2 : 5),
  };
}

/** One line of the table: the design's way against the naive way over the same `items`. */
interface Row {
  what: string;
  design: string;
  naive: string;
  designMs: number;
  naiveMs: number;
  items: number;
  unit: string;
  /** CPU time of this process per item, when both ways run in it: a load-independent cost */
  cpuMs?: { design: number; naive: number };
  note?: string;
}

interface Target {
  name: string;
  /** design speed / naive speed */
  ratio: number | null;
  min: number;
  /** why it is not checked, when it is not */
  skip?: string;
  /** false: printed to watch the trend, never fails the run */
  gate?: boolean;
}

const ratioOf = (r: Row) => r.naiveMs / r.designMs;
const rate = (items: number, ms: number) => (items / ms) * 1000;

function verdict(r: Row): string {
  const x = ratioOf(r);
  return x >= 1 ? `design ${x.toFixed(2)}x faster` : `naive ${(1 / x).toFixed(2)}x faster`;
}

function pad(cells: string[][]): string {
  const widths = cells[0].map((_, c) => Math.max(...cells.map((row) => row[c].length)));
  return cells.map((row) => row.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd()).join('\n');
}

function table(rows: Row[]): string {
  const cells = [['comparison', 'design way', 'rate', 'naive way', 'rate', 'ratio', 'verdict', 'CPU ms/item design/naive']];
  for (const r of rows) {
    cells.push([
      r.what,
      r.design,
      `${rate(r.items, r.designMs).toFixed(0)} ${r.unit}`,
      r.naive,
      `${rate(r.items, r.naiveMs).toFixed(0)} ${r.unit}`,
      `${ratioOf(r).toFixed(2)}x`,
      verdict(r),
      r.cpuMs ? `${(r.cpuMs.design / r.items).toFixed(3)} / ${(r.cpuMs.naive / r.items).toFixed(3)}` : '-',
    ]);
  }
  const notes = rows.filter((r) => r.note).map((r) => `  * ${r.what}: ${r.note}`);
  return pad(cells) + (notes.length ? `\n\nnotes:\n${notes.join('\n')}` : '');
}

/** All files under `dir`, sorted. */
function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath ?? d.path, d.name))
    .sort();
}

async function readSequential(files: string[]): Promise<DicomReadResult[]> {
  const out: DicomReadResult[] = [];
  for (const f of files) out.push(await readDicomFile(f, { withMeta: true }));
  return out;
}

function readWholeFiles(files: string[]): DicomReadResult[] {
  return files.map((f) => {
    const bytes = fs.readFileSync(f);
    return readDicomBytes(bytes, bytes.length, { withMeta: true });
  });
}

async function readWholeFilesAsync(files: string[]): Promise<void> {
  for (const f of files) {
    const bytes = await fs.promises.readFile(f);
    readDicomBytes(bytes, bytes.length, { withMeta: true });
  }
}

const countValid = (results: DicomReadResult[]) => results.filter((r) => r.status === 'valid').length;

function sameOutcome(a: DicomReadResult[], b: DicomReadResult[], what: string): void {
  const bad = a.findIndex((r, k) => r.status !== b[k].status || r.fields?.sopInstanceUid !== b[k].fields?.sopInstanceUid);
  if (bad >= 0) throw new Error(`${what}: the two ways disagree on file #${bad}`);
}

/** Fewest reads in one timed pass of a warm-cache read row. */
const MIN_READS = 1000;

/** "load 1.23 on 2 cores": other processes on the machine bend the ratios that depend on free cores. */
function loadLine(cores: number): string {
  const load = os.loadavg()[0];
  const busy = load > cores * 0.5 ? ' (busy: other processes compete for the cores; ratio 2 is unreliable)' : '';
  return `load average (1 min) ${load.toFixed(2)} on ${cores} cores${busy}`;
}

const log = (line: string) => process.stdout.write(`${line}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<number> {
  const o = parseOptions(process.argv.slice(2));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-bench-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  const rows: Row[] = [];
  const targets: Target[] = [];
  try {
    const cores = os.availableParallelism();
    log(`dicomflow benchmark${o.quick ? ' (--quick)' : ''}: ${o.patients} patients x ${o.slices} slices of ${o.size}x${o.size}, ` +
      `${cores} cores, best of ${o.rounds} alternating rounds, node ${process.version}`);
    log(`at start: ${loadLine(cores)}`);

    // The dataset: a zip for end to end, the same entries as loose files for the per-step rows.
    const zip = path.join(tmp, 'dataset.zip');
    const manifest = await synthesize({ patients: o.patients, slices: o.slices, size: o.size, out: zip });
    const filesDir = path.join(tmp, 'files');
    await writeSynthFolder({ patients: o.patients, slices: o.slices, size: o.size, outDir: filesDir });
    const files = listFiles(filesDir);
    const bytes = files.reduce((s, f) => s + fs.statSync(f).size, 0);
    log(`dataset: ${files.length} files, ${(bytes / 2 ** 20).toFixed(0)} MiB, ${manifest.instances.length} valid instances; zip ${(fs.statSync(zip).size / 2 ** 20).toFixed(0)} MiB`);
    // Warm-cache read rows go over the files several times when they are few, so one pass is long enough to time.
    const reps = Math.max(1, Math.ceil(MIN_READS / files.length));
    const reads = Array.from({ length: reps }, () => files).flat();
    log(`warm-cache read rows: ${reads.length} reads per pass (${reps} x ${files.length} files)\n`);

    // 1. Header read: first bytes only vs the whole file, warm page cache (files just written).
    log('1. header read ...');
    let headerResults: DicomReadResult[] = [];
    let wholeResults: DicomReadResult[] = [];
    const [header, whole, wholeAsync] = await bestOf(o.rounds, [
      { label: 'header', run: async () => (headerResults = await readSequential(reads)) },
      { label: 'whole', run: async () => (wholeResults = readWholeFiles(reads)) },
      { label: 'whole, async', run: () => readWholeFilesAsync(reads) },
    ]);
    sameOutcome(headerResults, wholeResults, 'header read');
    rows.push({
      what: '1a header read, warm cache', design: 'readDicomFile (first 64 KiB)', naive: 'readFileSync + readDicomBytes',
      designMs: header.ms, naiveMs: whole.ms, items: reads.length, unit: 'files/s', cpuMs: { design: header.cpuMs, naive: whole.cpuMs },
      note: `one thread, page cache warm for both (files just written), ${countValid(headerResults)}/${reads.length} valid both ways`,
    });
    rows.push({
      what: '1c header read, warm (info)', design: 'readDicomFile (first 64 KiB)', naive: 'await fs.promises.readFile + parse',
      designMs: header.ms, naiveMs: wholeAsync.ms, items: reads.length, unit: 'files/s', cpuMs: { design: header.cpuMs, naive: wholeAsync.cpuMs },
      note: 'both through the async fs API, one file at a time: separates "fewer bytes" from "sync vs async calls" in 1a',
    });
    targets.push({ name: 'header-only >= 1.0x whole-file (warm cache)', ratio: whole.ms / header.ms, min: 1.0 });

    // Cold: empty the page cache before each pass (root only), so the disk is read for real.
    if (o.dropCache && dropPageCache()) {
      const cold = { header: Infinity, whole: Infinity };
      for (let r = 0; r < Math.max(1, o.rounds - 1); r++) {
        dropPageCache();
        cold.header = Math.min(cold.header, await timeOnce(() => readSequential(files)));
        dropPageCache();
        cold.whole = Math.min(cold.whole, await timeOnce(async () => readWholeFiles(files)));
      }
      rows.push({
        what: '1b header read, cold cache', design: 'readDicomFile (first 64 KiB)', naive: 'readFileSync + readDicomBytes',
        designMs: cold.header, naiveMs: cold.whole, items: files.length, unit: 'files/s',
        note: 'page cache dropped (sync; echo 1 > /proc/sys/vm/drop_caches) before each pass; the kernel still reads ahead past 64 KiB',
      });
      targets.push({ name: 'header-only >= 1.0x whole-file (cold cache)', ratio: cold.whole / cold.header, min: 1.0 });
    } else {
      log('   cold-cache row skipped: cannot drop the page cache (needs root and /proc/sys/vm/drop_caches; or --no-drop-cache given)');
      targets.push({ name: 'header-only >= 1.0x whole-file (cold cache)', ratio: null, min: 1.0, skip: 'page cache cannot be dropped here' });
    }
    readWholeFiles(files); // warm again for the rows below

    // 2. Both cores: the read pool (worker threads that also serialize the output lines) vs one thread doing the
    //    same work (read, parse, serialize) one file after the other — what the metadata stage does per file.
    log('2. read pool ...');
    const candidates = reads.map((file, i) => ({ i, source: path.basename(file), file, status: null }));
    // One untimed pass first: each thread JIT-compiles the reader on its own, as the main thread already has in
    // rows 1a-1c; a worker keeps its pool (and that warm code) for every batch of a run.
    await readHeaders(candidates);
    let poolLines: HeaderLines[] = [];
    let seqLines: HeaderLines[] = [];
    const [pool, seq] = await bestOf(o.rounds, [
      { label: 'pool', run: async () => (poolLines = await readHeaders(candidates)) },
      { label: 'sequential', run: async () => (seqLines = candidates.map(headerLines)) },
    ]);
    if (poolLines.some((l, k) => l.metadata !== seqLines[k].metadata)) throw new Error('read pool: the two ways disagree');
    rows.push({
      what: '2 both cores', design: `readHeaders: ${cores}-thread pool`, naive: 'the same in one thread, one by one',
      designMs: pool.ms, naiveMs: seq.ms, items: reads.length, unit: 'files/s', cpuMs: { design: pool.cpuMs, naive: seq.cpuMs },
      note: 'warm cache and warm code (one untimed pass in the pool threads first); read + parse + DICOM JSON + output line per file; CPU counts all threads',
    });
    // On 2 cores the activity's own thread (writing lines, heartbeats, the SDK) shares the cores with the pool,
    // and handing lines across threads costs ~0.1 ms of CPU per file: 1.15x is the floor we hold, ~1.2x measured.
    const poolTarget = cores >= 4 ? 1.5 : 1.15;
    targets.push(cores >= 2
      ? { name: `read pool >= ${poolTarget}x sequential (${cores} cores)`, ratio: seq.ms / pool.ms, min: poolTarget }
      : { name: 'read pool faster than sequential', ratio: null, min: 1, skip: 'one core' });

    // 3. Placing files into the Patient/Study/Series tree: hard link vs copying the bytes.
    log('3. placing files ...');
    const placements = files.flatMap((file) => {
      const r = readDicomFileSync(file);
      return r.status === 'valid' && r.fields ? [{ from: file, rel: organizedPath(r.fields) }] : [];
    });
    // Several trees per pass when the files are few, so one pass is long enough to time.
    const treeReps = Math.max(1, Math.ceil(MIN_READS / placements.length));
    const targetsOf = (tree: string) => Array.from({ length: treeReps }, (_, r) => placements.map((p) => ({ from: p.from, to: path.join(tree, String(r), p.rel) }))).flat();
    const linkTree = path.join(tmp, 'tree-link');
    const copyTree = path.join(tmp, 'tree-copy');
    const [link, copy] = await bestOf(o.rounds, [
      {
        label: 'link',
        prepare: () => fs.rmSync(linkTree, { recursive: true, force: true }),
        run: async () => {
          for (const p of targetsOf(linkTree)) if ((await placeFile(p.from, p.to)) !== 'linked') throw new Error('placeFile did not link');
        },
      },
      {
        label: 'copy',
        prepare: () => fs.rmSync(copyTree, { recursive: true, force: true }),
        run: async () => {
          for (const p of targetsOf(copyTree)) {
            await fs.promises.mkdir(path.dirname(p.to), { recursive: true });
            await fs.promises.copyFile(p.from, p.to);
          }
        },
      },
    ]);
    fs.rmSync(linkTree, { recursive: true, force: true });
    fs.rmSync(copyTree, { recursive: true, force: true });
    rows.push({
      what: '3 place files', design: 'placeFile (hard link)', naive: 'mkdir + fs.copyFile',
      designMs: link.ms, naiveMs: copy.ms, items: placements.length * treeReps, unit: 'files/s', cpuMs: { design: link.cpuMs, naive: copy.cpuMs },
      note: `one after the other both ways, as the organize activity does, ${treeReps} tree(s) per pass; copies land in the page cache (not synced)`,
    });
    targets.push({ name: 'hard link >= 2x copy', ratio: copy.ms / link.ms, min: 2 });

    // 4. End to end: the real command vs the notebook-style pipeline, zip in the page cache for both.
    const e2eRounds = o.quick ? 1 : 2;
    log(`4. end to end (naive baseline, then dicomflow ingest; best of ${e2eRounds}) ...`);
    const expected = manifest.instances.length;
    let naive: NaiveResult | null = null;
    let naiveMs = Infinity;
    let flow: CliRun | null = null;
    let flowTotalMs = Infinity;
    for (let r = 0; r < e2eRounds; r++) {
      const naiveOut = path.join(tmp, 'naive');
      fs.mkdirSync(naiveOut);
      await warmFile(zip);
      const t0 = performance.now();
      const run = await naiveIngest(zip, naiveOut);
      const ms = performance.now() - t0;
      fs.rmSync(naiveOut, { recursive: true, force: true });
      if (ms < naiveMs) [naive, naiveMs] = [run, ms];

      await warmFile(zip);
      const flowOut = path.join(tmp, 'dicomflow');
      const cli = await dicomflowIngest(zip, flowOut);
      fs.rmSync(flowOut, { recursive: true, force: true });
      flowTotalMs = Math.min(flowTotalMs, cli.totalMs);
      if (!flow || cli.totalMs - cli.startupMs < flow.totalMs - flow.startupMs) flow = cli;
      if (run.rows !== expected || cli.rows !== expected) {
        throw new Error(`end to end: expected ${expected} catalog rows, naive has ${run.rows}, dicomflow ${cli.rows}`);
      }
    }
    if (!naive || !flow) throw new Error('end to end: no run');
    const entries = manifest.entries.length;
    const stages = Object.entries(flow.stagesMs).map(([s, ms]) => `${s} ${(ms / 1000).toFixed(1)}`).join(', ');
    rows.push({
      what: '4a end to end', design: 'dicomflow ingest (CLI)', naive: 'notebook-style, sequential',
      designMs: flowTotalMs, naiveMs, items: entries, unit: 'entries/s',
      note: `wall ${secs(flowTotalMs)} vs ${secs(naiveMs)}; dicomflow includes starting its local Temporal server ` +
        `(${secs(flow.startupMs)}), Temporal's durability (server round trips, history, heartbeats), ` +
        `de-duplication, series checks and the reports (CSV, HTML, PNG charts); the baseline does none of those. ` +
        `Both catalogs hold ${expected} rows. dicomflow stages (s): ${stages}; ` +
        `baseline: unzip ${secs(naive.unzipMs)}, read+parse+copy+insert ${secs(naive.restMs)}`,
    });
    rows.push({
      what: '4b end to end, server up', design: 'dicomflow ingest after "Started run"', naive: 'notebook-style, sequential',
      designMs: flow.totalMs - flow.startupMs, naiveMs, items: entries, unit: 'entries/s',
      note: 'the same run without the Temporal server start (what a second ingest into the same folder pays)',
    });
    // Not a gate: dicomflow does more than the baseline (durability, de-duplication, reports); watch the trend.
    targets.push({ name: 'dicomflow (server up) >= 0.5x naive end to end', ratio: naiveMs / (flow.totalMs - flow.startupMs), min: 0.5, gate: false });

    // 5. SQLite driver behind knex (src/bench/sqlite-drivers.ts).
    log('5. SQLite drivers ...\n');
    const sql = await measureSqliteDrivers(o.sqliteRows).catch((err: Error) => {
      log(`   SQLite driver row failed: ${String(err?.message ?? err).split('\n')[0]}`);
      return null;
    });
    const sqlite3 = sql?.rowsPerSecond.sqlite3;
    const better = sql?.rowsPerSecond['better-sqlite3'];
    if (sql && better && sqlite3) {
      rows.push({
        what: '5 SQLite driver', design: 'sqlite3 via knex (the catalog)', naive: 'better-sqlite3 via knex',
        designMs: sql.rows / sqlite3 * 1000, naiveMs: sql.rows / better * 1000, items: sql.rows, unit: 'rows/s',
        note: 'the real load path (src/db/load.ts), 500-row upserts, WAL; better-sqlite3 would be used only if clearly faster',
      });
    }

    log(`at end: ${loadLine(cores)}\n`);
    log(table(rows));

    log('\ntargets:');
    let failed = 0;
    for (const t of targets) {
      if (t.ratio === null) {
        log(`  SKIP  ${t.name}: ${t.skip}`);
        continue;
      }
      const ok = t.ratio >= t.min;
      if (t.gate === false) {
        log(`  ${ok ? 'PASS ' : 'BELOW'} ${t.name}: ${t.ratio.toFixed(2)}x (watched, does not fail the run)`);
        continue;
      }
      if (!ok) failed++;
      log(`  ${ok ? 'PASS' : 'FAIL'}  ${t.name}: ${t.ratio.toFixed(2)}x`);
    }
    log(failed ? `\n${failed} target(s) failed` : '\nall targets met');
    if (failed && os.loadavg()[0] > cores * 0.5) log('(the machine was busy: rerun when it is quiet before trusting a FAIL of 2; see the CPU column for load-independent costs)');
    return failed ? 1 : 0;
  } finally {
    cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
