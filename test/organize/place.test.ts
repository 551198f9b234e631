/**
 * The organized tree is shared by every run into DIR: a placement is an exclusive create, a file already there is
 * never replaced (same bytes: the same instance, already there; other bytes: a conflict, not placed), also when two
 * processes place into the same names at the same moment; and two runs' organize stages, each in its own scratch
 * folder, keep the duplicate/conflict rules between them.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { placeChunkOnThread, placeFile } from '../../src/organize/place';
import { validateBatch } from '../../src/activities/validate';
import { collectMetadata } from '../../src/activities/metadata';
import { organize, type OrganizeResult } from '../../src/activities/organize';
import { workspace } from '../../src/workspace';
import { readAllJsonLines, writeJsonLines } from '../../src/io/jsonl';
import type { EntryRecord, InstanceRecord, OutcomeRecord } from '../../src/records';
import { writeInstance, type InstanceSpec } from '../helpers/instances';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-place-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  return file;
}

test('a file already in the tree is never replaced: same bytes are already there, other bytes a conflict', () => {
  const dest = path.join(tmp, 'organized', 'P', 'st', 'se', '1.dcm');
  const first = write('run-a/1.dcm', 'instance bytes');
  expect(placeFile(first, dest)).toBe('linked');
  expect(placeFile(first, dest)).toBe('already-there'); // a retry of the same run
  const sameBytes = write('run-b/1.dcm', 'instance bytes'); // another run's copy of the same instance
  expect(placeFile(sameBytes, dest)).toBe('already-there');
  const otherBytes = write('run-c/1.dcm', 'other bytes!!!'); // same size, other content
  expect(placeFile(otherBytes, dest)).toBe('conflict');
  expect(fs.readFileSync(dest, 'utf8')).toBe('instance bytes');
  expect(fs.statSync(dest).ino).toBe(fs.statSync(first).ino); // still run A's file, never rewritten
  expect(fs.readdirSync(path.dirname(dest))).toEqual(['1.dcm']); // no temp file left
});

test("a chunk placed on organize's placing thread: each pair's placement in order; a failure keeps its code and the thread goes on", async () => {
  // The compiled worker script is under dist/ (npm test builds first): this runs on the pool's thread.
  expect(fs.existsSync(path.resolve(__dirname, '../../dist/organize/place-worker.js'))).toBe(true);
  const tree = path.join(tmp, 'organized', 'P', 'st', 'se');
  const a = write('x/a.dcm', 'bytes a');
  const b = write('x/b.dcm', 'bytes b');
  const other = write('y/a.dcm', 'other bytes');
  const same = write('z/a.dcm', 'bytes a');
  expect(await placeChunkOnThread([[a, path.join(tree, 'a.dcm')], [b, path.join(tree, 'b.dcm')], [same, path.join(tree, 'a.dcm')], [other, path.join(tree, 'a.dcm')]])).toEqual([
    'linked',
    'linked',
    'already-there',
    'conflict',
  ]);
  expect(fs.statSync(path.join(tree, 'a.dcm')).ino).toBe(fs.statSync(a).ino);

  const missing = path.join(tmp, 'x', 'gone.dcm');
  await expect(placeChunkOnThread([[missing, path.join(tree, 'gone.dcm')]])).rejects.toMatchObject({ code: 'ENOENT', message: expect.stringContaining('gone.dcm') });
  // The thread survived the failure; a tree folder removed meanwhile is made again.
  fs.rmSync(path.join(tmp, 'organized'), { recursive: true });
  expect(await placeChunkOnThread([[b, path.join(tree, 'b.dcm')]])).toEqual(['linked']);
});

test('two processes placing into the same names at the same moment: each name holds one whole file, one winner each', async () => {
  const placeJs = path.resolve(__dirname, '..', '..', 'dist', 'organize', 'place.js');
  if (!fs.existsSync(placeJs)) throw new Error(`${placeJs} is missing: run npm run build first`);
  const names = 300;
  const organized = path.join(tmp, 'organized');
  // Each contender has its own file per name (its own bytes, the same size), and places them all as fast as it can.
  const contenders = ['a', 'b', 'c'].map((who) => {
    const files = Array.from({ length: names }, (_, k) => write(`${who}/${k}.dcm`, `${who}`.repeat(4096) + String(k).padStart(4, '0')));
    return { who, files };
  });
  const script = `
    const { placeFile } = require(${JSON.stringify(placeJs)});
    const path = require('path');
    const [files, organized] = JSON.parse(process.argv[1]);
    const out = files.map((f, k) => placeFile(f, path.join(organized, String(k % 7), k + '.dcm')));
    process.stdout.write(JSON.stringify(out));`;
  const results = await Promise.all(
    contenders.map(
      ({ files }) =>
        new Promise<string[]>((resolve, reject) => {
          const child = spawn(process.execPath, ['-e', script, JSON.stringify([files, organized])], { stdio: ['ignore', 'pipe', 'inherit'] });
          let stdout = '';
          child.stdout.on('data', (d) => (stdout += d));
          child.on('error', reject);
          child.on('close', (code) => (code === 0 ? resolve(JSON.parse(stdout)) : reject(new Error(`placer exited ${code}`))));
        }),
    ),
  );
  for (let k = 0; k < names; k++) {
    const outcomes = results.map((r) => r[k]);
    expect(outcomes.filter((o) => o === 'linked')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'conflict')).toHaveLength(contenders.length - 1);
    const winner = contenders[outcomes.indexOf('linked')];
    const dest = path.join(organized, String(k % 7), `${k}.dcm`);
    expect(fs.readFileSync(dest)).toEqual(fs.readFileSync(winner.files[k]));
  }
  const left = fs.readdirSync(organized).flatMap((d) => fs.readdirSync(path.join(organized, d)));
  expect(left.filter((f) => !/^\d+\.dcm$/.test(f))).toEqual([]); // no temp files
});

/** One run's source: entries in one candidate batch, validated and read, in the run's own scratch folder. */
async function prepareRun(outDir: string, runKey: string, specs: InstanceSpec[]): Promise<string[]> {
  const ws = workspace(outDir, runKey);
  const files = specs.map((spec, i) => writeInstance(path.join(ws.extractedDir, `f${i}.dcm`), spec));
  const entries: EntryRecord[] = files.map((file, i) => ({ i, source: `f${i}.dcm`, file, status: null }));
  await writeJsonLines(ws.entriesManifest, entries);
  await writeJsonLines(ws.candidateBatch(0), entries);
  await new MockActivityEnvironment().run(validateBatch, { outDir, batchIndex: 0, runKey });
  await new MockActivityEnvironment().run(collectMetadata, { outDir, batchCount: 1, runKey });
  return files;
}

