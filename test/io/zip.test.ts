import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { IoFailure } from '../../src/io/errors';
import { extractSource } from '../../src/io/extract';
import type { EntryRecord } from '../../src/records';
import { workspace } from '../../src/workspace';
import { buildZip, clearUtf8Flags, FixtureEntry, listFiles, patchName, readAll } from './zip-fixtures';

let root: string;
let outDir: string;
let zipPath: string;

beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'zip-'));
  // The output folder sits two levels down, so a '../../x' escape would still land inside root, where we look.
  outDir = path.join(root, 'deep', 'er', 'out');
  zipPath = path.join(root, 'src.zip');
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const extracted = (rel: string) => path.join(workspace(outDir).extractedDir, rel);

async function run(zip: Buffer, opts: { batchSize?: number; maxUncompressedBytes?: number } = {}) {
  fs.writeFileSync(zipPath, zip);
  const summary = await extractSource({ source: zipPath, outDir, batchSize: opts.batchSize ?? 100, maxUncompressedBytes: opts.maxUncompressedBytes });
  const records = await readAll<EntryRecord>(workspace(outDir).entriesManifest);
  return { summary, records };
}

/** Zips with unsafe names: each unsafe name is written as a same-length placeholder, then patched in. */
async function zipWithNames(entries: FixtureEntry[]): Promise<Buffer> {
  const placeholders = entries.map((e, k) => `Q${k}`.padEnd(Buffer.byteLength(e.name), 'q'));
  let zip = await buildZip(entries.map((e, k) => ({ ...e, name: placeholders[k] })));
  entries.forEach((e, k) => (zip = patchName(zip, placeholders[k], e.name)));
  return zip;
}

const brief = (r: EntryRecord) => [r.i, r.source, r.status, r.code ?? null];

test('unsafe names are refused and never written; macOS clutter, symlinks and folders are not extracted', async () => {
  const absolute = `/tmp/dicomflow-evil-${crypto.randomBytes(4).toString('hex')}.txt`;
  const zip = await zipWithNames([
    { name: 'ok/', data: '' },
    { name: 'ok/1.dcm', data: 'one' },
    { name: '../../evil1.txt', data: 'evil' },
    { name: absolute, data: 'evil' },
    { name: 'C:/evil3.txt', data: 'evil' },
    { name: 'C:\\evil4.txt', data: 'evil' },
    { name: 'a/../../evil5.txt', data: 'evil' },
    { name: '..\\..\\evil6.txt', data: 'evil' },
    { name: 'a/../fine.dcm', data: 'fine' },
    { name: '__MACOSX/ok/._1.dcm', data: 'fork' },
    { name: 'ok/._2.dcm', data: 'fork' },
    { name: 'ok/link', data: '/etc/passwd', mode: 0o120777 },
  ]);
  const { summary, records } = await run(zip);
  expect(records.map(brief)).toEqual([
    [0, 'ok/1.dcm', null, null],
    [1, '../../evil1.txt', 'refused', 'REFUSED_UNSAFE_PATH'],
    [2, absolute, 'refused', 'REFUSED_UNSAFE_PATH'],
    [3, 'C:/evil3.txt', 'refused', 'REFUSED_UNSAFE_PATH'],
    [4, 'C:\\evil4.txt', 'refused', 'REFUSED_UNSAFE_PATH'],
    [5, 'a/../../evil5.txt', 'refused', 'REFUSED_UNSAFE_PATH'],
    [6, '..\\..\\evil6.txt', 'refused', 'REFUSED_UNSAFE_PATH'],
    [7, 'a/../fine.dcm', null, null],
    [8, '__MACOSX/ok/._1.dcm', 'skipped', 'SKIPPED_MACOS_METADATA'],
    [9, 'ok/._2.dcm', 'skipped', 'SKIPPED_MACOS_METADATA'],
    [10, 'ok/link', 'skipped', 'SKIPPED_NOT_A_FILE'],
  ]);
  expect(records[1].message).toContain('escapes the extraction folder');
  expect(records[2].message).toContain('absolute path');
  expect(records[3].message).toContain('drive letter');
  expect(records[10].message).toContain('symbolic link');
  expect(records.filter((r) => r.status !== null).every((r) => r.file === null)).toBe(true);
  expect(records[0].file).toBe(extracted('ok/1.dcm'));
  expect(records[7].file).toBe(extracted('fine.dcm'));
  expect(summary).toEqual({ entries: 11, candidates: 2, skipped: 3, refused: 6, bytes: 7, batchCount: 1 });

  // Nothing anywhere but the two safe files and our own outputs.
  expect(listFiles(root)).toEqual([
    'deep/er/out/extracted/fine.dcm',
    'deep/er/out/extracted/ok/1.dcm',
    'deep/er/out/work/batches/batch-000000.jsonl',
    'deep/er/out/work/entries.jsonl',
    'src.zip',
  ]);
  expect(fs.existsSync(absolute)).toBe(false);
});

