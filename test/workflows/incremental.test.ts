/**
 * The file catalog path of ingestDataset (patch 'files-catalog') on a real local Temporal dev server: a folder run
 * scans against the `files` table and processes only new files; its counts are in the result. With
 * DICOMFLOW_RECORD_HISTORIES=1 it saves the second run's history (scanFolder and recordFiles in it) for replay.test.ts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { Worker } from '@temporalio/worker';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import * as activities from '../../src/activities';
import { ingestDataset } from '../../src/workflows';
import { writeSynthFolder } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { temporalSuite } from '../helpers/temporal';

jest.setTimeout(300_000);

const suite = temporalSuite('dicomflow-wf-inc-');



test('a folder ingested three times: the second run processes only the new file, the third nothing, and each says so in its result', async () => {
  const folder = path.join(suite.parent, 'folder');
  const m = await writeSynthFolder({ patients: 1, slices: 4, size: 32, seed: 71, outDir: folder });
  const outDir = path.join(suite.parent, 'out');
  const taskQueue = 'wf-incremental';
  const run = async (workflowId: string, runId: string) => {
    const worker = await Worker.create({ connection: suite.env.nativeConnection, taskQueue, workflowsPath: require.resolve('../../src/workflows'), activities });
    return worker.runUntil(suite.env.client.workflow.execute(ingestDataset, { taskQueue, workflowId, args: [{ source: folder, sourceKind: 'folder', outDir, runId, concurrency: 2 }] }));
  };

  const first = await run('ingest-folder-files-catalog-1', 'wf-folder-1');
  expect(first.changes).toEqual({ new: m.entries.length, changed: 0, unchanged: 0, gone: 0 });
  expect(first.counts.entries).toBe(m.entries.length);

  const extra = path.join(suite.parent, 'extra');
  const more = await writeSynthFolder({ patients: 1, slices: 2, size: 32, seed: 72, outDir: extra });
  fs.copyFileSync(path.join(extra, more.instances[0].sourcePath), path.join(folder, 'new.dcm'));
  const second = await run('ingest-folder-files-catalog', 'wf-folder-2');
  expect(second.changes).toEqual({ new: 1, changed: 0, unchanged: m.entries.length, gone: 0 });
  expect(second.counts).toMatchObject({ entries: 1, valid: 1, instances: 1 });

  const knex = await openCatalog({ outDir });
  try {
    expect(await knex('files').where({ source: folder, path: 'new.dcm' }).first()).toMatchObject({ first_run_id: 'wf-folder-2', status: 'valid', code: 'OK' });
    expect(await knex('dicom_metadata').count({ n: '*' })).toEqual([{ n: m.instances.length + 1 }]);
  } finally {
    await knex.destroy();
  }

  // Nothing new: the run records that it saw every file, and runs no other stage.
  const third = await run('ingest-folder-files-catalog-nothing-new', 'wf-folder-3');
  expect(third.changes).toEqual({ new: 0, changed: 0, unchanged: m.entries.length + 1, gone: 0 });
  expect(third.counts.entries).toBe(0);
  expect(third.outputs.reports).toEqual([]);
  expect(Object.keys(third.stageSeconds).sort()).toEqual(['extract', 'load']);

  if (process.env.DICOMFLOW_RECORD_HISTORIES) {
    for (const id of ['ingest-folder-files-catalog', 'ingest-folder-files-catalog-nothing-new']) {
      const json = execFileSync(findTemporalCli(), ['workflow', 'show', '--address', suite.env.address, '--workflow-id', id, '--output', 'json']);
      fs.writeFileSync(path.join(__dirname, '..', 'fixtures', 'histories', `${id}.json`), json);
    }
  }
});
