/**
 * cleanScratch, the last step of a completed run: its own scratch folder goes (manifests, extracted entries, a
 * download), the tree's hard links keep their bytes, other runs' folders stay, and a retry after it is gone is a
 * no-op.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { cleanScratch } from '../../src/activities/cleanup';
import { placeFile } from '../../src/organize/place';
import { backgroundDone } from '../../src/background';
import { workspace } from '../../src/workspace';
import { scratchKey, SCRATCH_KEY_PATTERN } from '../../src/contract';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-cleanup-'));
});
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

function scratch(outDir: string, runKey: string): string {
  const ws = workspace(outDir, runKey);
  const entry = path.join(ws.extractedDir, 'LIDC', '1.dcm');
  fs.mkdirSync(path.dirname(entry), { recursive: true });
  fs.writeFileSync(entry, `bytes of ${runKey}`);
  fs.writeFileSync(ws.entriesManifest, '{}\n');
  fs.mkdirSync(ws.downloadDir, { recursive: true });
  fs.writeFileSync(path.join(ws.downloadDir, 'source.zip'), 'PK');
  return entry;
}

test("removes the run's own scratch only, keeps the tree, and is a no-op when run again", async () => {
  const outDir = path.join(tmp, 'out');
  const entry = scratch(outDir, 'run-a');
  scratch(outDir, 'run-b'); // another run, still going
  const placed = path.join(outDir, 'organized', 'P', '1.dcm');
  expect(placeFile(entry, placed)).toBe('linked');

  expect(await new MockActivityEnvironment().run(cleanScratch, { outDir, runKey: 'run-a' })).toEqual({ removed: 1 });
  expect(fs.existsSync(workspace(outDir, 'run-a').workDir)).toBe(false); // at once: moved to DIR/work/trash
  await backgroundDone(); // deleted in the background
  expect(fs.existsSync(path.join(outDir, 'work', 'trash'))).toBe(false);
  expect(fs.readFileSync(placed, 'utf8')).toBe('bytes of run-a'); // the tree's link keeps the bytes
  expect(fs.readdirSync(path.join(outDir, 'work', 'runs'))).toEqual(['run-b']);

  // A retry (or a resumed run) after the folder is gone: nothing to do, no failure.
  expect(await new MockActivityEnvironment().run(cleanScratch, { outDir, runKey: 'run-a' })).toEqual({ removed: 0 });

  // The last run's cleanup leaves no DIR/work at all.
  expect(await new MockActivityEnvironment().run(cleanScratch, { outDir, runKey: 'run-b' })).toEqual({ removed: 1 });
  await backgroundDone();
  expect(fs.existsSync(path.join(outDir, 'work'))).toBe(false);
  expect(fs.readdirSync(outDir).sort()).toEqual(['logs', 'organized']);
});

test('trash a process left behind (it exited before deleting) goes with the next removal', async () => {
  const outDir = path.join(tmp, 'out');
  scratch(outDir, 'run-a');
  const left = path.join(outDir, 'work', 'trash', 'run-old.1.2.0');
  fs.mkdirSync(path.join(left, 'extracted'), { recursive: true });
  fs.writeFileSync(path.join(left, 'extracted', '1.dcm'), 'x');
  expect(await new MockActivityEnvironment().run(cleanScratch, { outDir, runKey: 'run-a' })).toEqual({ removed: 1 });
  await backgroundDone();
  expect(fs.existsSync(path.join(outDir, 'work'))).toBe(false);
});

test('a key that is not one folder name is refused', async () => {
  const outDir = path.join(tmp, 'out');
  for (const runKey of ['../x', 'a/b', '', '..']) {
    await expect(new MockActivityEnvironment().run(cleanScratch, { outDir, runKey })).rejects.toThrow(/not a run scratch key/);
  }
});

test('scratchKey: a run id as one safe folder name, the same every time, two run ids never the same', () => {
  expect(scratchKey('dicomflow-162f72494ec6935d')).toBe('dicomflow-162f72494ec6935d');
  expect(scratchKey('dicomflow-162f72494ec6935d-20261202T104204')).toBe('dicomflow-162f72494ec6935d-20261202T104204');
  const odd = ['a/b', 'a_b~x', 'a:b', '../etc', '.hidden', '', 'x'.repeat(300), 'x'.repeat(299) + 'y', 'ünï'];
  const keys = odd.map(scratchKey);
  expect(new Set([...keys, 'a_b']).size).toBe(keys.length + 1);
  for (const key of keys) {
    expect(key).toMatch(SCRATCH_KEY_PATTERN);
    expect(() => workspace('/tmp/out', key)).not.toThrow();
  }
  expect(odd.map(scratchKey)).toEqual(keys);
});
