/**
 * The incremental scan of a folder with more files than its hash groups hold in flight (groups hashed on the hash
 * pool's threads while the walk goes on): the manifest stays in source order, every hash belongs to its own file.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { noKnownFiles, scanFolder, scanFiles, type FileSeen } from '../../src/incremental/scan';
import { readAllJsonLines } from '../../src/io/jsonl';
import { sha256SmallFilesOnPool } from '../../src/io/sha256';
import type { EntryRecord } from '../../src/records';

let root: string;
beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'scan-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test('3,000 new files: the manifest in byte order of the paths, each file with its own hash', async () => {
  const folder = path.join(root, 'src');
  const names: string[] = [];
  for (let k = 0; k < 3000; k++) {
    const rel = `P${k % 7}/s${k % 13}/${String(k).padStart(5, '0')}.dcm`;
    fs.mkdirSync(path.dirname(path.join(folder, rel)), { recursive: true });
    fs.writeFileSync(path.join(folder, rel), `file ${k} `.repeat(1 + (k % 50)));
    names.push(rel);
  }
  const outDir = path.join(root, 'out');
  const counts = await scanFolder({ source: folder, outDir, runKey: 'r1', known: noKnownFiles() });
  expect(counts).toEqual({ new: 3000, changed: 0, unchanged: 0, gone: 0 });
  const out = scanFiles(outDir, 'r1');
  const entries = await readAllJsonLines<EntryRecord>(out.ws.entriesManifest);
  const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  expect(entries.map((e) => e.source)).toEqual(sorted);
  expect(entries.map((e) => e.i)).toEqual(sorted.map((_, k) => k));
  const seen = await readAllJsonLines<FileSeen>(out.files);
  expect(seen.map((f) => f.path)).toEqual(sorted);
  for (const f of seen) expect(f.sha256).toBe(createHash('sha256').update(fs.readFileSync(path.join(folder, f.path))).digest('hex'));
});

test('the hash pool answers each file in place: null for no path and for a file that cannot be read', async () => {
  const file = path.join(root, 'a.bin');
  fs.writeFileSync(file, 'abc');
  const hex = createHash('sha256').update('abc').digest('hex');
  expect(await sha256SmallFilesOnPool([file, null, path.join(root, 'missing'), file])).toEqual([hex, null, null, hex]);
});
