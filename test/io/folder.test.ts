import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extractSource } from '../../src/io/extract';
import { listFolder, listingTuning, walkFolder } from '../../src/io/folder';
import type { EntryRecord } from '../../src/records';
import { workspace } from '../../src/workspace';
import { listFiles, readAll } from './zip-fixtures';

let root: string;
beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'folder-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function put(rel: string, data = rel) {
  const file = path.join(root, 'src', rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
}

// The listing runs on a thread of its own when there is more than one core, else in the calling thread, a slice at a
// time: both ways give the same listing.
// A big folder's lstats are shared with a helper thread: a threshold of one file takes that way for these small ones.
describe.each([
  ['on a thread of its own', '2', listingTuning.helpFrom],
  ['on a thread, its lstats shared with a helper thread', '2', 1],
  ['in the calling thread', '1', listingTuning.helpFrom],
])('listed %s', (_how, threads, helpFrom) => {
  const before = process.env.DICOMFLOW_THREADS;
  const helpFromBefore = listingTuning.helpFrom;
  beforeEach(() => {
    process.env.DICOMFLOW_THREADS = threads;
    listingTuning.helpFrom = helpFrom;
  });
  afterEach(() => {
    if (before === undefined) delete process.env.DICOMFLOW_THREADS;
    else process.env.DICOMFLOW_THREADS = before;
    listingTuning.helpFrom = helpFromBefore;
  });

  test('a folder is listed in byte order of its relative paths, files referenced in place, nothing copied', async () => {
    for (const rel of ['é.dcm', 'a/b.dcm', 'a.txt', 'B.dcm', 'sub/deeper/IM0001', '__MACOSX/x', 'sub/._y']) put(rel);
    fs.symlinkSync('/etc/passwd', path.join(root, 'src', 'link'));
    fs.symlinkSync(path.join(root, 'src', 'sub'), path.join(root, 'src', 'linkdir'));
    execFileSync('mkfifo', [path.join(root, 'src', 'pipe')]);
    const src = path.join(root, 'src');
    const outDir = path.join(root, 'out');

    const summary = await extractSource({ source: src, outDir, batchSize: 2 });
    const records = await readAll<EntryRecord>(workspace(outDir).entriesManifest);
    expect(records.map((r) => [r.i, r.source, r.status, r.code ?? null])).toEqual([
      [0, 'B.dcm', null, null],
      [1, '__MACOSX/x', 'skipped', 'SKIPPED_MACOS_METADATA'],
      [2, 'a.txt', null, null], // '.' (0x2e) sorts before '/' (0x2f)
      [3, 'a/b.dcm', null, null],
      [4, 'link', 'skipped', 'SKIPPED_NOT_A_FILE'],
      [5, 'linkdir', 'skipped', 'SKIPPED_NOT_A_FILE'],
      [6, 'pipe', 'skipped', 'SKIPPED_NOT_A_FILE'],
      [7, 'sub/._y', 'skipped', 'SKIPPED_MACOS_METADATA'],
      [8, 'sub/deeper/IM0001', null, null],
      [9, 'é.dcm', null, null],
    ]);
    expect(records[3].file).toBe(path.join(src, 'a', 'b.dcm'));
    expect(records[9].file).toBe(path.join(src, 'é.dcm'));
    const sizes = ['B.dcm', 'a.txt', 'a/b.dcm', 'sub/deeper/IM0001', 'é.dcm'].map((r) => Buffer.byteLength(r));
    expect(summary).toEqual({ entries: 10, candidates: 5, skipped: 5, refused: 0, bytes: sizes.reduce((a, b) => a + b), batchCount: 3 });
    expect(fs.existsSync(workspace(outDir).extractedDir)).toBe(false);
    expect(listFiles(outDir)).toEqual([
      'work/batches/batch-000000.jsonl',
      'work/batches/batch-000001.jsonl',
      'work/batches/batch-000002.jsonl',
      'work/entries.jsonl',
    ]);
  });

  test("each file's size and mtime are its own lstat's, whichever thread took it", async () => {
    for (let k = 0; k < 60; k++) put(`d${k % 7}/f${k}.dcm`, 'x'.repeat(k));
    for (let k = 0; k < 60; k += 3) fs.utimesSync(path.join(root, 'src', `d${k % 7}/f${k}.dcm`), 1_000_000 + k, 1_000_000 + k);
    const listing = await listFolder(path.join(root, 'src'), undefined);
    expect(listing.relative.length).toBe(60);
    listing.relative.forEach((rel, i) => {
      const st = fs.lstatSync(path.join(root, 'src', rel));
      expect([rel, listing.sizes[i], listing.mtimes[i]]).toEqual([rel, st.size, st.mtimeMs]);
    });
  });

  test('names beyond U+FFFF sort by their UTF-8 bytes, where UTF-16 order would differ', async () => {
    // U+FF5E (EF BD 9E) sorts before U+1F600 (F0 9F 98 80) in UTF-8; in UTF-16 the surrogate pair (D83D) comes first.
    for (const rel of ['\u{1F600}.dcm', '\uFF5E.dcm', 'z.dcm']) put(rel);
    const outDir = path.join(root, 'out');
    await extractSource({ source: path.join(root, 'src'), outDir });
    const records = await readAll<EntryRecord>(workspace(outDir).entriesManifest);
    expect(records.map((r) => r.source)).toEqual(['z.dcm', '\uFF5E.dcm', '\u{1F600}.dcm']);
  });

  test('a long walk lets timers and I/O run (the activity heartbeats) even when emit never waits', async () => {
    for (let k = 0; k < 9000; k++) put(`d${k % 30}/f${k}.dcm`, 'x');
    let turns = 0;
    let going = true;
    const tick = () => {
      turns++;
      if (going) setImmediate(tick);
    };
    setImmediate(tick);
    let atFirst = -1;
    const emitted: number[] = [];
    await walkFolder(path.join(root, 'src'), {
      emit: async (r) => {
        if (atFirst < 0) atFirst = turns;
        emitted.push(r.i);
      },
    });
    going = false;
    expect(emitted.length).toBe(9000);
    expect(turns - atFirst).toBeGreaterThanOrEqual(2); // 9,000 emits that never wait: a turn every 4,096
  });

  test('a walk that is stopped fails with the reason, at once', async () => {
    for (let k = 0; k < 3000; k++) put(`d${k % 30}/f${k}.dcm`, 'x');
    const stop = new AbortController();
    stop.abort(new Error('cancelled by the test'));
    await expect(walkFolder(path.join(root, 'src'), { signal: stop.signal, emit: async () => undefined })).rejects.toThrow('cancelled by the test');
  });

  test('a source that is not there fails with ENOENT', async () => {
    await expect(walkFolder(path.join(root, 'nothing'), { emit: async () => undefined })).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

test('an output folder inside the source folder is not listed', async () => {
  put('a.dcm');
  put('z/b.dcm');
  const outDir = path.join(root, 'src', 'out');
  const summary = await extractSource({ source: path.join(root, 'src'), outDir, batchSize: 10 });
  const records = await readAll<EntryRecord>(workspace(outDir).entriesManifest);
  expect(records.map((r) => r.source)).toEqual(['a.dcm', 'z/b.dcm']);
  expect(summary.entries).toBe(2);
});
