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
  [['--patients', '2', '--out'], /--out needs a value \(X\.zip\)/],
  [['--patients', '2', '--out', 'a.zip', '--colour'], /unknown flag --colour/],
  [['--patients', '2', '--out', 'a.zip', '--brokenn'], /unknown flag --brokenn/],
  [['--patients', '2', '--out', 'a.zip', '--broken=yes'], /--broken takes no value/],
  [['--patients', '2', '--out', 'a.zip', 'extra'], /synth takes no positional argument, got 'extra'/],
  [['--patients', '0', '--out', 'a.zip'], /patients must be an integer from 1/],
])('usage error %j', async (argv, message) => {
  const code = await synthCommand(argv.map((a) => (a === 'a.zip' ? path.join(tmp, 'a.zip') : a)));
  expect(code).toBe(2);
  expect(err.join('\n')).toMatch(message);
  expect(fs.existsSync(path.join(tmp, 'a.zip'))).toBe(false);
});

test('--help and -h print the usage and succeed', async () => {
  expect(await synthCommand(['--help'])).toBe(0);
  expect(await synthCommand(['--patients', '2', '-h'])).toBe(0);
  expect(out).toHaveLength(2);
  for (const text of out) {
    expect(text).toMatch(/^usage: dicomflow synth --patients N/);
    expect(text).toMatch(/\n {2}--deflate {2,}deflate the DICOM entries too/);
  }
});

test('one patient, one series: the summary says so in the singular', async () => {
  const zip = path.join(tmp, 'one.zip');
  expect(await synthCommand(['--patients', '1', '--slices', '1', '--size', '16', '--out', zip])).toBe(0);
  // a CT slice and a radiograph: 2 instances in 2 series of 1 patient
  expect(out[0]).toMatch(/: 3 entries \(.*\), 2 instances in 2 series of 1 patient, [\d.]+ s$/);
  expect(out[0]).not.toMatch(/1 patients/);
});

test('an unwritable output is a failure with a reason, not a crash', async () => {
  const blocker = path.join(tmp, 'file-not-dir');
  fs.writeFileSync(blocker, 'x');
  const code = await synthCommand(['--patients', '1', '--slices', '1', '--size', '16', '--out', path.join(blocker, 'x.zip')]);
  expect(code).toBe(1);
  expect(err.join('\n')).toMatch(/^dicomflow synth: .*(EEXIST|ENOTDIR)/);
});
