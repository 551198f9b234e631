/**
 * The whole workflow on a real local Temporal dev server over a `synth --broken` zip: the catalog holds exactly
 * the valid instances, every entry has its expected status and code, nothing is written outside DIR.
 * With DICOMFLOW_RECORD_HISTORIES=1 it also saves the histories replayed by replay.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from '@temporalio/worker';
import { execFileSync } from 'child_process';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import * as activities from '../../src/activities';
import { activityLog } from '../../src/worker/activity-log';
import { ingestDataset } from '../../src/workflows';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { temporalSuite } from '../helpers/temporal';
import { expectMatchesManifest, listFiles } from '../helpers/dataset';

jest.setTimeout(300_000);

const suite = temporalSuite('dicomflow-wf-');
let zip: string;
let manifest: SynthManifest;

beforeAll(async () => {
  zip = path.join(suite.parent, 'source', 'broken.zip');
  fs.mkdirSync(path.dirname(zip));
  manifest = await synthesize({ patients: 3, slices: 6, size: 64, broken: true, seed: 7, out: zip });
});

test('ingestDataset over a broken synthetic zip gives exactly the contract', async () => {
  const outDir = path.join(suite.parent, 'out');
  const taskQueue = 'wf-test';
  const worker = await Worker.create({
    connection: suite.env.nativeConnection,
    taskQueue,
    workflowsPath: require.resolve('../../src/workflows'),
    activities,
    interceptors: { activity: [activityLog] },
  });
  // Recorded as a replay fixture; the histories of earlier versions (ingest-broken-zip*.json) stay committed.
  const workflowId = 'ingest-broken-zip-load-beside-report'; // *-per-run.json: before load-beside-report
  const summary = await worker.runUntil(
    suite.env.client.workflow.execute(ingestDataset, {
      taskQueue,
      workflowId,
      // Small batches so the batch fan-out and several children's signals are exercised.
      args: [{ source: zip, sourceKind: 'zip', outDir, runId: 'wf-test-run', batchSize: 7, concurrency: 3 }],
    }),
  );

  const byStatus = (s: string) => manifest.entries.filter((e) => e.status === s).length;
  expect(summary.counts).toMatchObject({
    entries: manifest.entries.length,
    valid: byStatus('valid'),
    invalid: byStatus('invalid'),
    duplicate: byStatus('duplicate'),
    conflict: byStatus('conflict'),
    skipped: byStatus('skipped'),
    refused: byStatus('refused'),
    instances: manifest.instances.length,
    series: manifest.series.length,
  });

  const knex = await openCatalog({ outDir });
  try {
    await expectMatchesManifest(knex, outDir, manifest);
    // The whole header is queryable: PatientID from the DICOM JSON equals the column, for every row.
    const fromMeta = await knex.raw(`select patient_id, json_extract(meta, '$."00100020".Value[0]') as pid from dicom_metadata`);
    expect(fromMeta.length).toBe(manifest.instances.length);
    for (const r of fromMeta) expect(r.pid ?? null).toBe(r.patient_id);
    const validation = await knex('validation_results').where({ run_id: 'wf-test-run' }).count({ n: '*' });
    expect(Number(validation[0].n)).toBe(manifest.entries.length);
  } finally {
    await knex.destroy();
  }

  // Nothing outside DIR: the parent folder holds only the source zip and the output folder.
  expect(listFiles(suite.parent).filter((f) => !f.startsWith(`out${path.sep}`))).toEqual([path.join('source', 'broken.zip')]);
  expect(fs.existsSync('/etc/evil.dcm')).toBe(false);
  for (const f of ['validation.csv', 'metadata.csv', 'report.html', 'slice-thickness.png', 'slices-per-series.png']) {
    expect(fs.existsSync(path.join(outDir, 'reports', 'runs', 'wf-test-run', f))).toBe(true); // the run's own
    expect(fs.readFileSync(path.join(outDir, 'reports', f))).toEqual(fs.readFileSync(path.join(outDir, 'reports', 'runs', 'wf-test-run', f))); // the latest
  }
  expect(summary.outputs.reports[0]).toBe(path.join(outDir, 'reports', 'runs', 'wf-test-run', 'validation.csv'));
  // The run completed: its scratch (manifests, batch results, extracted entries) is gone, the tree stays.
  expect(fs.existsSync(path.join(outDir, 'work'))).toBe(false);
  expect(listFiles(path.join(outDir, 'organized'))).toHaveLength(manifest.instances.length);

  // The structured log has every stage's start and finish, with counts.
  const log = fs.readFileSync(path.join(outDir, 'logs', 'dicomflow.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const stage of ['extract', 'validateBatch', 'collectMetadata', 'organize', 'loadDatabase', 'writeReport', 'cleanScratch']) {
    expect(log.some((e) => e.stage === stage && e.msg === 'finished')).toBe(true);
  }
  expect(log.find((e) => e.stage === 'organize' && e.msg === 'finished').result).toMatchObject({ duplicates: 1, conflicts: 1 });

  // The batches ran in the parent workflow (few of them): one history. Those of the versions before work-sized batches
  // (ingest-broken-zip.json, with validate and metadata children) and before per-run scratch
  // (ingest-broken-zip-work-sized.json) stay committed and replayed.
  if (process.env.DICOMFLOW_RECORD_HISTORIES) recordHistories([workflowId]);
});

/** Saves the histories of these workflows for replay.test.ts, in the JSON the Temporal CLI writes. */
function recordHistories(ids: string[]): void {
  const dir = path.join(__dirname, '..', 'fixtures', 'histories');
  for (const id of ids) {
    const json = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', suite.env.address, '--workflow-id', id, '--output', 'json']);
    fs.writeFileSync(path.join(dir, `${id.replace(/\//g, '--')}.json`), json);
  }
}

test('the validate stage moves to a child that continues as new when its history grows, and still counts every file', async () => {
  const small = path.join(suite.parent, 'source', 'small.zip');
  const expected = await synthesize({ patients: 2, slices: 10, size: 32, broken: false, seed: 11, out: small });
  const outDir = path.join(suite.parent, 'out-can');
  const taskQueue = 'wf-can';
  const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowsPath: require.resolve('../../src/workflows'), activities });
  const workflowId = 'ingest-continue-as-new-load-beside-report'; // ingest-continue-as-new{,-per-run}.json: earlier versions
  const summary = await worker.runUntil(
    suite.env.client.workflow.execute(ingestDataset, {
      taskQueue,
      workflowId,
      // One file per batch and a tiny history budget: each stage has to continue as new several times.
      args: [{ source: small, sourceKind: 'zip', outDir, runId: 'can', batchSize: 1, concurrency: 2, historyLimit: 30 }],
    }),
  );
  expect(summary.counts.instances).toBe(expected.instances.length);
  expect(summary.counts.valid).toBe(expected.entries.filter((e) => e.status === 'valid').length);

  const child = suite.env.client.workflow.getHandle(`${workflowId}/validate`);
  const { events } = await child.fetchHistory();
  const started = events![0].workflowExecutionStartedEventAttributes!;
  expect(started.continuedExecutionRunId).toBeTruthy(); // the last run continued an earlier one
  expect(events!.length).toBeLessThan(80);
  // The metadata stage is one activity: the header pass already wrote its records.
  await expect(suite.env.client.workflow.getHandle(`${workflowId}/metadata`).describe()).rejects.toThrow(/not found/);
  if (process.env.DICOMFLOW_RECORD_HISTORIES) recordHistories([workflowId]); // the parent with its validate child
});
