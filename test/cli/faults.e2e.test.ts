/**
 * Faults of issue 10, as a user meets them with `dicomflow ingest` (embedded Temporal dev server, in-process worker):
 * - the same command started twice at once: both exit 0, one run
 * - a full output disk (a 20 MB tmpfs): the stage and the full path in the CLI's message
 * - the Temporal server killed mid-run: one line saying so and how to resume; the re-run finishes
 * - the CLI killed mid-run: the re-run's stage moves again within 15 s
 * - a database that is down: the retries, with their cause, on the progress line
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import { synthesize } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { cliSandbox, runCli } from '../helpers/cli';
import { expectMatchesManifest } from '../helpers/dataset';

jest.setTimeout(600_000);

const box = cliSandbox('dicomflow-faults-', { patients: 6, slices: 30, size: 64, broken: true, seed: 5 });
const out = box.out;
// Small batches, one at a time: the run has many steps, so a kill lands in the middle of it.
const SLOW = ['--batch-size', '4', '--concurrency', '1'];

function serverState(dir: string): { pid: number; port: number } {
  return JSON.parse(fs.readFileSync(path.join(dir, 'temporal', 'server.json'), 'utf8'));
}

async function expectCatalogOfManifest(dir: string): Promise<void> {
  const knex = await openCatalog({ outDir: dir });
  try {
    await expectMatchesManifest(knex, dir, box.manifest);
  } finally {
    await knex.destroy();
  }
}

test('the same command started twice at once: both exit 0 and there is exactly one run', async () => {
  const dir = out('twice');
  const [a, b] = await Promise.all([runCli(['ingest', box.zip, '--out', dir]), runCli(['ingest', box.zip, '--out', dir])]);
  for (const r of [a, b]) {
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/dicomflow run \S+ completed/);
  }
  const workflowId = /workflow (dicomflow-\S+)/.exec(a.stdout)![1];
  expect(b.stdout).toContain(`workflow ${workflowId}`);
  // One workflow execution of that id in the server, one run in the catalog.
  const connection = await Connection.connect({ address: `127.0.0.1:${serverState(dir).port}` });
  try {
    const client = new Client({ connection });
    const runs: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(w.runId);
    expect(runs).toHaveLength(1);
  } finally {
    await connection.close();
  }
  const knex = await openCatalog({ outDir: dir });
  try {
    expect(await knex('runs').count({ n: '*' })).toEqual([{ n: 1 }]);
  } finally {
    await knex.destroy();
  }
  await expectCatalogOfManifest(dir);
});

test('a full output disk: the CLI names the stage and the full path', async () => {
  const dir = out('full');
  fs.mkdirSync(dir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    console.log('skipped: a full disk needs `mount -t tmpfs` (root, or a container allowed to mount)');
    return;
  }
  try {
    const big = path.join(box.tmp, 'big.zip');
    await synthesize({ patients: 2, slices: 40, size: 512, seed: 9, out: big }); // ~40 MB of files
    const r = await runCli(['ingest', big, '--out', dir]);
    expect(r.code).not.toBe(0);
    const last = r.stderr.trim().split('\n').filter((l) => l.startsWith('dicomflow:')).pop() ?? '';
    expect(last).toMatch(new RegExp(`stage (extract|validate|metadata|organize|load|report) failed: no space left on the device \\(ENOSPC\\) at ${dir}/\\S+`));
    expect(r.stderr).not.toMatch(/WARN/);
    console.log(`full disk, the CLI's last line: ${last}`);
  } finally {
    await runCli(['server', 'stop', '--out', dir]);
    execFileSync('umount', ['-l', dir]);
  }
});

test('the Temporal server killed mid-run: one line says so and how to resume; the same command finishes the run', async () => {
  const dir = out('server-killed');
  let killedAt = 0;
  const r = await runCli(['ingest', box.zip, '--out', dir, ...SLOW], {
    onStdout: (text) => {
      if (!killedAt && /\[(validate|metadata)\] [1-9]/.test(text)) {
        killedAt = Date.now();
        process.kill(serverState(dir).pid, 'SIGKILL');
      }
    },
  });
  expect(killedAt).toBeGreaterThan(0);
  expect(r.code).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toEqual([expect.stringMatching(/^dicomflow: the Temporal server at 127\.0\.0\.1:\d+ is gone; run dicomflow-\S+ stays where it stopped: run the same command again to resume it/)]);
  console.log(`server killed: ${lines[0]} (${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill)`);
  expect(Date.now() - killedAt).toBeLessThan(30_000);

  const again = await runCli(['ingest', box.zip, '--out', dir, ...SLOW]);
  expect(again.stdout).toMatch(/Resuming the unfinished run/);
  expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: '' });
  await expectCatalogOfManifest(dir);
});

test('the CLI killed mid-run: the re-run resumes the stage within 15 s', async () => {
  const dir = out('cli-killed');
  let done = -1;
  const killed = await runCli(['ingest', box.zip, '--out', dir, ...SLOW], {
    onStdout: (text, child) => {
      const m = /\[validate\] (\d+)\//.exec(text);
      if (m && Number(m[1]) > 0 && done < 0) {
        child.kill('SIGKILL');
        done = Number(m[1]);
      }
    },
  });
  expect(killed.signal).toBe('SIGKILL');
  const started = Date.now();
  let movedAfter = -1;
  const resumed = await runCli(['ingest', box.zip, '--out', dir, ...SLOW], {
    onStdout: (text) => {
      if (movedAfter >= 0) return;
      const counts = [...text.matchAll(/\[validate\] (\d+)\//g)].map((m) => Number(m[1]));
      if (counts.some((n) => n > done) || /\[(metadata|organize|load|report|done)/.test(text)) movedAfter = Date.now() - started;
    },
  });
  expect(resumed.stdout).toMatch(/Resuming the unfinished run/);
  expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: '' });
  console.log(`resume latency after SIGKILL of the CLI: ${(movedAfter / 1000).toFixed(1)} s (validated ${done} before the kill)`);
  expect(movedAfter).toBeGreaterThanOrEqual(0);
  expect(movedAfter).toBeLessThan(15_000);
  await expectCatalogOfManifest(dir);
});

test('a database that is down: the load stage retries, and the progress line says why and when the next try is', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const dir = out('db-down');
  let seen = '';
  const r = await runCli(['ingest', box.zip, '--out', dir, '--db', `postgres://dicomflow@127.0.0.1:${port}/catalog`], {
    onStdout: (text, child) => {
      const m = /\[load\][^\n]*attempt \d+, database unreachable: ECONNREFUSED[^\n]*next try in [\d.]+ s[^\n]*/.exec(text);
      if (m && !seen) {
        seen = m[0];
        child.kill('SIGKILL');
      }
    },
  });
  console.log(`database down, the progress line: ${seen}`);
  expect(seen).toMatch(/attempt \d+, database unreachable: ECONNREFUSED \(PostgreSQL postgres:\/\/dicomflow@127\.0\.0\.1:\d+\/catalog\), next try in/);
  expect(r.signal).toBe('SIGKILL');
});
