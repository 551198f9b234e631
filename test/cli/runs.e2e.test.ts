/**
 * Runs that share an output folder, as users start them: two `dicomflow ingest` processes of two different zips into
 * one DIR at the same moment (one embedded Temporal server, two in-process workers) both finish with the union in the
 * catalog, each run's rows under its own run id, each run's reports in its own folder; the same command again
 * reports that run; a completed run leaves no scratch behind, unless --keep-work.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { resolveSource, workflowIdFor } from '../../src/client/source';
import { scratchKey } from '../../src/contract';
import { workspace } from '../../src/workspace';
import { runCli } from '../helpers/cli';
import { listFiles } from '../helpers/dataset';

jest.setTimeout(600_000);

let tmp: string;
const outDirs: string[] = [];
const sources: { zip: string; manifest: SynthManifest }[] = [];

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-runs-'));
  for (const seed of [21, 22]) {
    const zip = path.join(tmp, `source-${seed}.zip`);
    sources.push({ zip, manifest: await synthesize({ patients: 3, slices: 20, size: 64, broken: true, seed, out: zip }) });
  }
});

afterAll(async () => {
  for (const dir of outDirs) await runCli(['server', 'stop', '--out', dir]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

const byStatus = (m: SynthManifest, status: string) => m.entries.filter((e) => e.status === status).length;

test('two different zips into one DIR at the same moment: both finish, the catalog is the union, each run keeps its own rows', async () => {
  const dir = path.join(tmp, 'shared');
  outDirs.push(dir);
  const [a, b] = sources;
  const runIds = sources.map((s) => workflowIdFor(resolveSource(s.zip), dir));
  // Small batches, a few at a time: both runs are busy in every stage for a while, side by side.
  const args = (zip: string) => ['ingest', zip, '--out', dir, '--batch-size', '10', '--concurrency', '2'];
  const [resultA, resultB] = await Promise.all([runCli(args(a.zip)), runCli(args(b.zip))]);
  for (const [k, result] of [resultA, resultB].entries()) {
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const m = sources[k].manifest;
    expect(result.stdout).toContain(`dicomflow run ${runIds[k]} completed`);
    expect(result.stdout).toContain(
      `files found ${m.entries.length}: valid ${byStatus(m, 'valid')}, invalid ${byStatus(m, 'invalid')}, duplicates ${byStatus(m, 'duplicate')}, conflicts ${byStatus(m, 'conflict')}`,
    );
    // Its reports are its own.
    const ownReports = path.join(dir, 'reports', 'runs', scratchKey(runIds[k]));
    expect(result.stdout).toContain(path.join(ownReports, 'validation.csv'));
    const rows = fs.readFileSync(path.join(ownReports, 'validation.csv'), 'utf8').trim().split('\n');
    expect(rows).toHaveLength(m.entries.length + 1);
  }

  const knex = await openCatalog({ outDir: dir });
  try {
    // The union, exactly, and each run's rows under its own run id.
    const instances = await knex('dicom_metadata').select('sop_instance_uid', 'run_id', 'file_path');
    expect(instances).toHaveLength(a.manifest.instances.length + b.manifest.instances.length);
    for (const [k, s] of sources.entries()) {
      const own = instances.filter((r) => r.run_id === runIds[k]).map((r) => r.sop_instance_uid).sort();
      expect(own).toEqual(s.manifest.instances.map((i) => i.sopInstanceUid).sort());
      const validation = await knex('validation_results').where({ run_id: runIds[k] }).select('path', 'status', 'code');
      const got = validation.map((v) => `${v.path} ${v.status} ${v.code}`).sort();
      expect(got).toEqual(s.manifest.entries.map((e) => `${e.path} ${e.status} ${e.code}`).sort());
      expect(await knex('runs').where({ run_id: runIds[k] }).first()).toMatchObject({ instances: s.manifest.instances.length, validation_rows: s.manifest.entries.length });
    }
    for (const r of instances) expect(fs.existsSync(path.join(dir, r.file_path))).toBe(true);
  } finally {
    await knex.destroy();
  }

  // Both completed: no scratch left (manifests, batch results, extracted entries), the tree intact.
  expect(fs.existsSync(path.join(dir, 'work'))).toBe(false);
  expect(fs.existsSync(path.join(dir, 'extracted'))).toBe(false);
  expect(listFiles(path.join(dir, 'organized'))).toHaveLength(a.manifest.instances.length + b.manifest.instances.length);
  // DIR/reports shows the run that finished last, whole.
  const latest = fs.readlinkSync(path.join(dir, 'reports', 'latest'));
  expect(runIds.map((id) => path.join('runs', scratchKey(id)))).toContain(latest);
  expect(fs.readFileSync(path.join(dir, 'reports', 'validation.csv'))).toEqual(fs.readFileSync(path.join(dir, 'reports', latest, 'validation.csv')));

  // The first zip again: already ingested, with its own run's summary.
  const again = await runCli(args(a.zip));
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`already ingested into ${dir} (run ${runIds[0]})`);
  expect(again.stdout).toContain(`dicomflow run ${runIds[0]} completed`);
  expect(again.stdout).toContain(`files found ${a.manifest.entries.length}: valid ${byStatus(a.manifest, 'valid')}`);
  expect(again.stdout).toContain(`${a.manifest.instances.length} instances`);
});

test('--keep-work keeps the completed run scratch; without it nothing is left', async () => {
  const dir = path.join(tmp, 'kept');
  outDirs.push(dir);
  const { zip, manifest } = sources[0];
  const kept = await runCli(['ingest', zip, '--out', dir, '--keep-work']);
  expect(kept.code).toBe(0);
  const ws = workspace(dir, scratchKey(workflowIdFor(resolveSource(zip), dir)));
  const candidates = manifest.entries.filter((e) => e.status !== 'skipped' && e.status !== 'refused').length;
  expect(fs.readFileSync(ws.entriesManifest, 'utf8').trim().split('\n')).toHaveLength(manifest.entries.length);
  expect(fs.readFileSync(ws.outcomes, 'utf8').trim().split('\n')).toHaveLength(manifest.entries.length);
  expect(listFiles(ws.extractedDir).length).toBeGreaterThanOrEqual(candidates);

  // A new run of the same source (--rerun) without the flag removes its own scratch, and only its own.
  const rerun = await runCli(['ingest', zip, '--out', dir, '--rerun']);
  expect(rerun.code).toBe(0);
  expect(fs.readdirSync(path.join(dir, 'work', 'runs'))).toEqual([path.basename(ws.workDir)]);
});
