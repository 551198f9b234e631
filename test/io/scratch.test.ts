/**
 * removeTree, how a run's scratch (hundreds of thousands of extracted entries) is deleted: all of it, depth first,
 * never following a link out of the tree, and never with more than a few unlinks under way (the worker's memory stays
 * that of one folder, not of the whole tree's pending requests).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { removeTree } from '../../src/io/scratch';

let tmp: string;
beforeEach(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-scratch-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('removes a nested tree with files, empty folders and links, keeping what a link points to', async () => {
  const outside = path.join(tmp, 'outside.dcm');
  fs.writeFileSync(outside, 'kept');
  const tree = path.join(tmp, 'tree');
  for (let p = 0; p < 3; p++) {
    const series = path.join(tree, `P${p}`, 'study', 'series');
    fs.mkdirSync(series, { recursive: true });
    for (let i = 0; i < 50; i++) fs.writeFileSync(path.join(series, `${i}.dcm`), `${p}/${i}`);
  }
  fs.mkdirSync(path.join(tree, 'empty', 'deeper'), { recursive: true });
  fs.symlinkSync(outside, path.join(tree, 'P0', 'link.dcm'));
  fs.symlinkSync(tmp, path.join(tree, 'P1', 'link-to-folder'));

  await removeTree(tree);
  expect(fs.existsSync(tree)).toBe(false);
  expect(fs.readFileSync(outside, 'utf8')).toBe('kept');
  expect(fs.readdirSync(tmp)).toEqual(['outside.dcm']);
});

test('what is already gone is no error; a file given as the tree goes too', async () => {
  await expect(removeTree(path.join(tmp, 'missing'))).resolves.toBeUndefined();
  const file = path.join(tmp, 'one.dcm');
  fs.writeFileSync(file, 'x');
  await removeTree(file);
  expect(fs.existsSync(file)).toBe(false);
});

test('a folder of many files is unlinked a few at a time, not all at once', async () => {
  const dir = path.join(tmp, 'flat');
  fs.mkdirSync(dir);
  for (let i = 0; i < 500; i++) fs.writeFileSync(path.join(dir, `${i}.dcm`), '');
  const unlink = fs.promises.unlink;
  let inFlight = 0;
  let most = 0;
  jest.spyOn(fs.promises, 'unlink').mockImplementation(async (p) => {
    most = Math.max(most, ++inFlight);
    try {
      return await unlink(p);
    } finally {
      inFlight--;
    }
  });
  await removeTree(dir);
  expect(fs.existsSync(dir)).toBe(false);
  expect(most).toBeGreaterThan(1); // in parallel
  expect(most).toBeLessThanOrEqual(32);
});

test('a failure other than "gone" is reported, not swallowed', async () => {
  const dir = path.join(tmp, 'locked');
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'a.dcm'), '');
  jest.spyOn(fs.promises, 'unlink').mockRejectedValue(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' }));
  await expect(removeTree(dir)).rejects.toThrow(/EACCES/);
});
