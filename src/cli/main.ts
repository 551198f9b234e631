/**
 * The `dicomflow` command. Each command has one entry in COMMANDS: its usage line, its flag table (a flag is one
 * line there: the parser, the unknown-flag check and `--help` all read it) and what it runs.
 * `dicomflow --help` lists the commands, `dicomflow <command> --help` shows one, `dicomflow --version` the version.
 */
import * as fs from 'fs';
import * as path from 'path';
import { flagHelp, int, parseArgs, positiveNumber, str, wantsHelp, UsageError, type FlagTable, type ParsedArgs } from './args';

const DEFAULT_OUT = 'dicomflow-out';

const OUT: FlagTable[string] = { value: 'DIR', help: `output folder (default ./${DEFAULT_OUT})` };
const CATALOG: FlagTable = {
  out: { value: 'DIR', help: `the catalog DIR/dicom.db (default ./${DEFAULT_OUT})` },
  db: { value: 'URL', help: 'the catalog database instead: postgres://... or a SQLite file' },
};

interface Command {
  /** The synopsis, without "dicomflow". */
  synopsis: string;
  /** One line for the command list. */
  summary: string;
  flags: FlagTable;
  run?: (args: ParsedArgs) => Promise<number>;
  /** A command that parses its own arguments (synth) gets them as given, `--help` included. */
  raw?: (argv: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  ingest: {
    synopsis: 'ingest <zip | folder | http(s) URL> [options]',
    summary: 'ingest a zip, a folder or a URL into DIR as a durable Temporal workflow',
    flags: {
      out: OUT,
      db: { value: 'URL', help: 'catalog database: default SQLite at DIR/dicom.db; postgres://... for PostgreSQL' },
      sha256: { value: 'HEX', help: 'checksum the download must have (URL sources)' },
      'run-id': { value: 'ID', help: 'workflow id to use instead of the one derived from source and DIR' },
      rerun: { help: 'start a new run even if this source was already ingested into DIR' },
      prune: { help: "a folder: remove the instances of files gone from it from the catalog and the tree" },
      'keep-work': { help: "keep the run's scratch folder after it completes (default: removed)" },
      'batch-size': { value: 'N', help: 'files per batch activity (default: sized by work)' },
      concurrency: { value: 'N', help: 'batch activities in flight (default 2 x cores)' },
      'max-gib': { value: 'N', help: 'stop a zip that expands past N GiB (default 100)' },
      'task-queue': { value: 'Q', help: 'task queue (external clusters)' },
    },
    async run({ positional, flags }) {
      if (positional.length !== 1) throw usageError('ingest', 'ingest takes exactly one source: a .zip, a folder or an http(s) URL');
      const maxGiB = positiveNumber(flags, 'max-gib');
      const options = {
        source: positional[0],
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        dbUrl: str(flags, 'db'),
        sha256: str(flags, 'sha256'),
        runId: str(flags, 'run-id'),
        rerun: flags.rerun === true,
        prune: flags.prune === true,
        keepWork: flags['keep-work'] === true,
        batchSize: int(flags, 'batch-size'),
        concurrency: int(flags, 'concurrency'),
        taskQueue: str(flags, 'task-queue'),
        maxUncompressedBytes: maxGiB ? maxGiB * 2 ** 30 : undefined,
      };
      const { runIngest } = await import('../client/ingest');
      return runIngest(options);
    },
  },
  export: {
    synopsis: 'export [--out DIR | --db URL] --to PATH [selection] [--format dicom|nifti] [--deidentify [--profile-options ...]] [--key-file F] [--dry-run]',
    summary: 'export a selection of the catalog as de-identified DICOM or NIfTI volumes, as a durable Temporal workflow',
    flags: {
      ...CATALOG,
      to: { value: 'PATH', help: 'folder to write the export to (outside DIR)' },
      modality: { value: 'M', help: 'series of this modality (repeatable, or M1,M2)', repeatable: true },
      'min-slices': { value: 'N', help: 'series with at least N instances' },
      'max-thickness': { value: 'MM', help: 'series whose thickest slice is at most MM' },
      'no-series-issues': { help: 'series without any series issue' },
      patient: { value: 'ID', help: 'series of this PatientID (repeatable)', repeatable: true },
      series: { value: 'UID', help: 'this SeriesInstanceUID (repeatable)', repeatable: true },
      where: { value: 'SQL', help: 'an SQL condition over series_summary (read-only, no ";")' },
      format: { value: 'dicom|nifti', help: 'DICOM files (default) or one .nii.gz (+ .json) per series' },
      deidentify: { help: 'apply the PS3.15 E.1-1 Basic Profile (new UIDs from the key, private tags removed)' },
      'profile-options': { value: 'O,...', help: 'retain-longitudinal-modified-dates, retain-patient-characteristics, retain-device-identity' },
      'key-file': { value: 'F', help: 'the secret key (32 random bytes, base64); default DIR/export-keys/export.key, made once' },
      'allow-burned-in': { help: 'also export instances that may carry burned-in text (withheld otherwise)' },
      'dry-run': { help: 'print the series, instances and bytes the selection holds; export nothing' },
      'batch-size': { value: 'N', help: 'instances per batch activity, whole series (default: sized by work)' },
      concurrency: { value: 'N', help: 'batch activities in flight (default: cores)' },
      'task-queue': { value: 'Q', help: 'task queue (external clusters)' },
    },
    async run({ positional, flags, lists = {} }) {
      noPositional('export', positional);
      const csv = (name: string) => (lists[name] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
      const { runExport } = await import('../client/export');
      return runExport({
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        dbUrl: str(flags, 'db'),
        to: str(flags, 'to'),
        format: str(flags, 'format'),
        deidentify: flags.deidentify === true,
        profileOptions: (str(flags, 'profile-options') ?? '').split(',').map((v) => v.trim()).filter(Boolean),
        keyFile: str(flags, 'key-file'),
        allowBurnedIn: flags['allow-burned-in'] === true,
        dryRun: flags['dry-run'] === true,
        concurrency: int(flags, 'concurrency'),
        batchSize: int(flags, 'batch-size'),
        taskQueue: str(flags, 'task-queue'),
        selection: {
          modality: csv('modality'),
          minSlices: int(flags, 'min-slices'),
          maxThickness: positiveNumber(flags, 'max-thickness'),
          noSeriesIssues: flags['no-series-issues'] === true || undefined,
          patients: lists.patient ?? [],
          series: lists.series ?? [],
          where: str(flags, 'where'),
        },
      });
    },
  },
  watch: {
    synopsis: 'watch <folder | URL> [--every 10m | --cron EXPR] [--out DIR | --db URL] [--list | --pause | --resume | --delete | --trigger]',
    summary: 'a Temporal Schedule that ingests the new and changed files of a folder (or URL) into DIR every so often',
    flags: {
      out: OUT,
      db: { value: 'URL', help: 'catalog database: default SQLite at DIR/dicom.db; postgres://... for PostgreSQL' },
      every: { value: 'DURATION', help: 'how often: 30s, 10m, 1h, 1d (default 10m)' },
      cron: { value: 'EXPR', help: 'when, as a cron expression instead ("0 2 * * *": at 02:00 every day)' },
      prune: { help: "remove the instances of files gone from the folder from the catalog and the tree" },
      'task-queue': { value: 'Q', help: 'task queue (external clusters)' },
      list: { help: "list DIR's server's dicomflow schedules" },
      pause: { help: 'pause the schedule of the folder or URL' },
      resume: { help: 'resume it' },
      delete: { help: 'delete it (the catalog and the tree stay)' },
      trigger: { help: 'start a run now (skipped if one is still going)' },
    },
    async run({ positional, flags }) {
      const actions = (['list', 'pause', 'resume', 'delete', 'trigger'] as const).filter((a) => flags[a] === true);
      if (actions.length > 1) throw usageError('watch', `watch takes one of --${actions.join(', --')}`);
      if (positional.length > 1) throw usageError('watch', 'watch takes one folder or URL');
      const { runWatch } = await import('../client/watch');
      return runWatch({
        target: positional[0],
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        dbUrl: str(flags, 'db'),
        every: str(flags, 'every'),
        cron: str(flags, 'cron'),
        prune: flags.prune === true,
        taskQueue: str(flags, 'task-queue'),
        action: actions[0] ?? 'create',
      });
    },
  },
  worker: {
    synopsis: 'worker [--out DIR] [--task-queue Q]',
    summary: "a worker for TEMPORAL_ADDRESS's cluster, else for DIR's local Temporal server",
    flags: { out: OUT, 'task-queue': { value: 'Q', help: 'task queue to poll (default dicomflow)' } },
    async run({ positional, flags }) {
      noPositional('worker', positional);
      const { runWorker } = await import('./worker-command');
      return runWorker({ taskQueue: str(flags, 'task-queue'), outDir: str(flags, 'out') });
    },
  },
  serve: {
    synopsis: 'serve [--out DIR | --db URL] [--port P] [--host H] [--token T]',
    summary: "browse the catalog, DICOMweb for OHIF/Slicer, and a worker for DIR's runs (Reset/retry in the Temporal UI)",
    flags: {
      out: { value: 'DIR', help: `the output folder: its catalog, organized tree and Temporal server (default ./${DEFAULT_OUT})` },
      db: { value: 'URL', help: 'the catalog database instead of DIR/dicom.db: postgres://... or a SQLite file' },
      port: { value: 'P', help: `HTTP port (default 8030; 0: any free port)` },
      host: { value: 'H', help: 'address to listen on (default 127.0.0.1); any other host requires the token' },
      token: { value: 'T', help: 'bearer token every request must carry (default off loopback: generated, printed at start)' },
      'task-queue': { value: 'Q', help: 'task queue of the in-process worker (default dicomflow)' },
    },
    async run({ positional, flags }) {
      noPositional('serve', positional);
      const port = str(flags, 'port') === '0' ? 0 : int(flags, 'port');
      const { runServe } = await import('./serve-command');
      return runServe({
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        dbUrl: str(flags, 'db'),
        port,
        host: str(flags, 'host'),
        token: str(flags, 'token'),
        taskQueue: str(flags, 'task-queue'),
      });
    },
  },
  synth: {
    synopsis: 'synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip',
    summary: 'write a synthetic LIDC-like dataset as a zip',
    flags: {}, // synth's own table: SYNTH_FLAGS in src/synth/cli.ts
    async raw(argv) {
      const { synthCommand } = await import('../synth/cli');
      return synthCommand(argv);
    },
  },
  'db check': {
    synopsis: 'db check [--out DIR | --db URL]',
    summary: 'the catalog: record count, distinct patients/studies/series, nulls per column, schema check',
    flags: CATALOG,
    async run({ positional, flags }) {
      noPositional('db check', positional);
      const { dbCheck } = await import('../db/check');
      const result = await dbCheck({ outDir: str(flags, 'out') ?? DEFAULT_OUT, dbUrl: str(flags, 'db') });
      (result.ok ? process.stdout : process.stderr).write(result.text + '\n');
      return result.ok ? 0 : 1;
    },
  },
  show: {
    synopsis: 'show <sop-instance-uid> [--out DIR | --db URL]',
    summary: "one instance's whole header, readable",
    flags: CATALOG,
    async run({ positional, flags }) {
      if (positional.length !== 1) throw usageError('show', 'show takes exactly one SOP Instance UID');
      const { showInstance } = await import('./show-command');
      return showInstance(positional[0], { outDir: str(flags, 'out') ?? DEFAULT_OUT, dbUrl: str(flags, 'db') });
    },
  },
  demo: {
    synopsis: 'demo [--out DIR]',
    summary: 'synthesize a small dataset (with broken files) and ingest it',
    flags: { out: OUT },
    async run({ positional, flags }) {
      noPositional('demo', positional);
      const { runDemo } = await import('./demo-command');
      return runDemo(str(flags, 'out') ?? DEFAULT_OUT);
    },
  },
  'server start': {
    synopsis: 'server start [--out DIR]',
    summary: 'start (or find) the embedded Temporal server of DIR, print its address',
    flags: { out: OUT },
    async run({ positional, flags }) {
      noPositional('server start', positional);
      const { ensureDevServer } = await import('../temporal/dev-server');
      const outDir = path.resolve(str(flags, 'out') ?? DEFAULT_OUT);
      const server = await ensureDevServer(outDir, (m) => process.stderr.write(m + '\n'));
      process.stdout.write(
        `${server.reused ? `The Temporal server of ${outDir} is already running` : `Started the Temporal server of ${outDir}; it keeps running`} (pid ${server.pid})\n` +
          `  gRPC address  ${server.address}\n` +
          `  Web UI        ${server.uiUrl}\n` +
          (server.codecUrl ? `  codec         ${server.codecUrl} (the Web UI decodes the encrypted payloads through it)\n` : '') +
          `  workers:  dicomflow worker --out ${outDir}\n` +
          `  clients:  TEMPORAL_ADDRESS=${server.address} dicomflow ingest <source> --out ${outDir}\n` +
          `  stop it:  dicomflow server stop --out ${outDir}\n`,
      );
      return 0;
    },
  },
  'server stop': {
    synopsis: 'server stop [--out DIR]',
    summary: 'stop the embedded Temporal server of DIR',
    flags: { out: OUT },
    async run({ positional, flags }) {
      noPositional('server stop', positional);
      const { stopDevServer } = await import('../temporal/dev-server');
      const outDir = path.resolve(str(flags, 'out') ?? DEFAULT_OUT);
      process.stdout.write((await stopDevServer(outDir)) ? `stopped the Temporal server of ${outDir}\n` : `no Temporal server is running for ${outDir}\n`);
      return 0;
    },
  },
  'codec-server': {
    synopsis: 'codec-server [--out DIR] [--port N] [--ui-origin URL,...]',
    summary: 'the codec endpoint for a Temporal Web UI (see Security)',
    flags: {
      out: { value: 'DIR', help: `the key of DIR's embedded server, unless DICOMFLOW_CODEC_KEY(_FILE) is set (default ./${DEFAULT_OUT})` },
      port: { value: 'N', help: 'port on 127.0.0.1 (default: any free port)' },
      'ui-origin': { value: 'URL,...', help: 'Web UI origins allowed to call it (default http://localhost:8080,http://127.0.0.1:8080)' },
      'exit-with': { value: 'PID', help: 'stop when this process ends (how DIR\'s server starts it)' },
    },
    async run({ positional, flags }) {
      noPositional('codec-server', positional);
      const port = str(flags, 'port') === '0' ? 0 : int(flags, 'port');
      const exitWith = int(flags, 'exit-with');
      const { runCodecServer } = await import('./codec-command');
      return runCodecServer({
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        port,
        uiOrigins: (str(flags, 'ui-origin') ?? 'http://localhost:8080,http://127.0.0.1:8080').split(',').filter(Boolean),
        exitWith,
      });
    },
  },
  codes: {
    synopsis: 'codes',
    summary: 'the validation codes, as a Markdown table',
    flags: {},
    async run({ positional }) {
      noPositional('codes', positional);
      const { codeList } = await import('../dicom/codes');
      process.stdout.write('| code | level | status | meaning |\n|---|---|---|---|\n');
      for (const c of codeList()) process.stdout.write(`| \`${c.code}\` | ${c.level} | ${c.status} | ${c.meaning} |\n`);
      return 0;
    },
  },
  setup: {
    synopsis: 'setup',
    summary: 'find or build the Temporal CLI, and fetch the OHIF viewer `serve` shows (both cached, once)',
    flags: {},
    async run({ positional }) {
      noPositional('setup', positional);
      const { findTemporalCli } = await import('../temporal/cli-binary');
      process.stdout.write(`Temporal CLI: ${findTemporalCli()}\n`);
      // The viewer is optional: without it everything but /viewer works, so a failure here is a warning.
      const { installOhif } = await import('../serve/ohif');
      try {
        process.stdout.write(`OHIF viewer: ${installOhif()}\n`);
      } catch (err) {
        process.stderr.write(`dicomflow: warning: the OHIF viewer was not fetched: ${(err as Error).message}\n`);
      }
      return 0;
    },
  },
};

/** Commands with a subcommand: `db check`, `server start|stop`. */
const GROUPS: Record<string, string[]> = { db: ['check'], server: ['start', 'stop'] };

/** One command's usage: its synopsis and its flags. */
export function commandUsage(name: string): string {
  const c = COMMANDS[name];
  const flags = flagHelp(c.flags);
  return `usage: dicomflow ${c.synopsis}${flags ? `\n${flags}` : ''}`;
}

const GLOBAL_USAGE = [
  'usage: dicomflow <command> [options]',
  '',
  ...Object.values(COMMANDS).map((c) => `  dicomflow ${c.synopsis}\n      ${c.summary}`),
  '',
  '  dicomflow <command> --help   one command and its options',
  '  dicomflow --version          the version',
].join('\n');

function usageError(command: string, message: string): UsageError {
  return new UsageError(`${message}\n${commandUsage(command)}`);
}

function noPositional(command: string, positional: string[]): void {
  if (positional.length > 0) throw usageError(command, `${command} takes no argument "${positional[0]}"`);
}

export function version(): string {
  // dist/cli/main.js and src/cli/main.ts are both two levels below the package root.
  return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
}

const isCommand = (name: string | undefined): name is string => name !== undefined && Object.hasOwn(COMMANDS, name);
const isGroup = (name: string | undefined): name is string => name !== undefined && Object.hasOwn(GROUPS, name);

/** Resolves argv to a command of COMMANDS and its remaining arguments. */
function resolveCommand(argv: string[]): { name: string; rest: string[] } | { group: string; sub?: string } {
  const [first, ...rest] = argv;
  if (isGroup(first)) {
    const sub = rest[0] === undefined || rest[0].startsWith('-') ? undefined : rest[0];
    if (!sub || !GROUPS[first].includes(sub)) return { group: first, sub };
    return { name: `${first} ${sub}`, rest: rest.slice(1) };
  }
  return { name: first, rest };
}

export async function run(argv: string[]): Promise<number> {
  const [first] = argv;
  if (first === undefined) {
    process.stderr.write(GLOBAL_USAGE + '\n');
    return 2;
  }
  if (first === '-h' || first === '--help') {
    process.stdout.write(GLOBAL_USAGE + '\n');
    return 0;
  }
  if (first === '-V' || first === '--version') {
    process.stdout.write(`dicomflow ${version()}\n`);
    return 0;
  }
  if (first === 'help') {
    const target = argv.slice(1).join(' ');
    if (!target) {
      process.stdout.write(GLOBAL_USAGE + '\n');
      return 0;
    }
    if (isCommand(target)) {
      process.stdout.write((target === 'synth' ? (await import('../synth/cli')).SYNTH_USAGE : commandUsage(target)) + '\n');
      return 0;
    }
    if (!isGroup(target)) throw new UsageError(`unknown command "${target}"\n${GLOBAL_USAGE}`);
  }
  const resolved = resolveCommand(first === 'help' ? argv.slice(1) : argv);
  if ('group' in resolved) {
    const subs = GROUPS[resolved.group].map((s) => commandUsage(`${resolved.group} ${s}`)).join('\n');
    const helpAsked = first === 'help' || wantsHelp(argv);
    if (helpAsked && resolved.sub === undefined) {
      process.stdout.write(subs + '\n');
      return 0;
    }
    const what = resolved.sub === undefined ? `${resolved.group} needs a subcommand` : `unknown subcommand "${resolved.group} ${resolved.sub}"`;
    throw new UsageError(`${what}\n${subs}`);
  }
  const command = isCommand(resolved.name) ? COMMANDS[resolved.name] : undefined;
  if (!command) {
    if (first.startsWith('-')) throw new UsageError(`unknown flag ${first}\n${GLOBAL_USAGE}`);
    throw new UsageError(`unknown command "${first}"\n${GLOBAL_USAGE}`);
  }
  if (command.raw) return command.raw(resolved.rest);
  if (wantsHelp(resolved.rest)) {
    process.stdout.write(commandUsage(resolved.name) + '\n');
    return 0;
  }
  return command.run!(parseArgs(resolved.rest, command.flags, commandUsage(resolved.name)));
}

export function main(argv: string[]): void {
  run(argv).then(
    (code) => process.exit(code),
    (err) => {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`dicomflow: ${message}\n`);
      if (!(err instanceof UsageError) && process.env.DICOMFLOW_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
      process.exit(2);
    },
  );
}
