/**
 * Command-line conventions, in-process: the flag-table parser (unknown flags, booleans, values), and the
 * `dicomflow` command's usage errors, per-command help and version, before anything runs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { flagHelp, parseArgs, UsageError, type FlagTable } from '../../src/cli/args';
import { commandUsage, run, version } from '../../src/cli/main';
import { summaryText } from '../../src/client/progress';
import { plural } from '../../src/text';

const TABLE: FlagTable = {
  out: { value: 'DIR', help: 'output folder' },
  rerun: { help: 'start a new run' },
  'batch-size': { value: 'N', help: 'files per batch' },
};
const USAGE = 'usage: dicomflow thing <x> [options]';

function usageError(argv: string[]): string {
  try {
    parseArgs(argv, TABLE, USAGE);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('parseArgs', () => {
  test('values, inline values, booleans and positionals', () => {
    expect(parseArgs(['a.zip', '--out', 'D', '--rerun', '--batch-size=4', 'b'], TABLE, USAGE)).toEqual({
      positional: ['a.zip', 'b'],
      flags: { out: 'D', rerun: true, 'batch-size': '4' },
    });
    // after --, everything is positional
    expect(parseArgs(['--', '--out', '-x'], TABLE, USAGE)).toEqual({ positional: ['--out', '-x'], flags: {} });
  });

  test('an unknown flag is an error naming it, with the usage, wherever it is', () => {
    expect(usageError(['a.zip', '--frobnicate', '1'])).toBe(`unknown flag --frobnicate\n${USAGE}`);
    expect(usageError(['--frobnicate=1'])).toMatch(/^unknown flag --frobnicate\n/);
    expect(usageError(['-x'])).toMatch(/^unknown flag -x\n/);
    // a misspelt boolean at the end is unknown, not "needs a value"
    expect(usageError(['a.zip', '--rerunn'])).toBe(`unknown flag --rerunn\n${USAGE}`);
  });

  test('a missing value, a value given to a boolean and a repeated flag are errors', () => {
    expect(usageError(['--out'])).toBe(`--out needs a value (DIR)\n${USAGE}`);
    expect(usageError(['--out', '--rerun'])).toMatch(/^--out needs a value \(DIR\)/);
    expect(usageError(['--out='])).toMatch(/^--out needs a value/);
    expect(usageError(['--rerun=yes'])).toMatch(/^--rerun takes no value/);
    expect(usageError(['--out', 'a', '--out', 'b'])).toMatch(/^--out is given twice/);
  });

  test('the usage lists every flag of the table, a flag being one line of it', () => {
    const help = flagHelp({ ...TABLE, 'keep-work': { help: 'keep DIR/work after the run' } });
    expect(help.split('\n')).toEqual([
      '  --out DIR       output folder',
      '  --rerun         start a new run',
      '  --batch-size N  files per batch',
      '  --keep-work     keep DIR/work after the run',
    ]);
    expect(parseArgs(['--keep-work'], { ...TABLE, 'keep-work': { help: '' } }, USAGE).flags).toEqual({ 'keep-work': true });
  });
});

describe('dicomflow', () => {
  let out: string[];
  beforeEach(() => {
    out = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out.push(String(chunk));
      return true;
    });
  });
  afterEach(() => jest.restoreAllMocks());

  test.each([
    [['ingest', 'a.zip', '--frobnicate', '1'], /^unknown flag --frobnicate\nusage: dicomflow ingest <zip \| folder \| http\(s\) URL> \[options\]\n/],
    [['ingest', 'a.zip', '--rerunn'], /^unknown flag --rerunn\nusage: dicomflow ingest/],
    [['ingest', 'a.zip', '--max-gib', 'lots'], /^--max-gib must be a positive number, got "lots"/],
    [['ingest', 'a.zip', '--batch-size', '2.5'], /^--batch-size must be a positive whole number, got "2.5"/],
    [['ingest'], /^ingest takes exactly one source/],
    [['worker', '--out', 'D', '--rerun'], /^unknown flag --rerun\nusage: dicomflow worker/],
    [['db', 'check', '--colour'], /^unknown flag --colour\nusage: dicomflow db check/],
    [['db', 'chek'], /^unknown subcommand "db chek"\nusage: dicomflow db check/],
    [['db'], /^db needs a subcommand\n/],
    [['server', 'restart'], /^unknown subcommand "server restart"\nusage: dicomflow server start .*\nusage: dicomflow server stop/s],
    [['show'], /^show takes exactly one SOP Instance UID\nusage: dicomflow show/],
    [['codes', 'extra'], /^codes takes no argument "extra"/],
    [['frobnicate'], /^unknown command "frobnicate"\nusage: dicomflow <command>/],
    [['--frobnicate'], /^unknown flag --frobnicate\nusage: dicomflow <command>/],
  ])('%j is a usage error, before anything runs', async (argv, message) => {
    await expect(run(argv)).rejects.toThrow(UsageError);
    await expect(run(argv)).rejects.toThrow(message);
    expect(out).toEqual([]);
  });

  test.each([['-h'], ['--help'], ['help']])('%s prints every command', async (flag) => {
    expect(await run([flag])).toBe(0);
    const text = out.join('');
    expect(text).toMatch(/^usage: dicomflow <command> \[options\]/);
    for (const c of ['ingest', 'worker', 'serve', 'synth', 'db check', 'show', 'demo', 'server start', 'server stop', 'codes', 'setup']) {
      expect(text).toContain(`dicomflow ${c}`);
    }
  });

  test.each([
    [['ingest', '--help'], 'ingest'],
    [['ingest', 'a.zip', '-h'], 'ingest'],
    [['help', 'ingest'], 'ingest'],
    [['db', 'check', '--help'], 'db check'],
    [['show', '--help'], 'show'],
    [['server', 'stop', '-h'], 'server stop'],
    [['worker', '--help'], 'worker'],
    [['serve', '--help'], 'serve'],
  ])('%j prints the usage of %s and succeeds', async (argv, command) => {
    expect(await run(argv)).toBe(0);
    expect(out.join('')).toBe(commandUsage(command) + '\n');
  });

  test("serve's usage lists its flags; a bad port or a flag it does not know is a usage error", async () => {
    const usage = commandUsage('serve');
    for (const flag of ['--out DIR', '--db URL', '--port P', '--host H', '--token T']) expect(usage).toContain(`  ${flag}`);
    await expect(run(['serve', '--port', 'http'])).rejects.toThrow(/--port must be a positive whole number, got "http"/);
    await expect(run(['serve', '--frobnicate'])).rejects.toThrow(/unknown flag --frobnicate\nusage: dicomflow serve/);
    await expect(run(['serve', 'extra'])).rejects.toThrow(/serve takes no argument "extra"/);
  });

  test("ingest's usage lists each of its flags with its help", () => {
    const usage = commandUsage('ingest');
    for (const flag of ['--out DIR', '--db URL', '--sha256 HEX', '--run-id ID', '--rerun ', '--batch-size N', '--concurrency N', '--max-gib N', '--task-queue Q']) {
      expect(usage).toContain(`  ${flag}`);
    }
  });

  test('db --help and server --help list their subcommands', async () => {
    expect(await run(['db', '--help'])).toBe(0);
    expect(await run(['server', '--help'])).toBe(0);
    expect(out.join('')).toBe(`${commandUsage('db check')}\n${commandUsage('server start')}\n${commandUsage('server stop')}\n`);
  });

  test('synth --help is synth\'s own usage', async () => {
    expect(await run(['help', 'synth'])).toBe(0);
    expect(out.join('')).toMatch(/^usage: dicomflow synth --patients N/);
  });

  test.each([['--version'], ['-V']])('%s prints the package version', async (flag) => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
    expect(version()).toBe(pkg.version);
    expect(await run([flag])).toBe(0);
    expect(out.join('')).toBe(`dicomflow ${pkg.version}\n`);
  });
});

test('user-facing counts agree in number', () => {
  expect([plural(1, 'patient'), plural(2, 'patient'), plural(0, 'patient'), plural(1, 'entry', 'entries'), plural(3, 'entry', 'entries')]).toEqual([
    '1 patient',
    '2 patients',
    '0 patients',
    '1 entry',
    '3 entries',
  ]);
  const summary = (n: number) =>
    summaryText(
      {
        runId: 'r',
        source: 's',
        outDir: '/o',
        counts: { entries: n, valid: n, invalid: 0, duplicate: 0, conflict: 0, skipped: 0, refused: 0, patients: n, studies: n, series: n, instances: n, seriesIssues: n },
        stageSeconds: { extract: 1 },
        outputs: { organized: '/o/organized', database: '/o/dicom.db', reports: [], log: '/o/logs/dicomflow.jsonl' },
      },
      { workflowId: 'w', namespace: 'default' },
    );
  expect(summary(1)).toContain('  catalog: 1 patient, 1 study, 1 series, 1 instance (1 series issue, see the report)');
  expect(summary(2)).toContain('  catalog: 2 patients, 2 studies, 2 series, 2 instances (2 series issues, see the report)');
});
