/**
 * The header pass (validate), the metadata stage and organize, through MockActivityEnvironment:
 * a batch resumes from its heartbeat details without rereading finished files, a finished batch is not redone,
 * and organize keeps the first copy in source order, reports duplicates and conflicts, and is idempotent.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { validateBatch } from '../../src/activities/validate';
import { collectMetadata, readMetadataBatch } from '../../src/activities/metadata';
import { organize } from '../../src/activities/organize';
import { workspace } from '../../src/workspace';
import { readAllJsonLines, writeJsonLines } from '../../src/io/jsonl';
import type { EntryRecord, MetadataRecord, OutcomeRecord, ValidateRecord, InstanceRecord } from '../../src/records';
import { writeInstance } from '../helpers/instances';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-batches-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** n entries in one candidate batch: valid instances, with every 5th file a text file. */
async function candidates(outDir: string, n: number): Promise<EntryRecord[]> {
  const ws = workspace(outDir);
  const entries: EntryRecord[] = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(tmp, 'src', `f${String(i).padStart(3, '0')}.dcm`);
    if (i % 5 === 4) {
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, 'not dicom\n');
    } else {
      writeInstance(file, { sop: `1.2.3.4.${i}`, instanceNumber: i + 1, z: i * 2.5 });
    }
    entries.push({ i, source: `src/f${i}.dcm`, file, status: null });
  }
  await writeJsonLines(ws.candidateBatch(0), entries);
  return entries;
}

test('validateBatch reads each file once, resumes from its heartbeat without rereading finished files', async () => {
  const outDir = path.join(tmp, 'out');
  const ws = workspace(outDir);
  const entries = await candidates(outDir, 80);

  // A full run, for reference: a validate record per file, a metadata record per valid file.
  const full = await new MockActivityEnvironment().run(validateBatch, { outDir, batchIndex: 0 });
  expect(full).toEqual({ batchIndex: 0, processed: 80, invalid: 16 });
  const reference = fs.readFileSync(ws.batchFile('validate', 0), 'utf8');
  const referenceMeta = fs.readFileSync(ws.batchFile('metadata', 0), 'utf8');
  const records = reference.trim().split('\n').map((l) => JSON.parse(l) as ValidateRecord);
  expect(records.map((r) => r.i)).toEqual(entries.map((e) => e.i));
  expect(records.filter((r) => r.status === 'invalid').every((r) => r.code === 'NOT_DICOM')).toBe(true);
  const metadata = referenceMeta.trim().split('\n').map((l) => JSON.parse(l) as MetadataRecord);
  expect(metadata.map((m) => m.i)).toEqual(records.filter((r) => r.status === 'valid').map((r) => r.i));
  expect(metadata[0].meta['00080018']).toEqual({ vr: 'UI', Value: ['1.2.3.4.0'] });

  // A crashed attempt: both partial files hold the first 32 files' records plus a torn line written after the heartbeat.
  const doneLines = reference.split('\n').slice(0, 32).join('\n') + '\n';
  const doneMeta = referenceMeta.split('\n').filter((l) => l && (JSON.parse(l) as MetadataRecord).i < 32).join('\n') + '\n';
  fs.rmSync(ws.batchFile('validate', 0));
  fs.rmSync(ws.batchFile('metadata', 0));
  fs.writeFileSync(ws.batchFile('validate', 0) + '.partial', doneLines + '{"i":32,"sta');
  fs.writeFileSync(ws.batchFile('metadata', 0) + '.partial', doneMeta + '{"i":32,"sou');
  // The finished files are gone: rereading any of them would change the result.
  for (const e of entries.slice(0, 32)) fs.rmSync(e.file!);

  const env = new MockActivityEnvironment({ heartbeatDetails: { done: 32, bytes: Buffer.byteLength(doneLines), metadataBytes: Buffer.byteLength(doneMeta) } });
  const beats: unknown[] = [];
  env.on('heartbeat', (d) => beats.push(d));
  const resumed = await env.run(validateBatch, { outDir, batchIndex: 0 });
  expect(resumed).toEqual(full);
  expect(fs.readFileSync(ws.batchFile('validate', 0), 'utf8')).toBe(reference);
  expect(fs.readFileSync(ws.batchFile('metadata', 0), 'utf8')).toBe(referenceMeta);
  expect(beats.length).toBeGreaterThan(0);
  expect((beats[beats.length - 1] as { done: number }).done).toBe(80);

  // Finished: a retry returns the same counts, and the metadata stage takes the records over, without reading anything.
  for (const e of entries.slice(32)) fs.rmSync(e.file!);
  expect(await new MockActivityEnvironment().run(validateBatch, { outDir, batchIndex: 0 })).toEqual(full);
  expect(await new MockActivityEnvironment().run(collectMetadata, { outDir, batchCount: 1 })).toEqual({ processed: 64 });
  expect(fs.readFileSync(ws.batchFile('metadata', 0), 'utf8')).toBe(referenceMeta);
});

