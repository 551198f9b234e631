import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment as BaseEnv } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { extract, ExtractHeartbeat } from '../../src/activities/extract';
import type { EntryRecord } from '../../src/records';
import { workspace } from '../../src/workspace';
import { buildZip, FixtureEntry, listFiles, readAll } from '../io/zip-fixtures';

/** The activity environment, without the SDK's WARN line for every failure these tests expect. */
class MockActivityEnvironment extends BaseEnv {
  constructor(info?: ConstructorParameters<typeof BaseEnv>[0]) {
    super(info, { logger: new DefaultLogger('ERROR') });
  }
}

let root: string;
let outDir: string;
let zipPath: string;

/** 24 files in 3 series, a nested zip of 4 more, a README, 3 macOS forks: 33 entries, 29 candidates. */
async function datasetZip(): Promise<Buffer> {
  const entries: FixtureEntry[] = [];
  for (let s = 0; s < 3; s++) {
    for (let k = 0; k < 8; k++) entries.push({ name: `P1/study/series${s}/1-${String(k).padStart(3, '0')}.dcm`, data: `s${s} k${k} `.repeat(50 + k) });
    entries.push({ name: `__MACOSX/P1/study/series${s}/._x`, data: 'fork' });
  }
  const nested = await buildZip([0, 1, 2, 3].map((k) => ({ name: `more/${k}.dcm`, data: `nested ${k} `.repeat(40) })));
  entries.splice(10, 0, { name: 'extra/more.zip', data: nested });
  entries.push({ name: 'README.txt', data: 'not dicom, but a candidate: validation decides' });
  return buildZip(entries);
}

beforeEach(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'extract-'));
  outDir = path.join(root, 'out');
  zipPath = path.join(root, 'source.zip');
  fs.writeFileSync(zipPath, await datasetZip());
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** inode and mtime of every file under a folder: a rewrite changes one or the other. */
function identities(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of listFiles(dir)) {
    const s = fs.statSync(path.join(dir, rel));
    out[rel] = `${s.ino}:${s.mtimeMs}`;
  }
  return out;
}

const input = (extra: object = {}) => ({ source: zipPath, outDir, batchSize: 5, ...extra });

test('extracts a zip: manifest in source order, candidate batches, heartbeats with entryIndex and bytes', async () => {
  const env = new MockActivityEnvironment();
  const beats: ExtractHeartbeat[] = [];
  env.on('heartbeat', (d: ExtractHeartbeat) => beats.push(d));
  const result = (await env.run(extract, input())) as Awaited<ReturnType<typeof extract>>;

  expect(result).toMatchObject({ entries: 33, candidates: 29, skipped: 4, refused: 0, batchCount: 6 });
  const ws = workspace(outDir);
  const records = await readAll<EntryRecord>(ws.entriesManifest);
  expect(records.map((r) => r.i)).toEqual(records.map((_, k) => k));
  expect(records[10]).toMatchObject({ source: 'extra/more.zip', status: 'skipped', code: 'SKIPPED_NESTED_ZIP' });
  expect(records[11]).toMatchObject({ source: 'extra/more.zip/more/0.dcm', file: path.join(ws.extractedDir, 'extra/more.zip.d/more/0.dcm') });

  const candidates = records.filter((r) => r.status === null);
  const batches: EntryRecord[][] = [];
  for (let k = 0; k < result.batchCount; k++) batches.push(await readAll<EntryRecord>(ws.candidateBatch(k)));
  expect(batches.map((b) => b.length)).toEqual([5, 5, 5, 5, 5, 4]);
  expect(batches.flat()).toEqual(candidates);
  const bytes = candidates.reduce((sum, r) => sum + fs.statSync(r.file!).size, 0);
  expect(result.bytes).toBe(bytes);

  expect(beats.length).toBeGreaterThan(0);
  const last = beats[beats.length - 1];
  expect(last.entryIndex).toBe(33);
  expect(last.bytes).toBeGreaterThanOrEqual(bytes);
});

test("a run's extraction of a zip records the zip's SHA-256 in its scratch, taken beside the unpacking", async () => {
  const env = new MockActivityEnvironment();
  await env.run(extract, input({ runKey: 'run-1' }));
  const expected = createHash('sha256').update(fs.readFileSync(zipPath)).digest('hex');
  expect(fs.readFileSync(workspace(outDir, 'run-1').sourceSha256, 'utf8')).toBe(expected);
});

test('a completed extraction is only counted again: nothing rewritten, the source not even read', async () => {
  const first = await new MockActivityEnvironment().run(extract, input());
  const before = identities(outDir);
  fs.rmSync(zipPath); // proves the second run does not go back to the zip
  const second = await new MockActivityEnvironment().run(extract, input());
  expect(second).toEqual(first);
  expect(identities(outDir)).toEqual(before);
});

test('a new batchSize on a completed extraction re-splits the manifest without re-extracting', async () => {
  await new MockActivityEnvironment().run(extract, input());
  const extractedBefore = identities(workspace(outDir).extractedDir);
  const result = (await new MockActivityEnvironment().run(extract, input({ batchSize: 10 }))) as Awaited<ReturnType<typeof extract>>;
  expect(result.batchCount).toBe(3);
  expect(fs.existsSync(workspace(outDir).candidateBatch(3))).toBe(false);
  expect(identities(workspace(outDir).extractedDir)).toEqual(extractedBefore);
});

