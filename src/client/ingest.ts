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
import { launchDevServer, stopDevServer } from '../temporal/dev-server';
import { DEFAULT_TASK_QUEUE, INGEST_WORKFLOW, PROGRESS_QUERY } from '../contract';
import type { IngestInput, IngestSummary, Progress } from '../workflows/types';
import type { ingestDataset } from '../workflows';
import { workspace } from '../workspace';
import { checkUrlReachable, resolveSource, workflowIdFor } from './source';
import { ProgressMeter, summaryText } from './progress';
import { liveActivities } from './live';
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
}

const print = (line: string) => process.stdout.write(line + '\n');

/** The in-process worker's code, loaded (and its thread pools started) while the embedded server starts. */
async function loadWorkerCode(outDir: string) {
  const { DefaultLogger, NativeConnection, Runtime } = await import('@temporalio/worker');
  const { createWorker } = await import('../worker');
  // Worker warnings go to DIR/logs, not over the progress line.
  const workerLog = path.join(workspace(outDir).logsDir, 'worker.log');
  fs.mkdirSync(path.dirname(workerLog), { recursive: true });
  Runtime.install({ logger: new DefaultLogger('WARN', (e) => fs.appendFileSync(workerLog, `${new Date().toISOString()} ${e.level} ${e.message} ${JSON.stringify(e.meta ?? {})}\n`)) });
  return { NativeConnection, createWorker };
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

  const { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } = await import('@temporalio/client');
  // The in-process worker is created while the run is looked up and started (it takes a moment to load its bundle).
  let nativeConnection: NativeConnection | undefined;
  const creating = workerCode
    ? (async () => {
        nativeConnection = await workerCode.NativeConnection.connect({ address });
        return workerCode.createWorker({ connection: nativeConnection, namespace, taskQueue });
      })()
    : undefined;
  creating?.catch(() => undefined); // awaited below
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  let worker: Worker | undefined;
  try {
    let handle = client.workflow.getHandle(workflowId);
    const status = await handle
      .describe()
      .then((d) => d.status.name)
      .catch((err) => {
        if (err instanceof WorkflowNotFoundError) return 'NONE';
        throw err;
      });

    let runId = workflowId;
    if (status === 'COMPLETED' && !opts.rerun) {
      print(`This source was already ingested into ${outDir} (run ${workflowId}); --rerun starts a new run.`);
      const done = (await handle.result()) as IngestSummary;
      done.stageSeconds = await measuredStageSeconds(handle, done.stageSeconds);
      print(summaryText(done, { workflowId, uiUrl, namespace }));
      return 0;
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
      runId = opts.rerun ? `${workflowId}-${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}` : workflowId;
      const input: IngestInput = {
        source: source.location,
        sourceKind: source.kind,
        outDir,
        runId,
        dbUrl: opts.dbUrl,
        sha256: opts.sha256,
        batchSize: opts.batchSize,
        concurrency: opts.concurrency ?? Math.max(2, os.availableParallelism() * 2),
        maxUncompressedBytes: opts.maxUncompressedBytes,
      };
      try {
        claimScratch(outDir, input.runId, opts.rerun === true);
        handle = await client.workflow.start<typeof ingestDataset>(INGEST_WORKFLOW, { taskQueue, workflowId, args: [input] });
        const what = runId === workflowId ? `run ${workflowId}` : `run ${runId} (workflow ${workflowId})`;
        print(status === 'NONE' || opts.rerun ? `Started ${what}` : `Previous run ended ${status}; started it again (finished stages are not redone)`);
      } catch (err) {
        // The same command started at the same moment elsewhere won the race: this one follows that run.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        handle = client.workflow.getHandle(workflowId);
        print(`Attached to run ${workflowId}, started at the same moment by another command`);
      }
    } else {
      print(`Resuming the unfinished run ${workflowId}`);
    }

    worker = await creating;
    const onSigint = () => {
      process.stderr.write('\nInterrupted: the run stays where it is; run the same command again to resume it.\n');
      process.exit(130);
    };
    process.once('SIGINT', onSigint);

    const result = watch(handle.workflowId, client, handle.result() as Promise<IngestSummary>);
    const summary = worker ? await worker.runUntil(result) : await result;
    process.removeListener('SIGINT', onSigint);
    // Time per stage from the activities that ran (the workflow's figures count idle time after a Reset).
    summary.stageSeconds = await measuredStageSeconds(client.workflow.getHandle(workflowId), summary.stageSeconds);
    print(summaryText(summary, { workflowId, uiUrl, namespace }));
    if (!external) print(`  The local Temporal server keeps running for the Web UI; stop it with: dicomflow server stop --out ${outDir}`);
    return 0;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause?.message ?? err.message;
      process.stderr.write(`\ndicomflow: run ${workflowId} failed: ${cause}\n`);
      process.stderr.write(`  fix the cause and run the same command again: finished stages are not redone${uiUrl ? `; details: ${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}` : ''}\n`);
      return 1;
    }
    throw err;
  } finally {
    await creating?.catch(() => undefined);
    await nativeConnection?.close().catch(() => undefined);
    await connection.close();
  }
}

/**
 * DIR/work and DIR/download hold one run's intermediate files; stages trust what they find there (that is how a
 * resumed run skips finished work). So a run of another source into the same DIR, or --rerun, starts them afresh.
 */
function claimScratch(outDir: string, runId: string, fresh: boolean): void {
  const ws = workspace(outDir);
  const ownerFile = path.join(ws.workDir, 'owner.json');
  let owner: string | undefined;
  try {
    owner = (JSON.parse(fs.readFileSync(ownerFile, 'utf8')) as { runId: string }).runId;
  } catch {
    /* no earlier run */
  }
  if (fresh || (owner !== undefined && owner !== runId)) {
    fs.rmSync(ws.workDir, { recursive: true, force: true });
    fs.rmSync(ws.downloadDir, { recursive: true, force: true });
  }
  fs.mkdirSync(ws.workDir, { recursive: true });
  fs.writeFileSync(ownerFile, JSON.stringify({ runId }));
}

/** Prints progress from the workflow's query and its pending activities (rate, time left, retries) until `result` settles. */
async function watch<T>(workflowId: string, client: Client, result: Promise<T>): Promise<T> {
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
  const poll = async () => {
    while (!settled) {
      try {
        const [progress, live] = await Promise.all([client.workflow.getHandle(workflowId).query<Progress>(PROGRESS_QUERY), liveActivities(client, workflowId)]);
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
  const [value] = await Promise.all([result, poll()]);
  return value;
}
