/**
 * `dicomflow ingest`: starts the ingestDataset workflow (or attaches to the unfinished run of the same source
 * and folder, or reports the finished one), shows live progress from the workflow's query, prints a summary.
 * With no TEMPORAL_ADDRESS it runs on the embedded default: a local dev server for DIR plus an in-process worker.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Client } from '@temporalio/client';
import type { NativeConnection, Worker } from '@temporalio/worker';
import { answers, launchDevServer, stopDevServer } from '../temporal/dev-server';
import { loadCodec } from '../temporal/codec';
import { redactDbUrl, rememberDbUrl } from '../db/credentials';
import { DEFAULT_TASK_QUEUE, INGEST_WORKFLOW, PROGRESS_QUERY, scratchKey } from '../contract';
import type { IngestInput, IngestSummary, Progress } from '../workflows/types';
import type { ingestDataset } from '../workflows';
import { workspace } from '../workspace';
import { logEvent } from '../log';
import { checkUrlReachable, resolveSource, UsageError, workflowIdFor, type ResolvedSource } from './source';
import { sha256File } from '../io/sha256';
import { ProgressMeter, summaryText } from './progress';
import { liveActivities, takeOverOrphans } from './live';
import { measuredStageSeconds } from './stage-times';

export interface IngestOptions {
  source: string;
  outDir: string;
  dbUrl?: string;
  sha256?: string;
  runId?: string;
  rerun?: boolean;
  batchSize?: number;
  concurrency?: number;
  taskQueue?: string;
  maxUncompressedBytes?: number;
  /** Keep the run's scratch folder after it completes. */
  keepWork?: boolean;
  /** A folder: remove the instances of files gone from it from the catalog and the tree. */
  prune?: boolean;
}

const print = (line: string) => process.stdout.write(line + '\n');

/** The in-process worker's code, loaded (and its thread pools started) while the embedded server starts. */
export async function loadWorkerCode(outDir: string) {
  const { DefaultLogger, NativeConnection, Runtime } = await import('@temporalio/worker');
  const { createWorker } = await import('../worker');
  const { lastDiskFault } = await import('../activities/io-failures');
  // Worker warnings, the Rust core's included (a lost server makes it warn on every poll), go to DIR/logs/worker.log,
  // not over the progress line. Logging never fails the run (a full disk).
  const workerLog = path.join(workspace(outDir).logsDir, 'worker.log');
  fs.mkdirSync(path.dirname(workerLog), { recursive: true });
  const logger = new DefaultLogger('WARN', (e) => {
    try {
      fs.appendFileSync(workerLog, `${new Date().toISOString()} ${e.level} ${e.message} ${JSON.stringify(e.meta ?? {})}\n`);
    } catch {
      /* nowhere to write: drop it */
    }
  });
  Runtime.install({ logger, telemetryOptions: { logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } } } });
  return { NativeConnection, createWorker, lastDiskFault };
}

