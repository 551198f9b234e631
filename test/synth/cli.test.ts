/** `dicomflow synth` argument handling: a one-line summary on success, exit code 2 and the usage on misuse. */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthCommand, parseSynthArgs } from '../../src/synth/cli';
import { readZipFlat } from './read-zip';

let tmp: string;
let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
});
afterEach(() => jest.restoreAllMocks());
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('writes the zip and prints a one-line summary', async () => {
  const zip = path.join(tmp, 'sub', 'demo.zip');
  const code = await synthCommand(['--patients', '2', '--slices', '3', '--size=32', '--broken', '--seed', '4', '--out', zip]);
  expect(code).toBe(0);
  expect(err).toEqual([]);
  expect(out).toHaveLength(1);
  const entries = await readZipFlat(zip);
  expect(out[0]).toContain(zip);
  expect(out[0]).toContain(`${entries.length} entries`);
  expect(out[0]).toMatch(/2 refused/);
  expect(entries.filter((e) => /LIDC-IDRI-0002\/.*CT CHEST.*\/1-\d{3}\.dcm$/.test(e.name))).toHaveLength(3);
  expect(fs.readdirSync(path.dirname(zip))).toEqual(['demo.zip']); // no temporary file left behind
});

test('parses every option', () => {
  expect(parseSynthArgs(['--patients', '3', '--slices=9', '--size', '128', '--broken', '--seed', '0', '--out', 'a.zip'])).toEqual({
    patients: 3,
    slices: 9,
    size: 128,
    broken: true,
    seed: 0,
    out: 'a.zip',
  });
  expect(parseSynthArgs(['--patients', '1', '--deflate', '--out', 'a.zip'])).toEqual({ patients: 1, deflate: true, out: 'a.zip' });
});

test.each([
  [[], /--patients is required/],
  [['--patients', '2'], /--out is required/],
  [['--patients', 'two', '--out', 'a.zip'], /--patients needs a whole number, got 'two'/],
  [['--patients', '2', '--out', 'a.tar'], /--out must name a \.zip file/],
  [['--patients', '2', '--out'], /--out needs a file name/],
  [['--patients', '2', '--out', 'a.zip', '--colour'], /unknown argument '--colour'/],
  [['--patients', '0', '--out', 'a.zip'], /patients must be an integer from 1/],
])('usage error %j', async (argv, message) => {
  const code = await synthCommand(argv.map((a) => (a === 'a.zip' ? path.join(tmp, 'a.zip') : a)));
  expect(code).toBe(2);
  expect(err.join('\n')).toMatch(message);
  expect(fs.existsSync(path.join(tmp, 'a.zip'))).toBe(false);
});

test('--help prints the usage and succeeds', async () => {
  expect(await synthCommand(['--help'])).toBe(0);
  expect(out.join('\n')).toMatch(/^usage: dicomflow synth --patients N/);
});

test('an unwritable output is a failure with a reason, not a crash', async () => {
  const blocker = path.join(tmp, 'file-not-dir');
  fs.writeFileSync(blocker, 'x');
  const code = await synthCommand(['--patients', '1', '--slices', '1', '--size', '16', '--out', path.join(blocker, 'x.zip')]);
  expect(code).toBe(1);
  expect(err.join('\n')).toMatch(/^dicomflow synth: .*(EEXIST|ENOTDIR)/);
});
