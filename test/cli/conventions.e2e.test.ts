/**
 * The command-line conventions through the built `dicomflow` binary (npm test builds first): an unknown flag stops
 * the command before anything runs, `--help` and `--version` answer and exit 0, and `show` / `db check` in a
 * folder without a catalog say so (exit 1) without creating one.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesize } from '../../src/synth';
import { runCli } from '../helpers/cli';

jest.setTimeout(120_000);

let tmp: string;
let zip: string;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-conventions-'));
  zip = path.join(tmp, 'one.zip');
  await synthesize({ patients: 1, slices: 2, size: 16, out: zip });
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('ingest with an unknown flag runs nothing: exit 2, the flag and the usage named', async () => {
  const out = path.join(tmp, 'never');
  const r = await runCli(['ingest', zip, '--out', out, '--frobnicate', '1']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^dicomflow: unknown flag --frobnicate\nusage: dicomflow ingest <zip \| folder \| http\(s\) URL> \[options\]\n/);
  expect(r.stdout).toBe('');
  expect(fs.existsSync(out)).toBe(false);

  const misspelt = await runCli(['ingest', zip, '--out', out, '--rerunn']);
  expect(misspelt.code).toBe(2);
  expect(misspelt.stderr).toMatch(/^dicomflow: unknown flag --rerunn\n/);
  expect(misspelt.stderr).not.toMatch(/needs a value/);
  expect(fs.existsSync(out)).toBe(false);
});

test('-h, --help, <command> --help and --version answer on stdout with exit 0', async () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = await runCli([flag]);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, `dicomflow ${pkg.version}\n`, '']);
  }
  for (const flag of ['-h', '--help']) {
    const r = await runCli([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^usage: dicomflow <command> \[options\]\n/);
  }
  const ingest = await runCli(['ingest', '--help']);
  expect(ingest.code).toBe(0);
  expect(ingest.stdout).toMatch(/^usage: dicomflow ingest <zip \| folder \| http\(s\) URL> \[options\]\n {2}--out DIR {2,}output folder/);
  expect(ingest.stdout).toMatch(/\n {2}--rerun {2,}start a new run/);
  const synth = await runCli(['synth', '-h']);
  expect([synth.code, synth.stdout.split('\n')[0]]).toEqual([0, 'usage: dicomflow synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip']);
});

test('show and db check in a folder without a catalog say so, exit 1, and create nothing', async () => {
  const empty = path.join(tmp, 'not-an-output-folder');
  fs.mkdirSync(empty);
  const db = path.join(empty, 'dicom.db');
  const show = await runCli(['show', '1.2.3.4', '--out', empty]);
  expect(show.code).toBe(1);
  expect(show.stderr).toBe(`dicomflow: no catalog at ${db} (run \`dicomflow ingest\` into that folder first, or pass --db URL)\n`);
  const check = await runCli(['db', 'check', '--out', empty]);
  expect(check.code).toBe(1);
  expect(check.stderr).toContain(`DB CHECK FAILED: no catalog at ${db}`);
  expect(check.stderr).not.toContain('DB CHECK OK');
  expect(fs.readdirSync(empty)).toEqual([]);
  // an empty SQLite file (as an earlier version's `show` left behind) is no catalog either
  fs.writeFileSync(db, '');
  const again = await runCli(['db', 'check', '--out', empty]);
  expect(again.code).toBe(1);
  expect(again.stderr).toContain(`DB CHECK FAILED: no catalog at SQLite ${db}: the database has none of dicomflow's tables`);
});

test('synth of one patient says "1 patient"', async () => {
  const r = await runCli(['synth', '--patients', '1', '--slices', '1', '--size', '16', '--out', path.join(tmp, 'p1.zip')]);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/ of 1 patient, /);
});