/** Returns the exit code. Throws UsageError for an unusable source. */
export async function runIngest(opts: IngestOptions): Promise<number> {
  const outDir = path.resolve(opts.outDir);
  const source = resolveSource(opts.source);
  const workflowId = opts.runId ?? workflowIdFor(source, outDir);
  fs.mkdirSync(outDir, { recursive: true });

  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = opts.taskQueue ?? process.env.DICOMFLOW_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const external = process.env.TEMPORAL_ADDRESS;
  // Every payload is encrypted; the embedded default's key is made with DIR's server (DIR/temporal/codec.key).
  const codec = loadCodec({ outDir, create: !external });
  let address: string;
  let uiUrl: string | undefined;
  let workerCode: Awaited<ReturnType<typeof loadWorkerCode>> | undefined;
  let startedServer = false;
  if (external) {
    address = external;
    uiUrl = process.env.TEMPORAL_UI_URL;
  } else {
    // The server boots in its own process while this one loads the worker's code.
    const launched = await launchDevServer(outDir, (m) => process.stderr.write(m + '\n'));
    workerCode = await loadWorkerCode(outDir);
    const server = await launched.ready;
    address = server.address;
    uiUrl = server.uiUrl;
    startedServer = !server.reused;
    print(`${server.reused ? 'Using' : 'Started'} the local Temporal server for ${outDir}: ${address}, Web UI ${uiUrl}`);
  }

  // The catalog's password never enters a payload: this process's own worker keeps it in memory (for a new run and
  // for the unfinished one it resumes); other workers have it in their own configuration (DICOMFLOW_DB_URL).
  const dbUrl = workerCode && opts.dbUrl ? rememberDbUrl(opts.dbUrl) : redactDbUrl(opts.dbUrl);

  const { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } = await import('@temporalio/client');
  // The in-process worker is created while the run is looked up and started (it takes a moment to load its bundle).
  let nativeConnection: NativeConnection | undefined;
  const creating = workerCode
    ? (async () => {
        nativeConnection = await workerCode.NativeConnection.connect({ address });
        return workerCode.createWorker({ connection: nativeConnection, namespace, taskQueue, codec });
      })()
    : undefined;
  creating?.catch(() => undefined); // awaited below
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace, dataConverter: { payloadCodecs: [codec] } });
  let worker: Worker | undefined;
  try {
    let handle = client.workflow.getHandle(workflowId);
    const described = await handle.describe().catch((err) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
    const status = described?.status.name ?? 'NONE';

    let runId = workflowId;
    /** Why a completed source runs again: a folder's new files, a zip whose bytes changed. */
    let again: string | undefined;
    if (status === 'COMPLETED' && !opts.rerun) {
      const done = (await handle.result()) as IngestSummary;
      again = await runAgain(source, done, opts.sha256);
      if (again === undefined) {
        print(`This source was already ingested into ${outDir} (run ${done.runId ?? workflowId}); --rerun starts a new run.`);
        done.stageSeconds = await measuredStageSeconds(handle, done.stageSeconds);
        print(summaryText(done, { workflowId, uiUrl, namespace }));
        return 0;
      }
    }
    if (status !== 'RUNNING') {
      if (source.kind === 'url') {
        try {
          await checkUrlReachable(source.location);
        } catch (err) {
          // Nothing will run: a server started just for this command goes again.
          if (startedServer) await stopDevServer(outDir);
          throw err;
        }
      }
      // A new run of the workflow (--rerun, or the source again) gets a run id of its own; a failed run started again
      // keeps its own (its scratch holds the stages it finished).
      runId = opts.rerun || again ? `${workflowId}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}` : status === 'NONE' ? workflowId : unfinishedRunId(outDir, source.location, workflowId);
      const input: IngestInput = {
        source: source.location,
        sourceKind: source.kind,
        outDir,
        runId,
        dbUrl,
        sha256: opts.sha256,
        batchSize: opts.batchSize,
        concurrency: opts.concurrency ?? Math.max(2, os.availableParallelism() * 2),
        maxUncompressedBytes: opts.maxUncompressedBytes,
        keepWork: opts.keepWork || undefined,
        prune: opts.prune || undefined,
        // --rerun of a folder: every file again (the scan still counts what changed).
        processAll: (opts.rerun && source.kind === 'folder') || undefined,
      };
      try {
        claimScratch(outDir, input.runId, input.source);
        handle = await client.workflow.start<typeof ingestDataset>(INGEST_WORKFLOW, { taskQueue, workflowId, args: [input] });
        const what = runId === workflowId ? `run ${workflowId}` : `run ${runId} (workflow ${workflowId})`;
        if (again) print(`${again}: started ${what}`);
        else print(status === 'NONE' || opts.rerun ? `Started ${what}` : `Previous run ended ${status}; started it again (finished stages are not redone)`);
      } catch (err) {
        // The same command started at the same moment elsewhere won the race: this one follows that run.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        handle = client.workflow.getHandle(workflowId);
        print(`Attached to run ${workflowId}, started at the same moment by another command`);
      }
    } else {
      print(`Resuming the unfinished run ${workflowId}`);
      // The run's workflow tasks may be bound to the worker of a killed command (its sticky queue): send them to the
      // task queue, where this command's worker (or any other) picks them up at once.
      await client.workflowService.resetStickyTaskQueue({ namespace, execution: { workflowId } }).catch(() => undefined);
      // Activities a killed command's worker was running are retried now, not after their heartbeat timeout.
      const taken = await takeOverOrphans(client, namespace, workflowId);
      if (taken > 0) print(`  took over ${taken} activit${taken === 1 ? 'y' : 'ies'} of a worker that is gone`);
    }

    worker = await creating;
    const onSigint = () => {
      process.stderr.write('\nInterrupted: the run stays where it is; run the same command again to resume it.\n');
      process.exit(130);
    };
    process.once('SIGINT', onSigint);

    const result = watch(handle.workflowId, client, handle.result() as Promise<IngestSummary>, address, workerCode?.lastDiskFault);
    let summary: IngestSummary;
    if (worker) {
      // The worker stops gracefully once the run ends; a run that cannot be watched (the server gone) ends the
      // command at once, without waiting for a worker that cannot reach its server to shut down.
      const running = worker.runUntil(result);
      running.catch(() => undefined);
      summary = await Promise.race([running, result.then(() => running)]);
    } else {
      summary = await result;
    }
    process.removeListener('SIGINT', onSigint);
    // Time per stage from the activities that ran (the workflow's figures count idle time after a Reset).
    summary.stageSeconds = await measuredStageSeconds(client.workflow.getHandle(workflowId), summary.stageSeconds);
    print(summaryText(summary, { workflowId, uiUrl, namespace }));
    // The in-process worker deletes the run's scratch and closes the catalog after the run: done before the command exits.
    if (worker) await (await import('../background')).backgroundDone();
    if (!external) print(`  The local Temporal server keeps running for the Web UI; stop it with: dicomflow server stop --out ${outDir}`);
    return 0;
  } catch (err) {
    const failed = (cause: string) => {
      process.stderr.write(`\ndicomflow: run ${workflowId} failed: ${cause}\n`);
      process.stderr.write(`  fix the cause and run the same command again: finished stages are not redone${uiUrl ? `; details: ${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}` : ''}\n`);
      return 1;
    };
    if (err instanceof WorkflowFailedError) return failed(err.cause?.message ?? err.message);
    if (err instanceof UsageError) throw err; // an unusable source: said as it is
    // The server could not say how the run ended (a full disk stops it writing its history too, or it is gone):
    // what this process's worker saw, or what the server's state says.
    const fault = workerCode?.lastDiskFault();
    if (fault) return failed(`stage ${fault.stage} failed: ${fault.message}`);
    if (err instanceof ServerGone || !(await answers(address, 3000))) {
      process.stderr.write(
        `\ndicomflow: the Temporal server at ${address} is gone; run ${workflowId} stays where it stopped: run the same command again to resume it` +
          `${external ? ' once the server is back' : ' (it starts the local server again)'}\n`,
      );
      return 2;
    }
    const full = diskFull(outDir);
    if (full) return failed(full);
    throw err;
  } finally {
    // The peak memory of this process (its in-process worker and thread pools included), for the log.
    logEvent(outDir, 'info', 'ingest', 'command ended', { workflowId, maxRssMB: peakRssMB() });
    await creating?.catch(() => undefined);
    await nativeConnection?.close().catch(() => undefined);
    await connection.close();
  }
}

