/**
 * Incremental ingestion of a folder (issue 8), with the real CLI, an embedded Temporal server and SQLite: the same
 * `ingest` again processes only the files new or changed since the last run, counts them ("N new, M changed, K
 * unchanged, J gone") in the summary, the run's result, the report and the runs table, records every file in the
 * `files` table, and leaves gone files' instances in the catalog and the tree unless --prune. A run killed mid-way and
 * resumed neither counts a file twice nor misses one added meanwhile.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Knex } from 'knex';
import { writeSynthFolder, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { cliTemp, runCli } from '../helpers/cli';
import { listFiles } from '../helpers/dataset';

jest.setTimeout(600_000);

const box = cliTemp('dicomflow-incremental-');

const count = (m: SynthManifest, status: string) => m.entries.filter((e) => e.status === status).length;
const runIdOf = (stdout: string) => /dicomflow run (\S+) completed/.exec(stdout)?.[1];

async function withCatalog<T>(dir: string, use: (knex: Knex) => Promise<T>): Promise<T> {
  const knex = await openCatalog({ outDir: dir });
  try {
    return await use(knex);
  } finally {
    await knex.destroy();
  }
}

test('folder: ingest, add 3 files, change 1, remove 1, ingest again: exactly those are processed and counted; --prune removes the gone instance', async () => {
  const folder = path.join(box.tmp, 'folder');
  const extra = path.join(box.tmp, 'extra');
  const m = await writeSynthFolder({ patients: 2, slices: 6, size: 32, seed: 51, outDir: folder });
  const more = await writeSynthFolder({ patients: 1, slices: 6, size: 32, seed: 52, outDir: extra });
  const dir = box.out('out');
  const total = m.entries.length;

  const first = await runCli(['ingest', folder, '--out', dir]);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
  expect(first.stdout).toContain(`files found ${total}: valid ${count(m, 'valid')}, invalid ${count(m, 'invalid')}`);
  expect(first.stdout).toContain(`since the last run: ${total} new, 0 changed, 0 unchanged, 0 gone`);
  const run1 = runIdOf(first.stdout)!;

  // 3 new files (instances of another dataset), 1 changed in place (one pixel byte), 1 removed.
  const added = [0, 1, 2].map((k) => `added/new-${k}.dcm`);
  more.instances.slice(0, 3).forEach((i, k) => {
    fs.mkdirSync(path.join(folder, 'added'), { recursive: true });
    fs.copyFileSync(path.join(extra, i.sourcePath), path.join(folder, added[k]));
  });
  const changed = m.instances[1];
  const removed = m.instances[2];
  const changedFile = path.join(folder, changed.sourcePath);
  const bytes = fs.readFileSync(changedFile);
  bytes[bytes.length - 1] ^= 0xff;
  fs.writeFileSync(changedFile, bytes);
  fs.rmSync(path.join(folder, removed.sourcePath));

  const second = await runCli(['ingest', folder, '--out', dir]);
  expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
  expect(second.stdout).toContain(`Looking for new and changed files in ${folder} since run ${run1}`);
  expect(second.stdout).toContain(`since the last run: 3 new, 1 changed, ${total - 2} unchanged, 1 gone`);
  // Only those 4 files went through the stages.
  expect(second.stdout).toContain('files found 4: valid 4, invalid 0, duplicates 0, conflicts 0, skipped 0, refused 0');
  const run2 = runIdOf(second.stdout)!;
  expect(run2).not.toBe(run1);
  const report = fs.readFileSync(path.join(dir, 'reports', 'report.html'), 'utf8');
  expect(report).toContain(`3 new, 1 changed, ${total - 2} unchanged, 1 gone`);

  await withCatalog(dir, async (knex) => {
    const validation = await knex('validation_results').where({ run_id: run2 }).select('path', 'status');
    expect(validation.map((v) => v.path).sort()).toEqual([...added, changed.sourcePath].sort());
    expect(await knex('runs').where({ run_id: run2 }).first()).toMatchObject({ new_files: 3, changed_files: 1, unchanged_files: total - 2, gone_files: 1, instances: 4 });

    const files = await knex('files').where({ source: folder }).select();
    const byPath = new Map(files.map((f) => [f.path as string, f]));
    expect(files).toHaveLength(total + 3);
    for (const p of added) expect(byPath.get(p)).toMatchObject({ first_run_id: run2, last_run_id: run2, status: 'valid', code: 'OK', extension: 'dcm', gone_run_id: null });
    expect(byPath.get(changed.sourcePath)).toMatchObject({ first_run_id: run1, last_run_id: run2, status: 'valid' });
    expect(byPath.get(removed.sourcePath)).toMatchObject({ first_run_id: run1, last_run_id: run1, gone_run_id: run2 });
    const unchanged = files.filter((f) => f.first_run_id === run1 && f.path !== changed.sourcePath && f.path !== removed.sourcePath);
    expect(unchanged).toHaveLength(total - 2);
    for (const f of unchanged) expect(f.last_run_id).toBe(run2);
    // Size, mtime, hash and path tags of a file as it is on disk.
    const f = byPath.get(changed.sourcePath)!;
    const stat = fs.statSync(changedFile);
    expect([Number(f.size), Number(f.mtime_ms)]).toEqual([stat.size, Math.trunc(stat.mtimeMs)]);
    expect(f.sha256).toBe(require('crypto').createHash('sha256').update(bytes).digest('hex'));
    expect(JSON.parse(f.path_tags)).toEqual(changed.sourcePath.split('/').slice(0, -1));

    // The catalog: the new instances added; the changed one reloaded by run 2; the removed one still there.
    const rows = await knex('dicom_metadata').select('sop_instance_uid', 'run_id', 'file_path');
    const owner = new Map(rows.map((r) => [r.sop_instance_uid, r]));
    expect(rows).toHaveLength(m.instances.length + 3);
    for (const i of more.instances.slice(0, 3)) expect(owner.get(i.sopInstanceUid)?.run_id).toBe(run2);
    expect(owner.get(changed.sopInstanceUid)?.run_id).toBe(run2);
    expect(owner.get(removed.sopInstanceUid)?.run_id).toBe(run1);
    expect(fs.existsSync(path.join(dir, owner.get(removed.sopInstanceUid)!.file_path))).toBe(true);
  });

  // Nothing new, --prune: the gone file's instance leaves the catalog and the tree; nothing is processed.
  const third = await runCli(['ingest', folder, '--out', dir, '--prune']);
  expect({ code: third.code, stderr: third.stderr }).toEqual({ code: 0, stderr: '' });
  expect(third.stdout).toContain(`since the last run: 0 new, 0 changed, ${total + 2} unchanged, 0 gone, 1 instance pruned`);
  expect(third.stdout).toContain('files found 0: valid 0');
  await withCatalog(dir, async (knex) => {
    const rows = await knex('dicom_metadata').select('sop_instance_uid');
    expect(rows).toHaveLength(m.instances.length + 2);
    expect(rows.map((r) => r.sop_instance_uid)).not.toContain(removed.sopInstanceUid);
  });
  expect(listFiles(path.join(dir, 'organized'))).toHaveLength(m.instances.length + 2);

  // Nothing new, nothing gone: the run only notes it saw every file; no stage runs and no empty report replaces the
  // latest one.
  const latest = fs.readlinkSync(path.join(dir, 'reports', 'latest'));
  const quiet = await runCli(['ingest', folder, '--out', dir]);
  expect({ code: quiet.code, stderr: quiet.stderr }).toEqual({ code: 0, stderr: '' });
  expect(quiet.stdout).toContain(`since the last run: 0 new, 0 changed, ${total + 2} unchanged, 0 gone`);
  expect(quiet.stdout).toMatch(/time per stage: extract [\d.]+ s, load [\d.]+ s\n/);
  expect(fs.readlinkSync(path.join(dir, 'reports', 'latest'))).toBe(latest);
  const run4 = runIdOf(quiet.stdout)!;
  await withCatalog(dir, async (knex) => {
    expect(await knex('runs').where({ run_id: run4 }).first()).toMatchObject({ source: folder, instances: 0, new_files: 0, unchanged_files: total + 2, gone_files: 0 });
    expect(await knex('files').where({ source: folder }).whereNull('gone_run_id').whereNot({ last_run_id: run4 }).count({ n: '*' })).toEqual([{ n: 0 }]);
  });
});

test('a run killed mid-way and resumed neither counts a file twice nor misses a file added meanwhile', async () => {
  const folder = path.join(box.tmp, 'killed');
  const m = await writeSynthFolder({ patients: 2, slices: 30, size: 32, seed: 53, outDir: folder });
  const dir = box.out('out-killed');
  const total = m.entries.length;
  // Tiny batches, one at a time: the run is still going when the command is killed, after its scan (the extract stage).
  const args = ['ingest', folder, '--out', dir, '--batch-size', '1', '--concurrency', '1'];
  const killed = await runCli(args, {
    onStdout: (text, child) => {
      if (/\[(validate|metadata|organize)\]/.test(text) && !child.killed) child.kill('SIGKILL');
    },
  });
  expect(killed.signal).toBe('SIGKILL');
  // Two files arrive while the run is stopped: not in the run that was planned before them, in the next one.
  const late = ['late/a.dcm', 'late/b.dcm'];
  fs.mkdirSync(path.join(folder, 'late'));
  for (const [k, p] of late.entries()) fs.copyFileSync(path.join(folder, m.instances[k].sourcePath), path.join(folder, p));

  const resumed = await runCli(args);
  expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: '' });
  expect(resumed.stdout).toContain('Resuming the unfinished run');
  expect(resumed.stdout).toContain(`since the last run: ${total} new, 0 changed, 0 unchanged, 0 gone`);
  expect(resumed.stdout).toContain(`files found ${total}: valid ${count(m, 'valid')}`);

  const next = await runCli(['ingest', folder, '--out', dir]);
  expect({ code: next.code, stderr: next.stderr }).toEqual({ code: 0, stderr: '' });
  expect(next.stdout).toContain(`since the last run: 2 new, 0 changed, ${total} unchanged, 0 gone`);
  // Same bytes as instances already placed from other files of the folder: duplicates.
  expect(next.stdout).toContain('files found 2: valid 0, invalid 0, duplicates 2');
  await withCatalog(dir, async (knex) => {
    const validation = await knex('validation_results').select('run_id', 'path');
    // Every file of the folder in exactly one run's rows.
    expect(validation.map((v) => v.path).sort()).toEqual([...m.entries.map((e) => e.path), ...late].sort());
    const files = await knex('files').where({ source: folder }).select('path');
    expect(files).toHaveLength(total + 2);
  });
});
