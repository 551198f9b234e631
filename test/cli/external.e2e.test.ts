/**
 * The multi-host set-up, on one machine: an existing Temporal server (TEMPORAL_ADDRESS), a standalone
 * `dicomflow worker`, and the catalog in a real PostgreSQL. Also: a stage that fails shows its reason and is
 * retried by running the command again, without redoing the finished stages.
 * The catalog's user has a password: the pure client sends the URL without it, the workers take it from
 * DICOMFLOW_DB_URL; client and workers share the payload codec key through DICOMFLOW_CODEC_KEY.
 */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { temporal as temporalio } from '@temporalio/proto';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { workspace } from '../../src/workspace';
import { scratchKey } from '../../src/contract';
import { BIN, runCli } from '../helpers/cli';
import { expectMatchesManifest } from '../helpers/dataset';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { localTemporal } from '../helpers/temporal';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { POSTGRES, requireTool } from '../helpers/tools';

jest.setTimeout(300_000);

// Every test here loads the catalog into PostgreSQL.
const postgres = requireTool(POSTGRES);
const test = postgres.test;

let tmp: string;
let zip: string;
let manifest: SynthManifest;
let pg: TestPostgres;
let temporal: TestWorkflowEnvironment;
let worker: ChildProcess;
let env: NodeJS.ProcessEnv;
/** What the workers have on top of `env`: the catalog's full URL(s). */
let workerEnv: NodeJS.ProcessEnv;
const PASSWORD = `pw${randomBytes(8).toString('hex')}`;

beforeAll(async () => {
  if (!postgres.runs) return;
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-ext-'));
  zip = path.join(tmp, 'lidc.zip');
  [manifest, pg, temporal] = await Promise.all([
    synthesize({ patients: 3, slices: 5, size: 64, broken: true, seed: 5, out: zip }),
    startPostgres({ password: PASSWORD }),
    localTemporal(),
  ]);
  env = { TEMPORAL_ADDRESS: temporal.address, TEMPORAL_UI_URL: 'http://ui.example', DICOMFLOW_CODEC_KEY: randomBytes(32).toString('base64') };
  // Two catalogs this worker may be asked for: the real one and one that does not exist (the failed-stage test).
  workerEnv = { ...env, DICOMFLOW_DB_URL: `${pg.url} ${missingDbOf(pg.url)}` };
  worker = spawn(process.execPath, [BIN, 'worker', '--task-queue', 'ext-test'], { env: { ...process.env, ...workerEnv }, stdio: 'ignore' });
});

const missingDbOf = (url: string) => url.replace(/\/[^/]*$/, '/no_such_database');