/**
 * Whether a source whose last run completed is run again, and why: a folder always (the run processes only the files
 * new or changed since the runs before: the file catalog says which); a zip whose SHA-256 differs from the one the
 * last run recorded; a URL whose --sha256 differs from it. Undefined: the same bytes, nothing to do.
 */
async function runAgain(source: ResolvedSource, done: IngestSummary, sha256?: string): Promise<string | undefined> {
  if (source.kind === 'folder') return `Looking for new and changed files in ${source.location} since run ${done.runId}`;
  if (done.sourceSha256 === undefined) return undefined; // a run that recorded no hash: as before, already ingested
  const now = source.kind === 'zip' ? await sha256File(source.location) : sha256?.toLowerCase();
  if (now === undefined || now === done.sourceSha256) return undefined;
  return `The ${source.kind === 'zip' ? 'zip' : 'download'} changed since run ${done.runId} (SHA-256 ${now.slice(0, 12)}..., was ${done.sourceSha256.slice(0, 12)}...)`;
}

/**
 * The run id of this source's unfinished run in DIR (a failed one, to start again): a later run of a folder or of a
 * changed zip has a run id of its own, `<workflow id>-<time>`, which its scratch folder's owner.json names (a
 * completed run's scratch is gone). The newest such folder; none: the workflow id, as every first run has.
 */
function unfinishedRunId(outDir: string, source: string, workflowId: string): string {
  const runsDir = path.join(workspace(outDir).workDir, 'runs');
  const what = source.split('?')[0];
  let best: { runId: string; at: number } | undefined;
  for (const key of fs.existsSync(runsDir) ? fs.readdirSync(runsDir) : []) {
    try {
      const ownerFile = path.join(runsDir, key, 'owner.json');
      const owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as { runId?: string; source?: string };
      if (owner.source !== what || typeof owner.runId !== 'string' || !owner.runId.startsWith(workflowId)) continue;
      const at = fs.statSync(ownerFile).mtimeMs;
      if (!best || at > best.at) best = { runId: owner.runId, at };
    } catch {
      /* not a run's scratch */
    }
  }
  return best?.runId ?? workflowId;
}

