/**
 * The `dicomflow` command:
 *   ingest <source> [--out DIR] [--db URL] [--sha256 HEX] [--run-id ID] [--rerun] [--batch-size N] [--concurrency N]
 *   worker [--out DIR] [--task-queue Q]     a worker for TEMPORAL_ADDRESS's cluster, or for DIR's local Temporal server
 *   synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip
 *   db check [--out DIR | --db URL]         the catalog's checks (counts, nulls, schema)
 *   show <sop-instance-uid> [--out DIR | --db URL]
 *   demo [--out DIR]                        synthesize a small dataset and ingest it
 *   server start [--out DIR]                start (or find) the embedded Temporal server of DIR, print its address
 *   server stop [--out DIR]                 stop the embedded Temporal server of DIR
 *   codec-server [--out DIR] [--port N] [--ui-origin URL,...]   the codec endpoint for a Temporal Web UI
 *   codes                                   the validation codes, as a Markdown table
 *   setup                                   find or build the Temporal CLI
 */
import * as path from 'path';
import { UsageError } from '../client/source';

const USAGE = `usage:
  dicomflow ingest <zip | folder | http(s) URL> [--out DIR] [--db URL] [--sha256 HEX] [--run-id ID] [--rerun]
                   [--batch-size N] [--concurrency N] [--task-queue Q] [--max-gib N] [--keep-work]
  dicomflow worker [--out DIR] [--task-queue Q]   (TEMPORAL_ADDRESS's cluster, else DIR's local server)
  dicomflow synth --patients N [--slices M] [--size PX] [--broken] [--deflate] [--seed S] --out X.zip
  dicomflow db check [--out DIR | --db URL]
  dicomflow show <sop-instance-uid> [--out DIR | --db URL]
  dicomflow demo [--out DIR]
  dicomflow server start [--out DIR]
  dicomflow server stop [--out DIR]
  dicomflow codec-server [--out DIR] [--port N] [--ui-origin URL,...]
  dicomflow codes
  dicomflow setup`;

export interface ParsedArgs {
  positional: string[];
  flags: Record<string, string | true>;
}

const BOOLEAN_FLAGS = new Set(['rerun', 'broken', 'help', 'keep-work']);

export function parseArgs(argv: string[]): ParsedArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let k = 0; k < argv.length; k++) {
    const arg = argv[k];
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2);
    if (inline !== undefined) flags[name] = inline;
    else if (BOOLEAN_FLAGS.has(name)) flags[name] = true;
    else if (k + 1 < argv.length) flags[name] = argv[++k];
    else throw new UsageError(`--${name} needs a value`);
  }
  return { positional, flags };
}

function str(flags: ParsedArgs['flags'], name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

function int(flags: ParsedArgs['flags'], name: string): number | undefined {
  const v = str(flags, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`--${name} must be a positive whole number, got "${v}"`);
  return n;
}

const DEFAULT_OUT = 'dicomflow-out';

async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help') {
    process.stdout.write(USAGE + '\n');
    return command ? 0 : 2;
  }
  switch (command) {
    case 'ingest': {
      const { positional, flags } = parseArgs(rest);
      if (positional.length !== 1) throw new UsageError('ingest takes exactly one source: a .zip, a folder or an http(s) URL');
      const { runIngest } = await import('../client/ingest');
      const maxGiB = str(flags, 'max-gib');
      return runIngest({
        source: positional[0],
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        dbUrl: str(flags, 'db'),
        sha256: str(flags, 'sha256'),
        runId: str(flags, 'run-id'),
        rerun: flags.rerun === true,
        keepWork: flags['keep-work'] === true,
        batchSize: int(flags, 'batch-size'),
        concurrency: int(flags, 'concurrency'),
        taskQueue: str(flags, 'task-queue'),
        maxUncompressedBytes: maxGiB ? Number(maxGiB) * 2 ** 30 : undefined,
      });
    }
    case 'worker': {
      const { flags } = parseArgs(rest);
      const { runWorker } = await import('./worker-command');
      return runWorker({ taskQueue: str(flags, 'task-queue'), outDir: str(flags, 'out') });
    }
    case 'synth': {
      const { synthCommand } = await import('../synth/cli');
      return synthCommand(rest);
    }
    case 'db': {
      const { positional, flags } = parseArgs(rest);
      if (positional[0] !== 'check') throw new UsageError('usage: dicomflow db check [--out DIR | --db URL]');
      const { dbCheck } = await import('../db/check');
      const result = await dbCheck({ outDir: str(flags, 'out') ?? DEFAULT_OUT, dbUrl: str(flags, 'db') });
      (result.ok ? process.stdout : process.stderr).write(result.text + '\n');
      return result.ok ? 0 : 1;
    }
    case 'show': {
      const { positional, flags } = parseArgs(rest);
      if (positional.length !== 1) throw new UsageError('usage: dicomflow show <sop-instance-uid> [--out DIR | --db URL]');
      const { showInstance } = await import('./show-command');
      return showInstance(positional[0], { outDir: str(flags, 'out') ?? DEFAULT_OUT, dbUrl: str(flags, 'db') });
    }
    case 'demo': {
      const { flags } = parseArgs(rest);
      const { runDemo } = await import('./demo-command');
      return runDemo(str(flags, 'out') ?? DEFAULT_OUT);
    }
    case 'server': {
      const { positional, flags } = parseArgs(rest);
      if (positional.length !== 1 || !['start', 'stop'].includes(positional[0])) {
        throw new UsageError('usage: dicomflow server start [--out DIR] | dicomflow server stop [--out DIR]');
      }
      const { ensureDevServer, stopDevServer } = await import('../temporal/dev-server');
      const outDir = path.resolve(str(flags, 'out') ?? DEFAULT_OUT);
      if (positional[0] === 'stop') {
        process.stdout.write((await stopDevServer(outDir)) ? `stopped the Temporal server of ${outDir}\n` : `no Temporal server is running for ${outDir}\n`);
        return 0;
      }
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
    }
    case 'codec-server': {
      const { flags } = parseArgs(rest);
      const { runCodecServer } = await import('./codec-command');
      const exitWith = int(flags, 'exit-with');
      return runCodecServer({
        outDir: str(flags, 'out') ?? DEFAULT_OUT,
        port: str(flags, 'port') === '0' ? 0 : int(flags, 'port'),
        uiOrigins: (str(flags, 'ui-origin') ?? 'http://localhost:8080,http://127.0.0.1:8080').split(',').filter(Boolean),
        exitWith,
      });
    }
    case 'codes': {
      const { codeList } = await import('../dicom/codes');
      process.stdout.write('| code | level | status | meaning |\n|---|---|---|---|\n');
      for (const c of codeList()) process.stdout.write(`| \`${c.code}\` | ${c.level} | ${c.status} | ${c.meaning} |\n`);
      return 0;
    }
    case 'setup': {
      const { findTemporalCli } = await import('../temporal/cli-binary');
      process.stdout.write(`Temporal CLI: ${findTemporalCli()}\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"\n${USAGE}`);
  }
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