test('nested zips are extracted under <entry>.d/ and listed right after their zip, with the same safety rules', async () => {
  const level2 = await buildZip([{ name: 'deep.dcm', data: 'deep' }]);
  const inner = await zipWithNames([
    { name: 'x/1.dcm', data: 'inner one' },
    { name: 'level2.zip', data: level2 },
    { name: '../../../../evil.txt', data: 'evil' },
    { name: '__MACOSX/._x', data: 'fork' },
  ]);
  const outer = await buildZip([
    { name: 'a.dcm', data: 'a' },
    { name: 'data/inner.bin', data: inner }, // a zip by its content, whatever its name
    { name: 'z.dcm', data: 'z' },
  ]);
  const { summary, records } = await run(outer);
  expect(records.map(brief)).toEqual([
    [0, 'a.dcm', null, null],
    [1, 'data/inner.bin', 'skipped', 'SKIPPED_NESTED_ZIP'],
    [2, 'data/inner.bin/x/1.dcm', null, null],
    [3, 'data/inner.bin/level2.zip', 'skipped', 'SKIPPED_NESTED_ZIP'],
    [4, 'data/inner.bin/level2.zip/deep.dcm', null, null],
    [5, 'data/inner.bin/../../../../evil.txt', 'refused', 'REFUSED_UNSAFE_PATH'],
    [6, 'data/inner.bin/__MACOSX/._x', 'skipped', 'SKIPPED_MACOS_METADATA'],
    [7, 'z.dcm', null, null],
  ]);
  expect(records[2].file).toBe(extracted('data/inner.bin.d/x/1.dcm'));
  expect(records[4].file).toBe(extracted('data/inner.bin.d/level2.zip.d/deep.dcm'));
  expect(fs.readFileSync(records[4].file!, 'utf8')).toBe('deep');
  expect(summary.candidates).toBe(4);
  expect(listFiles(path.join(root, 'deep'))).toEqual([
    'er/out/extracted/a.dcm',
    'er/out/extracted/data/inner.bin.d/level2.zip.d/deep.dcm',
    'er/out/extracted/data/inner.bin.d/x/1.dcm',
    'er/out/extracted/z.dcm',
    'er/out/work/batches/batch-000000.jsonl',
    'er/out/work/entries.jsonl',
  ]);
});

test('zips nested deeper than 3 levels are refused, not opened', async () => {
  let zip = await buildZip([{ name: 'bottom.dcm', data: 'bottom' }]);
  for (let level = 4; level >= 1; level--) zip = await buildZip([{ name: `l${level}.zip`, data: zip }]);
  const { records } = await run(zip);
  expect(records.map(brief)).toEqual([
    [0, 'l1.zip', 'skipped', 'SKIPPED_NESTED_ZIP'],
    [1, 'l1.zip/l2.zip', 'skipped', 'SKIPPED_NESTED_ZIP'],
    [2, 'l1.zip/l2.zip/l3.zip', 'skipped', 'SKIPPED_NESTED_ZIP'],
    [3, 'l1.zip/l2.zip/l3.zip/l4.zip', 'refused', 'REFUSED_BAD_ENTRY'],
  ]);
  expect(records[3].message).toContain('deeper than 3');
});

test('corrupt entries are refused with the reason and the run goes on', async () => {
  const stored = 'STORED-MARKER-0123456789';
  const deflated = 'deflate me '.repeat(2000);
  let zip = await buildZip([
    { name: 'bad-crc.dcm', data: stored, compress: false },
    { name: 'bad-deflate.dcm', data: deflated },
    { name: 'bad-nested.zip', data: Buffer.concat([Buffer.from('PK\x03\x04'), crypto.randomBytes(200)]) },
    { name: 'clash', data: 'a file' },
    { name: 'clash/under.dcm', data: 'needs clash to be a folder' },
    { name: 'good.dcm', data: 'good' },
  ]);
  // Flip a byte of the stored data (CRC now wrong) and wreck the deflate stream of the second entry.
  zip[zip.indexOf(stored) + 3] ^= 0xff;
  const header = zip.indexOf(Buffer.from('bad-deflate.dcm')) - 30;
  const dataStart = header + 30 + zip.readUInt16LE(header + 26) + zip.readUInt16LE(header + 28);
  zip.fill(0xff, dataStart, dataStart + 8);

  const { records, summary } = await run(zip);
  expect(records.map(brief)).toEqual([
    [0, 'bad-crc.dcm', 'refused', 'REFUSED_BAD_ENTRY'],
    [1, 'bad-deflate.dcm', 'refused', 'REFUSED_BAD_ENTRY'],
    [2, 'bad-nested.zip', 'refused', 'REFUSED_BAD_ENTRY'],
    [3, 'clash', null, null],
    [4, 'clash/under.dcm', 'refused', 'REFUSED_BAD_ENTRY'],
    [5, 'good.dcm', null, null],
  ]);
  expect(records[0].message).toContain('CRC-32');
  expect(records[1].message).toMatch(/^corrupt entry: /);
  expect(records[2].message).toContain('nested zip does not open');
  expect(records[4].message).toContain('cannot be placed');
  expect(summary.candidates).toBe(2);
  expect(listFiles(workspace(outDir).extractedDir)).toEqual(['clash', 'good.dcm']);
});