test("two runs organizing into one DIR: the later one's same instance is a duplicate of the one already there, its other bytes a conflict", async () => {
  const outDir = path.join(tmp, 'out');
  const x = { patientId: 'P1', sop: '1.2.3.4.1', instanceNumber: 1, z: 0 };
  const z = { patientId: 'P1', sop: '1.2.3.4.3', instanceNumber: 3, z: 5 };
  const filesA = await prepareRun(outDir, 'run-a', [x, z]);
  const filesB = await prepareRun(outDir, 'run-b', [
    x, // same bytes as run A's
    { patientId: 'P1', sop: '1.2.3.4.2', instanceNumber: 2, z: 2.5 }, // only in run B
    { ...z, pixelValue: 9 }, // run A's SOP Instance UID, other bytes
  ]);

  // Both organize at once, each in its own scratch folder.
  const [a, b] = (await Promise.all([
    new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-a' }),
    new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-b' }),
  ])) as OrganizeResult[];
  // Placement is synchronous per file, so which run wins a name is decided file by file; either way no file is
  // replaced, and only z (other bytes) can be a conflict.
  const outcomesA = await readAllJsonLines<OutcomeRecord>(workspace(outDir, 'run-a').outcomes);
  const outcomesB = await readAllJsonLines<OutcomeRecord>(workspace(outDir, 'run-b').outcomes);
  const zA = outcomesA[1];
  const zB = outcomesB[2];
  expect([zA.status, zB.status].sort()).toEqual(['conflict', 'valid']);
  const loser = zA.status === 'conflict' ? zA : zB;
  expect(loser.code).toBe('CONFLICTING_INSTANCE');
  expect(loser.message).toMatch(/already in the tree .* with different bytes, placed by another run/);
  // x: whichever run placed it first has it; the other's copy (same bytes, another file) is a duplicate of it.
  expect([outcomesA[0].status, outcomesB[0].status].sort()).toEqual(['duplicate', 'valid']);
  const xDuplicate = outcomesA[0].status === 'duplicate' ? outcomesA[0] : outcomesB[0];
  expect(xDuplicate.code).toBe('DUPLICATE_INSTANCE');
  expect(xDuplicate.message).toMatch(/already placed by an earlier run/);
  expect(outcomesB[1].status).toBe('valid');
  expect(a.conflicts + b.conflicts).toBe(1);
  expect(a.duplicates + b.duplicates).toBe(1);

  const zPlaced = path.join(outDir, 'organized', 'P1', '1.2.3', '1.2.3.4', '1.2.3.4.3.dcm');
  expect(fs.readFileSync(zPlaced)).toEqual(fs.readFileSync(zA.status === 'valid' ? filesA[1] : filesB[2]));
  // The conflict is not catalogued by the run that lost it: its instances hold what it placed or found there.
  const instancesB = await readAllJsonLines<InstanceRecord>(workspace(outDir, 'run-b').instances);
  const wantB = [...(outcomesB[0].status === 'valid' ? ['1.2.3.4.1'] : []), '1.2.3.4.2', ...(zB.status === 'valid' ? ['1.2.3.4.3'] : [])];
  expect(instancesB.map((r) => r.fields.sopInstanceUid)).toEqual(wantB);

  // A third run, after both: z with yet other bytes is a conflict, x the same instance; nothing in the tree changes.
  const before = fs.readFileSync(zPlaced);
  await prepareRun(outDir, 'run-c', [x, { ...z, pixelValue: 7 }]);
  const c = await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-c' });
  expect(c).toMatchObject({ placed: 0, duplicates: 1, conflicts: 1 });
  const outcomesC = await readAllJsonLines<OutcomeRecord>(workspace(outDir, 'run-c').outcomes);
  expect(outcomesC.map((o) => [o.status, o.code])).toEqual([
    ['duplicate', 'DUPLICATE_INSTANCE'],
    ['conflict', 'CONFLICTING_INSTANCE'],
  ]);
  // A retried organize of run C (its summary gone) judges the same: its journal names nothing it placed.
  fs.rmSync(path.join(workspace(outDir, 'run-c').workDir, 'organize.json'));
  expect(await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-c' })).toMatchObject({ placed: 0, duplicates: 1, conflicts: 1 });
  expect(fs.readFileSync(zPlaced)).toEqual(before);
  // A retried organize keeps what its earlier attempt placed as its own, a copy (another file, as across devices)
  // included: its journal names it. Without the journal the same file would be another run's.
  const w = { patientId: 'P1', sop: '1.2.3.4.9', instanceNumber: 9, z: 20 };
  await prepareRun(outDir, 'run-d', [w]);
  expect(await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-d' })).toMatchObject({ placed: 1, duplicates: 0 });
  const wPlaced = path.join(outDir, 'organized', 'P1', '1.2.3', '1.2.3.4', '1.2.3.4.9.dcm');
  const copy = fs.readFileSync(wPlaced);
  fs.rmSync(wPlaced);
  fs.writeFileSync(wPlaced, copy); // same bytes, another inode
  const dWork = workspace(outDir, 'run-d').workDir;
  fs.rmSync(path.join(dWork, 'organize.json'));
  expect(await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-d' })).toMatchObject({ placed: 1, duplicates: 0 });
  fs.rmSync(path.join(dWork, 'organize.json'));
  fs.rmSync(path.join(dWork, 'placing.txt'));
  expect(await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1, runKey: 'run-d' })).toMatchObject({ placed: 0, duplicates: 1 });

  // The runs' scratch folders are their own: nothing in the shared layout's DIR/work.
  expect(fs.readdirSync(path.join(outDir, 'work')).sort()).toEqual(['runs']);
});