test('a batch validated by the earlier version (no metadata records) has only its valid files read again', async () => {
  const outDir = path.join(tmp, 'out');
  const ws = workspace(outDir);
  await candidates(outDir, 10);
  await new MockActivityEnvironment().run(validateBatch, { outDir, batchIndex: 0 });
  const referenceMeta = fs.readFileSync(ws.batchFile('metadata', 0), 'utf8');
  fs.rmSync(ws.batchFile('metadata', 0));
  expect(await new MockActivityEnvironment().run(collectMetadata, { outDir, batchCount: 1 })).toEqual({ processed: 8 });
  expect(fs.readFileSync(ws.batchFile('metadata', 0), 'utf8')).toBe(referenceMeta);
  // the per-batch activity of the earlier workflow version finds it done
  expect(await new MockActivityEnvironment().run(readMetadataBatch, { outDir, batchIndex: 0 })).toEqual({ batchIndex: 0, processed: 8, invalid: 0 });
});

test('organize keeps the first copy in source order and reports duplicates and conflicts', async () => {
  const outDir = path.join(tmp, 'out');
  const ws = workspace(outDir);
  const spec = { patientId: 'LIDC-IDRI-0001', sop: '1.2.3.4.1', instanceNumber: 1, z: 0 };
  const files = [
    writeInstance(path.join(tmp, 'src', 'a.dcm'), spec),
    writeInstance(path.join(tmp, 'src', 'b.dcm'), { ...spec, sop: '1.2.3.4.2', instanceNumber: 2, z: 2.5 }),
    writeInstance(path.join(tmp, 'src', 'copy-of-a.dcm'), spec), // same bytes
    writeInstance(path.join(tmp, 'src', 'other-a.dcm'), { ...spec, pixelValue: 9 }), // same SOP, other bytes
  ];
  const entries: EntryRecord[] = [
    { i: 0, source: 'a.dcm', file: files[0], status: null },
    { i: 1, source: '__MACOSX/._a.dcm', file: null, status: 'skipped', code: 'SKIPPED_MACOS_METADATA', message: 'macOS metadata' },
    { i: 2, source: 'b.dcm', file: files[1], status: null },
    { i: 3, source: 'copy-of-a.dcm', file: files[2], status: null },
    { i: 4, source: 'other-a.dcm', file: files[3], status: null },
  ];
  await writeJsonLines(ws.entriesManifest, entries);
  await writeJsonLines(ws.candidateBatch(0), entries.filter((e) => e.status === null));
  await new MockActivityEnvironment().run(validateBatch, { outDir, batchIndex: 0 });
  await new MockActivityEnvironment().run(collectMetadata, { outDir, batchCount: 1 });

  const result = await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1 });
  expect(result).toMatchObject({ placed: 2, duplicates: 1, conflicts: 1 });
  const outcomes = await readAllJsonLines<OutcomeRecord>(ws.outcomes);
  expect(outcomes.map((o) => [o.path, o.status, o.code])).toEqual([
    ['a.dcm', 'valid', 'OK'],
    ['__MACOSX/._a.dcm', 'skipped', 'SKIPPED_MACOS_METADATA'],
    ['b.dcm', 'valid', 'OK'],
    ['copy-of-a.dcm', 'duplicate', 'DUPLICATE_INSTANCE'],
    ['other-a.dcm', 'conflict', 'CONFLICTING_INSTANCE'],
  ]);
  // Both sides of the conflict are reported.
  expect(outcomes[0].message).toContain('other-a.dcm');
  expect(outcomes[4].message).toContain('a.dcm');

  const placed = path.join(outDir, 'organized', 'LIDC-IDRI-0001', '1.2.3', '1.2.3.4', '1.2.3.4.1.dcm');
  expect(fs.readFileSync(placed)).toEqual(fs.readFileSync(files[0]));
  expect(fs.statSync(placed).ino).toBe(fs.statSync(files[0]).ino); // hard-linked, not copied
  const instances = await readAllJsonLines<InstanceRecord>(ws.instances);
  expect(instances.map((r) => r.source)).toEqual(['a.dcm', 'b.dcm']);

  // Idempotent: a retry after the summary was lost places nothing twice and writes the same outcomes.
  fs.rmSync(path.join(ws.workDir, 'organize.json'));
  const before = fs.readFileSync(ws.outcomes, 'utf8');
  const again = await new MockActivityEnvironment().run(organize, { outDir, batchCount: 1 });
  expect(again).toMatchObject({ placed: 2, linked: 0, duplicates: 1, conflicts: 1 });
  expect(fs.readFileSync(ws.outcomes, 'utf8')).toBe(before);
});