test('a zip bomb stops at maxUncompressedBytes, counted on the bytes actually inflated', async () => {
  const mib = Buffer.alloc(1024 * 1024);
  const zip = await buildZip([
    { name: 'z1.dcm', data: mib },
    { name: 'z2.dcm', data: mib },
    { name: 'z3.dcm', data: mib },
  ]);
  expect(zip.length).toBeLessThan(20_000);
  fs.writeFileSync(zipPath, zip);
  const failure = await extractSource({ source: zipPath, outDir, batchSize: 10, maxUncompressedBytes: 1.5 * 1024 * 1024 }).catch((e) => e);
  expect(failure).toBeInstanceOf(IoFailure);
  expect(failure.type).toBe('ZipTooLarge');
  expect(failure.retryable).toBe(false);
  expect(failure.message).toMatch(/^zip expands past the 1.5 MiB limit/);
  expect(fs.existsSync(workspace(outDir).entriesManifest)).toBe(false);
  expect(fs.existsSync(extracted('z3.dcm'))).toBe(false);
});

test("a zip bomb found in a nested zip, after entries were written, leaves none of the run's partial extraction", async () => {
  const inner = await buildZip([
    { name: 'z1.dcm', data: Buffer.alloc(1024 * 1024) },
    { name: 'z2.dcm', data: Buffer.alloc(1024 * 1024) },
  ]);
  // The outer zip declares little (the nested zip is small); the nested one's entries declare past the limit.
  fs.writeFileSync(zipPath, await buildZip([{ name: 'first.dcm', data: Buffer.alloc(64 * 1024, 7) }, { name: 'inner.zip', data: inner }]));
  const limit = 1.5 * 1024 * 1024;
  // The shared layout (no run key) keeps what was written: that is the partial output a run must not leave.
  const shared = await extractSource({ source: zipPath, outDir, batchSize: 10, maxUncompressedBytes: limit }).catch((e) => e);
  expect(shared).toMatchObject({ type: 'ZipTooLarge', retryable: false });
  expect(fs.existsSync(extracted('first.dcm'))).toBe(true);

  const ws = workspace(outDir, 'bomb-run');
  const failure = await extractSource({ source: zipPath, outDir, runKey: 'bomb-run', batchSize: 10, maxUncompressedBytes: limit }).catch((e) => e);
  expect(failure).toMatchObject({ type: 'ZipTooLarge', retryable: false });
  expect(listFiles(ws.workDir)).toEqual([]); // no extracted entries, no manifest, no temp files
});

test('a second entry with the same name gets its own file; the first keeps its bytes', async () => {
  const { records } = await run(await buildZip([
    { name: 'a.dcm', data: 'first' },
    { name: 'a.dcm', data: 'second' },
  ]));
  expect(records.map((r) => r.status)).toEqual([null, null]);
  expect(fs.readFileSync(records[0].file!, 'utf8')).toBe('first');
  expect(fs.readFileSync(records[1].file!, 'utf8')).toBe('second');
  expect(records[1].file).not.toBe(records[0].file);
  expect(records[1].file!.startsWith(workspace(outDir).extractedDir + path.sep)).toBe(true);
});

test('a name too long for the file system is extracted under a shortened name, never refused', async () => {
  const long = `series/${'a'.repeat(300)}.dcm`;
  const longer = `series/${'é'.repeat(200)}.dcm`; // 400 bytes of UTF-8
  const { records } = await run(await buildZip([
    { name: long, data: 'one' },
    { name: longer, data: 'two' },
    { name: `series/${'a'.repeat(300)}-other.dcm`, data: 'three' },
  ]));
  expect(records.map(brief)).toEqual([
    [0, long, null, null],
    [1, longer, null, null],
    [2, `series/${'a'.repeat(300)}-other.dcm`, null, null],
  ]);
  for (const r of records) {
    expect(path.basename(r.file!).endsWith('.dcm')).toBe(true);
    expect(Buffer.byteLength(path.basename(r.file!))).toBeLessThanOrEqual(255);
  }
  expect(records.map((r) => fs.readFileSync(r.file!, 'utf8'))).toEqual(['one', 'two', 'three']);
  expect(new Set(records.map((r) => r.file)).size).toBe(3);
});