afterAll(async () => {
  worker?.kill('SIGTERM');
  await temporal?.teardown();
  await pg?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

test('ingest through an external cluster and worker into PostgreSQL; db check and show read it back', async () => {
  const dir = path.join(tmp, 'out');
  const result = await runCli(['ingest', zip, '--out', dir, '--db', pg.url, '--task-queue', 'ext-test'], { env });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).toMatch(/Temporal UI http:\/\/ui\.example\/namespaces\/default\/workflows\/dicomflow-/);
  expect(fs.existsSync(workspace(dir).temporalDir)).toBe(false); // no embedded server was started
  // The password went from the command line to the worker's own configuration, never through Temporal.
  expect(result.stdout).not.toContain(PASSWORD);
  const id = /dicomflow-[0-9a-f]{16}/.exec(result.stdout)![0];
  const history = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', temporal.address, '--workflow-id', id, '--output', 'json'], { encoding: 'utf8' });
  expect(history).toContain('"eventType"');
  expect(history).not.toContain(PASSWORD);
  expect(history).not.toContain(Buffer.from(PASSWORD).toString('base64').slice(0, 12));

  const knex = await openCatalog({ dbUrl: pg.url });
  try {
    await expectMatchesManifest(knex, dir, manifest);
    // The whole header is jsonb: PatientID straight from the DICOM JSON model.
    const first = manifest.instances.find((i) => i.patientId)!;
    const row = await knex.raw(`select meta->'00100020'->'Value'->>0 as pid from dicom_metadata where sop_instance_uid = ?`, [first.sopInstanceUid]);
    expect(row.rows[0].pid).toBe(first.patientId);
    const contained = await knex.raw(`select count(*)::int as n from dicom_metadata where meta @> ?::jsonb`, [JSON.stringify({ '00100020': { Value: [first.patientId] } })]);
    expect(contained.rows[0].n).toBe(manifest.instances.filter((i) => i.patientId === first.patientId).length);
  } finally {
    await knex.destroy();
  }

  const check = await runCli(['db', 'check', '--db', pg.url]);
  expect(check.code).toBe(0);
  expect(check.stdout).toContain(String(manifest.instances.length));

  const sop = manifest.instances[0].sopInstanceUid;
  const show = await runCli(['show', sop, '--db', pg.url]);
  expect(show.code).toBe(0);
  expect(show.stdout).toMatch(new RegExp(`SOPInstanceUID \\(0008,0018\\) UI .*${sop.replace(/\./g, '\\.')}`));
  expect(show.stdout).toMatch(/PixelData \(7FE0,0010\)/);
});

test('two workers share one run: both run batches (the log names them), the catalog stays exact', async () => {
  const dir = path.join(tmp, 'out-two-workers');
  const queue = 'two-workers';
  // One activity at a time each, so batches waiting in the queue go to whichever worker is free.
  const twoEnv = { ...process.env, ...workerEnv, DICOMFLOW_MAX_ACTIVITIES: '1' };
  const workers = [0, 1].map(() => spawn(process.execPath, [BIN, 'worker', '--task-queue', queue], { env: twoEnv, stdio: 'ignore' }));
  try {
    await waitForPollers(queue, 2);
    const result = await runCli(['ingest', zip, '--out', dir, '--db', pg.url, '--task-queue', queue, '--batch-size', '3', '--concurrency', '4'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const log = fs.readFileSync(path.join(dir, 'logs', 'dicomflow.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const batches = log.filter((e) => e.stage === 'validateBatch' && e.msg === 'finished');
    expect(batches.length).toBe(Math.ceil(manifest.entries.filter((e) => e.status !== 'skipped' && e.status !== 'refused').length / 3));
    const ranBy = new Set(batches.map((e) => e.worker));
    expect([...ranBy].sort()).toEqual(workers.map((w) => `${os.hostname()}:${w.pid}`).sort());
    const knex = await openCatalog({ dbUrl: pg.url });
    try {
      await expectMatchesManifest(knex, dir, manifest);
    } finally {
      await knex.destroy();
    }
  } finally {
    for (const w of workers) w.kill('SIGTERM');
  }
});

/** Waits until `count` workers poll the activity queue, so the run's batches can go to all of them. */
async function waitForPollers(queue: string, count: number): Promise<void> {
  for (let attempt = 0; attempt < 150; attempt++) {
    const { pollers } = await temporal.client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: queue },
      taskQueueType: temporalio.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    });
    if ((pollers ?? []).length >= count) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${count} workers did not start polling ${queue}`);
}

test('a failed stage shows its reason; running again with the cause fixed finishes without redoing done stages', async () => {
  const dir = path.join(tmp, 'out-retry');
  const missingDb = missingDbOf(pg.url);
  const failed = await runCli(['ingest', zip, '--out', dir, '--db', missingDb, '--task-queue', 'ext-test'], { env });
  expect(failed.code).toBe(1);
  expect(failed.stderr).toMatch(/run dicomflow-\w+ failed: stage load failed: .*no_such_database/);
  const runId = /run (dicomflow-\w+) failed/.exec(failed.stderr)![1];
  // A failed run keeps its scratch (in its own folder), for the next attempt to go on from.
  const manifestFile = workspace(dir, scratchKey(runId)).entriesManifest;
  const extractedAt = fs.statSync(manifestFile).mtimeMs;

  // --keep-work: the manifest stays after the run completes, to show it was not written again.
  const again = await runCli(['ingest', zip, '--out', dir, '--db', pg.url, '--task-queue', 'ext-test', '--keep-work'], { env });
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/Previous run ended FAILED; started it again/);
  expect(fs.statSync(manifestFile).mtimeMs).toBe(extractedAt); // extract was not redone
});