test('a retry keeps every file an earlier attempt wrote whole and rewrites the rest', async () => {
  const reference = await new MockActivityEnvironment().run(extract, input());
  const ws = workspace(outDir);
  const manifestBefore = fs.readFileSync(ws.entriesManifest, 'utf8');
  const records = await readAll<EntryRecord>(ws.entriesManifest);

  // The state a crash leaves: no manifest or batches yet, a file cut short, a file not there, and a stale file
  // of the same size but other bytes (another source extracted into the same folder earlier).
  fs.rmSync(ws.workDir, { recursive: true });
  const cut = records[3].file!;
  fs.truncateSync(cut, 10);
  const missing = records[20].file!;
  fs.rmSync(missing);
  const stale = records[5].file!;
  const staleBytes = Buffer.from(fs.readFileSync(stale));
  staleBytes[0] ^= 0xff;
  fs.writeFileSync(stale, staleBytes);
  const staleLink = path.join(root, 'linked-elsewhere.dcm');
  fs.linkSync(stale, staleLink); // as the organized tree links it: a rewrite must not write through the link
  const whole = records.filter((r) => r.file && ![cut, missing, stale].includes(r.file)).map((r) => r.file!);
  const idOf = (f: string) => `${fs.statSync(f).ino}:${fs.statSync(f).mtimeMs}`;
  const before = new Map([...whole, cut, stale].map((f) => [f, idOf(f)]));
  await new Promise((r) => setTimeout(r, 20)); // so a rewrite shows in mtime even where the inode is reused

  const env = new MockActivityEnvironment({ heartbeatDetails: { phase: 'extract', entryIndex: 15, bytes: 1 } });
  const result = await env.run(extract, input());
  expect(result).toEqual(reference);
  expect(fs.readFileSync(ws.entriesManifest, 'utf8')).toBe(manifestBefore);
  for (const f of whole) expect(idOf(f)).toBe(before.get(f));
  for (const f of [cut, stale]) expect(idOf(f)).not.toBe(before.get(f));
  expect(fs.readFileSync(cut, 'utf8')).toBe('s0 k3 '.repeat(53));
  expect(fs.readFileSync(stale, 'utf8')).toBe('s0 k5 '.repeat(55));
  expect(fs.readFileSync(staleLink).equals(staleBytes)).toBe(true); // the other link still holds what it held
  expect(fs.existsSync(missing)).toBe(true);
});

test('cancelled mid-run, then retried with the last heartbeat, it ends with the same manifest as an uninterrupted run', async () => {
  const refOut = path.join(root, 'reference');
  await new MockActivityEnvironment().run(extract, { ...input(), outDir: refOut });
  const reference = fs.readFileSync(workspace(refOut).entriesManifest, 'utf8').split(refOut).join('<OUT>');

  const env = new MockActivityEnvironment();
  let last: ExtractHeartbeat | undefined;
  env.on('heartbeat', (d: ExtractHeartbeat) => {
    last = d;
    env.cancel();
  });
  await expect(env.run(extract, input())).rejects.toBeTruthy();
  expect(last).toBeDefined();
  expect(last!.entryIndex).toBeLessThan(33); // stopped before the end
  expect(fs.existsSync(workspace(outDir).entriesManifest)).toBe(false);

  const result = (await new MockActivityEnvironment({ heartbeatDetails: last }).run(extract, input())) as Awaited<ReturnType<typeof extract>>;
  expect(result.entries).toBe(33);
  expect(fs.readFileSync(workspace(outDir).entriesManifest, 'utf8').split(outDir).join('<OUT>')).toBe(reference);
});

test('a zip bomb fails the activity with non-retryable ZipTooLarge; a non-zip with NotAZip', async () => {
  const failureOf = async (p: Promise<unknown>) => {
    const err = await p.then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  };
  const bomb = await failureOf(new MockActivityEnvironment().run(extract, input({ maxUncompressedBytes: 2000 })));
  expect(bomb.type).toBe('ZipTooLarge');
  expect(bomb.nonRetryable).toBe(true);
  expect(bomb.message).toContain('zip expands past the');

  fs.writeFileSync(zipPath, '<html>not a zip</html>');
  const notZip = await failureOf(new MockActivityEnvironment().run(extract, input({ outDir: path.join(root, 'other') })));
  expect(notZip.type).toBe('NotAZip');
  expect(notZip.nonRetryable).toBe(true);
});

test('a folder source is listed in place', async () => {
  const src = path.join(root, 'folder');
  fs.mkdirSync(path.join(src, 'b'), { recursive: true });
  fs.writeFileSync(path.join(src, 'b', 'IM1'), 'x');
  fs.writeFileSync(path.join(src, 'a.dcm'), 'yy');
  const result = await new MockActivityEnvironment().run(extract, { source: src, outDir, batchSize: 1 });
  expect(result).toEqual({ entries: 2, candidates: 2, skipped: 0, refused: 0, bytes: 3, batchCount: 2 });
  expect((await readAll<EntryRecord>(workspace(outDir).candidateBatch(1)))[0].file).toBe(path.join(src, 'b', 'IM1'));
});
