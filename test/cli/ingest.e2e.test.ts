/**
 * `dicomflow ingest` end to end, as a user runs it: embedded Temporal dev server, in-process worker, real files.
 * - a synthesized zip; the same command again (no new rows, same report)
 * - a URL served by a local HTTP server on 127.0.0.1
 * - a run whose worker is killed with SIGKILL mid-run and resumed by re-running the command, ending with the
 *   same database content as the uninterrupted run
 * - unusable sources get a clear one-line reason and a non-zero exit code
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { openCatalog } from '../../src/db/catalog';
import { cliSandbox, runCli } from '../helpers/cli';
import { expectMatchesManifest } from '../helpers/dataset';

jest.setTimeout(600_000);

const box = cliSandbox('dicomflow-e2e-', { patients: 8, slices: 30, size: 64, broken: true, seed: 3 });
const out = box.out;
// Small batches, one at a time: the run has many steps, so a kill lands in the middle of it.
const SLOW = ['--batch-size', '4', '--concurrency', '1'];

async function catalogSnapshot(outDir: string) {
  const knex = await openCatalog({ outDir });
  try {
    const strip = <T extends Record<string, unknown>>(rows: T[]) => rows.map(({ run_id, ...rest }) => rest);
    return {
      instances: strip(await knex('dicom_metadata').select().orderBy('sop_instance_uid')),
      validation: strip(await knex('validation_results').select().orderBy('path')),
      issues: strip(await knex('series_issues').select().orderBy(['series_instance_uid', 'code', 'message'])),
    };
  } finally {
    await knex.destroy();
  }
}

let reference: Awaited<ReturnType<typeof catalogSnapshot>>;

test('ingest a zip, then the same command again reports the finished run without new rows', async () => {
  const dir = out('plain');
  const first = await runCli(['ingest', box.zip, '--out', dir, ...SLOW]);
  expect(first.stderr).toBe('');
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/files found \d+: valid \d+, invalid \d+, duplicates \d+, conflicts \d+, skipped \d+, refused \d+/);
  expect(first.stdout).toMatch(/Temporal UI http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\/dicomflow-/);
  const knex = await openCatalog({ outDir: dir });
  try {
    await expectMatchesManifest(knex, dir, box.manifest);
  } finally {
    await knex.destroy();
  }
  reference = await catalogSnapshot(dir);
  const csvBefore = fs.readFileSync(path.join(dir, 'reports', 'validation.csv'));

  const again = await runCli(['ingest', box.zip, '--out', dir, ...SLOW]);
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/already ingested/);
  expect(await catalogSnapshot(dir)).toEqual(reference);
  expect(fs.readFileSync(path.join(dir, 'reports', 'validation.csv'))).toEqual(csvBefore);
});

test('ingest from a URL on a local HTTP server', async () => {
  const server = http.createServer((req, res) => {
    if (req.url?.startsWith('/bucket/lidc.zip')) {
      const body = fs.readFileSync(box.zip);
      res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/zip' });
      res.end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/bucket/lidc.zip?X-Amz-Signature=secret`;
    const dir = out('url');
    const result = await runCli(['ingest', url, '--out', dir]);
    expect(result.code).toBe(0);
    // The downloaded zip was the run's scratch: gone with it once the run completed.
    expect(result.stdout).toMatch(/completed/);
    expect(fs.existsSync(path.join(dir, 'download'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'work'))).toBe(false);
    expect(await catalogSnapshot(dir)).toEqual(reference);
  } finally {
    server.close();
  }
});

test('a worker killed with SIGKILL mid-run is resumed by running the command again', async () => {
  const dir = out('killed');
  const killed = await runCli(['ingest', box.zip, '--out', dir, ...SLOW], {
    onStdout: (text, child) => {
      if (/\[(validate|metadata)\] [1-9]/.test(text) && !child.killed) child.kill('SIGKILL');
    },
  });
  expect(killed.signal).toBe('SIGKILL');
  expect(killed.stdout).not.toMatch(/completed/);

  const resumed = await runCli(['ingest', box.zip, '--out', dir, ...SLOW]);
  expect(resumed.stdout).toMatch(/Resuming the unfinished run/);
  expect(resumed.code).toBe(0);
  expect(await catalogSnapshot(dir)).toEqual(reference);
});

test('unusable sources fail at once with a one-line reason', async () => {
  const missing = await runCli(['ingest', path.join(box.tmp, 'nope.zip'), '--out', out('bad1')]);
  expect(missing.code).not.toBe(0);
  expect(missing.stderr.trim()).toMatch(/^dicomflow: source not found: .*nope\.zip$/);

  const text = path.join(box.tmp, 'notes.zip');
  fs.writeFileSync(text, 'hello');
  const notZip = await runCli(['ingest', text, '--out', out('bad2')]);
  expect(notZip.code).not.toBe(0);
  expect(notZip.stderr.trim()).toMatch(/^dicomflow: not a zip file/);

  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const unreachable = await runCli(['ingest', `http://127.0.0.1:${port}/x.zip`, '--out', out('bad3')]);
  expect(unreachable.code).not.toBe(0);
  expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:\d+\/x\.zip: ECONNREFUSED/);
});
