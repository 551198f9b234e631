/**
 * One catalog, many sources (issue 8): two different zips ingested one after the other into one DIR accumulate in one
 * catalog and one tree. The second zip holds copies of instances the first brought: the same bytes are duplicates, other
 * bytes conflicts, in the second run's report, exactly; the first run's copies and catalog rows stay, each row keeps
 * the run that brought it, and the runs table lists both runs with their source and counts.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeSynthFolder, type SynthManifest } from '../../src/synth';
import { writeZipFile } from '../../src/synth/zip';
import { openCatalog } from '../../src/db/catalog';
import { resolveSource, workflowIdFor } from '../../src/client/source';
import { cliTemp, runCli } from '../helpers/cli';
import { listFiles } from '../helpers/dataset';

jest.setTimeout(600_000);

const box = cliTemp('dicomflow-sources-');

const count = (m: SynthManifest, status: string) => m.entries.filter((e) => e.status === status).length;

/** A zip of files: [name in the zip, bytes]. */
async function zipOf(file: string, entries: [string, Buffer][]): Promise<string> {
  await writeZipFile(
    entries.map(([name, data]) => ({ name, data: () => data, compress: false })),
    file,
  );
  return file;
}

test('two different zips into one DIR: the catalog is the union, cross-run duplicates and conflicts are exact, earlier copies stay', async () => {
  const folderA = path.join(box.tmp, 'a');
  const folderB = path.join(box.tmp, 'b');
  const a = await writeSynthFolder({ patients: 2, slices: 6, size: 32, seed: 41, outDir: folderA });
  const b = await writeSynthFolder({ patients: 1, slices: 6, size: 32, seed: 42, outDir: folderB });
  const filesA = listFiles(folderA);
  const filesB = listFiles(folderB);
  const zipA = await zipOf(path.join(box.tmp, 'a.zip'), filesA.map((f) => [f, fs.readFileSync(path.join(folderA, f))]));
  // B: its own dataset, 3 of A's instances with the same bytes, 2 more of A's with one pixel byte changed.
  const same = a.instances.slice(0, 3);
  const changed = a.instances.slice(3, 5);
  const flipped = (p: string) => {
    const bytes = Buffer.from(fs.readFileSync(path.join(folderA, p)));
    bytes[bytes.length - 1] ^= 0xff;
    return bytes;
  };
  const zipB = await zipOf(path.join(box.tmp, 'b.zip'), [
    ...filesB.map((f): [string, Buffer] => [f, fs.readFileSync(path.join(folderB, f))]),
    ...same.map((i): [string, Buffer] => [`copies/${i.sourcePath}`, fs.readFileSync(path.join(folderA, i.sourcePath))]),
    ...changed.map((i): [string, Buffer] => [`changed/${i.sourcePath}`, flipped(i.sourcePath)]),
  ]);

  const dir = box.out('out');
  const [runA, runB] = [zipA, zipB].map((z) => workflowIdFor(resolveSource(z), dir));
  const first = await runCli(['ingest', zipA, '--out', dir]);
  expect({ code: first.code, stderr: first.stderr }).toEqual({ code: 0, stderr: '' });
  expect(first.stdout).toContain(`files found ${a.entries.length}: valid ${count(a, 'valid')}, invalid ${count(a, 'invalid')}, duplicates 0, conflicts 0`);
  const treeBefore = new Map(listFiles(path.join(dir, 'organized')).map((f) => [f, fs.readFileSync(path.join(dir, 'organized', f))]));

  const second = await runCli(['ingest', zipB, '--out', dir]);
  expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
  const entriesB = filesB.length + same.length + changed.length;
  expect(second.stdout).toContain(
    `files found ${entriesB}: valid ${count(b, 'valid')}, invalid ${count(b, 'invalid')}, duplicates ${same.length}, conflicts ${changed.length}`,
  );
  expect(second.stdout).toContain(`${b.instances.length} instances`);

  const knex = await openCatalog({ outDir: dir });
  try {
    // The union; each row under the run that brought it (A's instances stay A's, B's copies changed nothing).
    const rows = await knex('dicom_metadata').select('sop_instance_uid', 'run_id', 'file_path', 'source_path');
    const owner = new Map(rows.map((r) => [r.sop_instance_uid as string, r.run_id as string]));
    expect(rows).toHaveLength(a.instances.length + b.instances.length);
    for (const i of a.instances) expect(owner.get(i.sopInstanceUid)).toBe(runA);
    for (const i of b.instances) expect(owner.get(i.sopInstanceUid)).toBe(runB);
    for (const i of [...same, ...changed]) expect(rows.find((r) => r.sop_instance_uid === i.sopInstanceUid)?.source_path).toBe(i.sourcePath);

    // B's report: the copies are duplicates, the changed ones conflicts, exactly; nothing else is either.
    const validation = await knex('validation_results').where({ run_id: runB }).select('path', 'status', 'code', 'message');
    const byPath = new Map(validation.map((v) => [v.path as string, v]));
    expect(validation).toHaveLength(entriesB);
    for (const i of same) expect(byPath.get(`copies/${i.sourcePath}`)).toMatchObject({ status: 'duplicate', code: 'DUPLICATE_INSTANCE' });
    for (const i of changed) expect(byPath.get(`changed/${i.sourcePath}`)).toMatchObject({ status: 'conflict', code: 'CONFLICTING_INSTANCE' });
    expect(validation.filter((v) => v.status === 'duplicate')).toHaveLength(same.length);
    expect(validation.filter((v) => v.status === 'conflict')).toHaveLength(changed.length);
    const csv = fs.readFileSync(path.join(dir, 'reports', 'validation.csv'), 'utf8');
    for (const i of changed) expect(csv).toContain(`changed/${i.sourcePath},conflict,CONFLICTING_INSTANCE`);

    // The runs table lists both, with source and counts.
    const runs = await knex('runs').select('run_id', 'source', 'instances', 'validation_rows').orderBy('loaded_at');
    expect(runs).toEqual([
      { run_id: runA, source: zipA, instances: a.instances.length, validation_rows: a.entries.length },
      { run_id: runB, source: zipB, instances: b.instances.length, validation_rows: entriesB },
    ]);
  } finally {
    await knex.destroy();
  }

  // The tree: A's files unchanged (the conflicting bytes were not placed), B's added.
  const tree = listFiles(path.join(dir, 'organized'));
  expect(tree).toHaveLength(a.instances.length + b.instances.length);
  for (const [f, bytes] of treeBefore) expect(fs.readFileSync(path.join(dir, 'organized', f))).toEqual(bytes);

  // The same zip again: its hash says it is unchanged, nothing runs.
  const again = await runCli(['ingest', zipA, '--out', dir]);
  expect(again.code).toBe(0);
  expect(again.stdout).toContain(`already ingested into ${dir} (run ${runA})`);
  expect(again.stdout).not.toContain('Started');

  // The zip rewritten with one more instance: a new run; what the first run brought is duplicates, the new one valid.
  const c = await writeSynthFolder({ patients: 1, slices: 2, size: 32, seed: 43, outDir: path.join(box.tmp, 'c') });
  const extra = c.instances[0];
  await zipOf(zipA, [
    ...filesA.map((f): [string, Buffer] => [f, fs.readFileSync(path.join(folderA, f))]),
    [`extra/${extra.sourcePath}`, fs.readFileSync(path.join(box.tmp, 'c', extra.sourcePath))],
  ]);
  const changedZip = await runCli(['ingest', zipA, '--out', dir]);
  expect({ code: changedZip.code, stderr: changedZip.stderr }).toEqual({ code: 0, stderr: '' });
  expect(changedZip.stdout).toContain(`The zip changed since run ${runA}`);
  expect(changedZip.stdout).toContain(
    `files found ${a.entries.length + 1}: valid 1, invalid ${count(a, 'invalid')}, duplicates ${a.instances.length}, conflicts 0`,
  );
  const runA2 = /dicomflow run (\S+) completed/.exec(changedZip.stdout)![1];
  expect(runA2).not.toBe(runA);
  const knex2 = await openCatalog({ outDir: dir });
  try {
    expect(await knex2('dicom_metadata').where({ sop_instance_uid: extra.sopInstanceUid }).first()).toMatchObject({ run_id: runA2 });
    expect(await knex2('dicom_metadata').where({ run_id: runA }).count({ n: '*' })).toEqual([{ n: a.instances.length }]);
    const runs = await knex2('runs').select('run_id', 'source', 'source_sha256').orderBy('loaded_at');
    expect(runs.map((r) => [r.run_id, r.source])).toEqual([
      [runA, zipA],
      [runB, zipB],
      [runA2, zipA],
    ]);
    expect(runs[2].source_sha256).toBe(require('crypto').createHash('sha256').update(fs.readFileSync(zipA)).digest('hex'));
    expect(runs[0].source_sha256).not.toBe(runs[2].source_sha256);
    // The file catalog: every entry of both versions of zip A, once, the extra one first seen by the new run.
    const files = await knex2('files').where({ source: zipA }).select('path', 'first_run_id', 'last_run_id');
    expect(files).toHaveLength(a.entries.length + 1);
    expect(files.find((f) => f.path === `extra/${extra.sourcePath}`)).toMatchObject({ first_run_id: runA2, last_run_id: runA2 });
  } finally {
    await knex2.destroy();
  }
});
