/**
 * Row 6: incremental ingestion. A folder of ~100,000 files (--quick: 1,920) is ingested once (the full run, timed),
 * then 10 new files (instances of another synthetic patient) are dropped in and the same command runs again (the
 * incremental run, timed): it scans the folder against the file catalog and processes only the 10. That is done
 * `runs` times (10 other new files each time); the row takes the median incremental run. Server and worker up, as in
 * rows 1 and 2; the timed commands are `TEMPORAL_ADDRESS=<server> dicomflow ingest FOLDER --out DIR`.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeSynthFolder } from '../src/synth';
import { datasetFolder, type DatasetSpec } from './datasets';
import { dicomflow, DICOMFLOW, envWith, median, ok, startUntil, stop, syncDisks } from './proc';

export interface IncrementalSample {
  files: number;
  fullMs: number;
  /** The median of the incremental runs. */
  incrementalMs: number;
  /** Every incremental run's time, and the run nearest the median: its "since the last run" line and stage times. */
  facts: string;
}

/** New files dropped into the folder after the full run. */
export const NEW_FILES = 10;

export async function incrementalRun(spec: DatasetSpec, work: string, runs: number): Promise<IncrementalSample> {
  const folder = path.join(work, 'incremental-folder');
  const dir = path.join(work, 'incremental-out');
  await datasetFolder(spec, folder);
  const files = fs.readdirSync(folder, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).length;
  const local = envWith({ TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined });
  const started = ok('dicomflow server start', await dicomflow(['server', 'start', '--out', dir], local));
  const address = /gRPC address\s+(\S+)/.exec(started.stdout)?.[1];
  if (!address) throw new Error(`dicomflow server start printed no gRPC address:\n${started.stdout}`);
  const worker = await startUntil(process.execPath, [DICOMFLOW, 'worker', '--out', dir], /dicomflow worker polling/, { env: local, log: `${dir}.worker.log` });
  try {
    const client = envWith({ TEMPORAL_ADDRESS: address, TEMPORAL_UI_URL: undefined });
    syncDisks();
    const full = ok('dicomflow ingest FOLDER (full)', await dicomflow(['ingest', folder, '--out', dir], client));
    if (!full.stdout.includes(`since the last run: ${files} new, 0 changed, 0 unchanged, 0 gone`)) throw new Error(`the full run did not see ${files} new files:\n${full.stdout}`);

    const extra = path.join(work, 'incremental-extra');
    const m = await writeSynthFolder({ patients: 1, slices: NEW_FILES * runs, size: spec.size, seed: 7, outDir: extra });
    const incremental: { ms: number; facts: string }[] = [];
    for (let run = 0; run < runs; run++) {
      const into = path.join(folder, `new-${run + 1}`);
      fs.mkdirSync(into);
      for (const [k, i] of m.instances.slice(run * NEW_FILES, (run + 1) * NEW_FILES).entries()) fs.copyFileSync(path.join(extra, i.sourcePath), path.join(into, `${k}.dcm`));
      syncDisks();
      const inc = ok('dicomflow ingest FOLDER (incremental)', await dicomflow(['ingest', folder, '--out', dir], client));
      const since = `since the last run: ${NEW_FILES} new, 0 changed, ${files + run * NEW_FILES} unchanged, 0 gone`;
      if (!inc.stdout.includes(since)) throw new Error(`the incremental run did not see exactly ${NEW_FILES} new files:\n${inc.stdout}`);
      const stages = inc.stdout.split('\n').find((l) => l.includes('time per stage:'))?.replace(/.*time per stage:\s*/, 'stages: ') ?? '';
      incremental.push({ ms: inc.ms, facts: `${since}; ${stages}` });
    }
    fs.rmSync(extra, { recursive: true, force: true });
    const incrementalMs = median(incremental.map((r) => r.ms));
    // With an even number of runs the median falls between two runs: the facts come from the run nearest to it, named.
    const nearest = incremental.reduce((best, r, k) => (Math.abs(r.ms - incrementalMs) < Math.abs(incremental[best].ms - incrementalMs) ? k : best), 0);
    const all = incremental.map((r) => (r.ms / 1000).toFixed(2)).join(', ');
    return { files, fullMs: full.ms, incrementalMs, facts: `incremental runs ${all} s; run ${nearest + 1} (nearest the median): ${incremental[nearest].facts}` };
  } finally {
    await stop(worker);
    await dicomflow(['server', 'stop', '--out', dir]);
    for (const p of [folder, dir, `${dir}.worker.log`]) fs.rmSync(p, { recursive: true, force: true });
  }
}