/**
 * A run's scratch folder DIR/work/runs/<key> holds its intermediate files; stages trust what they find there (that
 * is how a run started again after a failure skips finished work). Each run id has its own folder (--rerun makes a
 * new run id), so only a folder left by another source under the same run id (--run-id reused) starts afresh.
 * Other runs' folders, running or not, are never touched.
 */
function claimScratch(outDir: string, runId: string, source: string): void {
  const ws = workspace(outDir, scratchKey(runId));
  const ownerFile = path.join(ws.workDir, 'owner.json');
  let owner: { runId?: string; source?: string } | undefined;
  try {
    owner = JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as { runId?: string; source?: string };
  } catch {
    /* no earlier run */
  }
  // The source without a presigned query, as everywhere outside the workflow input.
  const what = source.split('?')[0];
  if (owner !== undefined && (owner.runId !== runId || owner.source !== what)) fs.rmSync(ws.workDir, { recursive: true, force: true });
  fs.mkdirSync(ws.workDir, { recursive: true });
  fs.writeFileSync(ownerFile, JSON.stringify({ runId, source: what }));
}

/** The Temporal server stopped answering while the run was watched. */
class ServerGone extends Error {}

/** How long the server may not answer the progress query before the command checks whether it is gone. */
const SILENT_SERVER_MS = 5000;
/**
 * How long the run may go on after this process's worker met a full disk: the server keeps its history on DIR's disk
 * too and may be unable to record the failure, so the command stops waiting and says what the worker saw.
 */
const AFTER_DISK_FAULT_MS = 15_000;

/** "no space left ..." when the file system of DIR has (next to) nothing free; undefined otherwise or unknown. */
function diskFull(outDir: string): string | undefined {
  try {
    const s = fs.statfsSync(outDir);
    if (s.bavail * s.bsize >= 1024 * 1024) return undefined;
    return `no space left on the device (ENOSPC) at ${outDir}; free space there (or use --out on a larger disk)`;
  } catch {
    return undefined;
  }
}

/**
 * Prints progress from the workflow's query and its pending activities (rate, time left, retries) until `result`
 * settles. Rejects with ServerGone when the server at `address` stops answering (its history cannot be read then).
 */
async function watch<T>(workflowId: string, client: Client, result: Promise<T>, address: string, diskFault?: () => unknown): Promise<T> {
  const tty = process.stdout.isTTY;
  const meter = new ProgressMeter();
  let last = '';
  let lastPrinted = 0;
  let settled = false;
  const done = result.then(
    () => undefined,
    () => undefined,
  );
  result.finally(() => (settled = true)).catch(() => undefined);
  let answeredAt = Date.now();
  const poll = async () => {
    while (!settled) {
      try {
        const [progress, live] = await Promise.all([client.workflow.getHandle(workflowId).query<Progress>(PROGRESS_QUERY), liveActivities(client, workflowId)]);
        answeredAt = Date.now();
        const line = meter.line(progress, live);
        if (tty) process.stdout.write(`\r\x1b[2K${line}`);
        else if (line !== last && (Date.now() - lastPrinted > 2000 || line.split(']')[0] !== last.split(']')[0])) {
          print(line);
          lastPrinted = Date.now();
        }
        last = line;
      } catch {
        /* no worker has answered yet */
      }
      // The next look, or the end of the run, whichever comes first.
      await Promise.race([new Promise((r) => setTimeout(r, tty ? 500 : 1000)), done]);
    }
    if (tty) process.stdout.write('\n');
  };
  // Every second, whether the server still answers once the query has been silent for a while.
  let faultSeenAt: number | undefined;
  const liveness = async () => {
    while (!settled) {
      await Promise.race([new Promise((r) => setTimeout(r, 1000)), done]);
      if (!settled && diskFault?.()) {
        faultSeenAt ??= Date.now();
        if (Date.now() - faultSeenAt > AFTER_DISK_FAULT_MS) throw new Error('the run did not end after a disk fault');
      }
      if (settled || Date.now() - answeredAt <= SILENT_SERVER_MS) continue;
      if (!(await answers(address, 2000))) throw new ServerGone(`the Temporal server at ${address} is gone`);
      answeredAt = Date.now(); // it answers: the query waits for a worker, not for the server
    }
  };
  const [value] = await Promise.all([result, poll(), liveness()]);
  return value;
}

/**
 * This process's peak resident memory in MB: VmHWM of /proc/self/status where there is one. Not getrusage's maxRSS:
 * on Linux that keeps the high-water mark of the process image before exec, i.e. of whatever forked this command
 * (a test runner of 500 MB made every command it started look that big).
 */
function peakRssMB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Math.round(Number(hwm[1]) / 1024);
  } catch {
    /* not Linux */
  }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}