test('names without the UTF-8 flag are decoded as CP437', async () => {
  let zip = await buildZip([{ name: 'cafX.dcm', data: 'x' }]);
  zip = clearUtf8Flags(patchName(zip, 'cafX.dcm', Buffer.from([0x63, 0x61, 0x66, 0x82, 0x2e, 0x64, 0x63, 0x6d])));
  const { records } = await run(zip);
  expect(records[0].source).toBe('café.dcm');
  expect(records[0].file).toBe(extracted('café.dcm'));
});

test('candidates are split into batch files of batchSize records, in order', async () => {
  const entries: FixtureEntry[] = [];
  for (let k = 0; k < 7; k++) {
    entries.push({ name: `s/${k}.dcm`, data: `file ${k}` });
    if (k % 3 === 0) entries.push({ name: `s/._${k}.dcm`, data: 'fork' });
  }
  const { summary, records } = await run(await buildZip(entries), { batchSize: 3 });
  expect(summary).toMatchObject({ entries: 10, candidates: 7, skipped: 3, refused: 0, batchCount: 3 });
  const ws = workspace(outDir);
  const batches = await Promise.all([0, 1, 2].map((k) => readAll<EntryRecord>(ws.candidateBatch(k))));
  expect(batches.map((b) => b.length)).toEqual([3, 3, 1]);
  expect(batches.flat()).toEqual(records.filter((r) => r.status === null));
  expect(fs.existsSync(ws.candidateBatch(3))).toBe(false);
});

test('an empty zip gives an empty manifest and no batches', async () => {
  const { summary, records } = await run(await buildZip([]));
  expect(records).toEqual([]);
  expect(summary).toEqual({ entries: 0, candidates: 0, skipped: 0, refused: 0, bytes: 0, batchCount: 0 });
});

test('a file that is not a zip, and a missing source, fail with a clear non-retryable IoFailure', async () => {
  fs.writeFileSync(zipPath, 'this is not a zip at all');
  const notZip = await extractSource({ source: zipPath, outDir, batchSize: 10 }).catch((e) => e);
  expect(notZip).toMatchObject({ type: 'NotAZip', retryable: false });
  expect(notZip.message).toContain('src.zip is not a readable zip');
  const missing = await extractSource({ source: path.join(root, 'nope.zip'), outDir, batchSize: 10 }).catch((e) => e);
  expect(missing).toMatchObject({ type: 'SourceNotFound', retryable: false });
});

test('entries too big to hold in memory are streamed with the same size, CRC and limit checks', async () => {
  const big = Buffer.concat([crypto.randomBytes(1024 * 1024), Buffer.alloc(5 * 1024 * 1024, 7)]);
  const marker = Buffer.from('BIG-STORED-MARKER');
  const zip = await buildZip([
    { name: 'big.dcm', data: big },
    { name: 'big-stored.dcm', data: Buffer.concat([marker, big]), compress: false },
    { name: 'after.dcm', data: 'after' },
  ]);
  zip[zip.indexOf(marker) + 1000] ^= 0xff;
  const { records } = await run(zip);
  expect(records.map(brief)).toEqual([
    [0, 'big.dcm', null, null],
    [1, 'big-stored.dcm', 'refused', 'REFUSED_BAD_ENTRY'],
    [2, 'after.dcm', null, null],
  ]);
  expect(records[1].message).toContain('CRC-32');
  expect(fs.readFileSync(records[0].file!).equals(big)).toBe(true);
  expect(listFiles(workspace(outDir).extractedDir)).toEqual(['after.dcm', 'big.dcm']);

  fs.rmSync(outDir, { recursive: true });
  const failure = await run(zip, { maxUncompressedBytes: 8 * 1024 * 1024 }).catch((e) => e);
  expect(failure).toMatchObject({ type: 'ZipTooLarge', retryable: false });
});

test('progress is reported while one big entry streams, not only between entries', async () => {
  const zip = await buildZip([{ name: 'big.dcm', data: Buffer.alloc(6 * 1024 * 1024, 1) }]);
  fs.writeFileSync(zipPath, zip);
  const seen: [number, number][] = [];
  await extractSource({ source: zipPath, outDir, batchSize: 10, onProgress: (p) => seen.push([p.entryIndex, p.bytes]) });
  const during = seen.filter(([entryIndex]) => entryIndex === 0);
  expect(during.length).toBeGreaterThan(3);
  expect(during[during.length - 1][1]).toBeGreaterThan(during[0][1]);
  expect(seen).toContainEqual([1, 6 * 1024 * 1024]);
});
