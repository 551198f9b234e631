/**
 * `dicomflow export`: checks the request, writes it to the export's scratch (DIR/work/exports/<id>/request.json),
 * then starts the exportDataset workflow (or attaches to the unfinished one, or reports the finished one: the same
 * selection, options, destination and key make the same export id, so a second export is a no-op). `--dry-run` only
 * prints the selection. The Temporal side is ingest's: the embedded dev server of DIR and an in-process worker, or
 * TEMPORAL_ADDRESS's cluster.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { launchDevServer } from '../temporal/dev-server';
import { loadCodec } from '../temporal/codec';
import { missingCatalog, openExistingCatalog } from '../db/catalog';
import { redactDbUrl, rememberDbUrl } from '../db/credentials';
import { DEFAULT_TASK_QUEUE, EXPORT_WORKFLOW, exportWorkflowId, PROGRESS_QUERY } from '../contract';
import type { ExportInput, ExportProgress } from '../workflows/types';
import type { exportDataset } from '../workflows';
import { exportKeysDir, exportWorkspace } from '../workspace';
import { checkWhere, formatBytes, selectSeries, selectionText, SelectionError, type Selection } from '../export/select';
import { PROFILE_OPTIONS, type ProfileOption } from '../export/deid';
import { ensureKeyFile, keyFingerprint, readKey } from '../export/uid';
import type { ExportRequest, ExportSummary } from '../export/run';
import { isInside } from '../io/entry-path';
import { UsageError } from './source';
import { ProgressMeter } from './progress';
import { liveActivities } from './live';
import { loadWorkerCode } from './ingest';
import { plural } from '../text';

export interface ExportOptions {
  outDir: string;
  dbUrl?: string;
  to?: string;
  format?: string;
  deidentify?: boolean;
  profileOptions?: string[];
  keyFile?: string;
  allowBurnedIn?: boolean;
  dryRun?: boolean;
  selection: Selection;
  concurrency?: number;
  taskQueue?: string;
  /** Instances per batch activity (whole series). */
  batchSize?: number;
}

const print = (line: string) => process.stdout.write(line + '\n');

/** The request checked and completed (absolute paths, the key made when needed), or a UsageError. */
export function buildRequest(opts: ExportOptions): ExportRequest {
  if (!opts.to) throw new UsageError('export needs --to PATH (the folder to write the export to)');
  const format = opts.format ?? 'dicom';
  if (format !== 'dicom' && format !== 'nifti') throw new UsageError(`--format must be dicom or nifti, got "${format}"`);
  const options = [...new Set(opts.profileOptions ?? [])].sort();
  for (const o of options) if (!(PROFILE_OPTIONS as readonly string[]).includes(o)) throw new UsageError(`unknown profile option "${o}": use ${PROFILE_OPTIONS.join(', ')}`);
  if (options.length > 0 && !opts.deidentify) throw new UsageError('--profile-options go with --deidentify');
  if (opts.selection.where !== undefined) {
    try {
      checkWhere(opts.selection.where);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  const outDir = path.resolve(opts.outDir);
  const to = path.resolve(opts.to);
  if (to === outDir || isInside(outDir, to) || isInside(to, outDir)) throw new UsageError(`--to ${to} must be outside the catalog folder ${outDir} (and not contain it)`);
  let keyFile: string | undefined;
  let keyDir: string | undefined;
  let fingerprint = '';
  if (opts.deidentify) {
    keyFile = path.resolve(opts.keyFile ?? path.join(exportKeysDir(outDir), 'export.key'));
    if (!opts.keyFile) ensureKeyFile(keyFile);
    keyDir = path.dirname(keyFile);
    if (keyDir === to || isInside(to, keyDir) || isInside(keyDir, to)) throw new UsageError(`the key and its mapping (${keyDir}) must stay outside the export ${to}`);
    try {
      fingerprint = keyFingerprint(readKey(keyFile));
    } catch (err) {
      throw new UsageError(`cannot use the key file ${keyFile}: ${(err as Error).message}`);
    }
  } else if (opts.keyFile) throw new UsageError('--key-file goes with --deidentify');
  const selection: Selection = Object.fromEntries(Object.entries(opts.selection).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)));
  for (const k of ['modality', 'patients', 'series'] as const) if (selection[k]) selection[k] = [...new Set(selection[k])].sort();
  const identity = JSON.stringify({ outDir, db: redactDbUrl(opts.dbUrl) ?? null, to, format, deidentify: !!opts.deidentify, options, allowBurnedIn: !!opts.allowBurnedIn, selection, key: fingerprint });
  const exportId = createHash('sha256').update(identity).digest('hex').slice(0, 20);
  // The batch size is not part of the id: it changes how the work is cut, never what is written.
  return { exportId, to, format, deidentify: !!opts.deidentify, profileOptions: options as ProfileOption[], keyFile, keyDir, allowBurnedIn: !!opts.allowBurnedIn, selection, batchInstances: opts.batchSize };
}

export async function runExport(opts: ExportOptions): Promise<number> {
  const outDir = path.resolve(opts.outDir);
  const missing = await missingCatalog({ outDir, dbUrl: opts.dbUrl });
  if (missing) throw new UsageError(missing);
  if (opts.dryRun) {
    const db = await openExistingCatalog({ outDir, dbUrl: opts.dbUrl });
    try {
      if (opts.selection.where !== undefined) checkWhere(opts.selection.where);
      print(selectionText(await selectSeries(db, opts.selection)));
      return 0;
    } catch (err) {
      if (err instanceof SelectionError) throw new UsageError(err.message);
      throw err;
    } finally {
      await db.destroy();
    }
  }
  const request = buildRequest(opts);
  const ws = exportWorkspace(outDir, request.exportId);
  fs.mkdirSync(ws.dir, { recursive: true });
  if (!fs.existsSync(ws.request)) {
    fs.writeFileSync(`${ws.request}.tmp`, JSON.stringify(request, null, 2), { mode: 0o600 });
    fs.renameSync(`${ws.request}.tmp`, ws.request);
  }

  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const taskQueue = opts.taskQueue ?? process.env.DICOMFLOW_TASK_QUEUE ?? DEFAULT_TASK_QUEUE;
  const external = process.env.TEMPORAL_ADDRESS;
  const codec = loadCodec({ outDir, create: !external });
  let address: string;
  let workerCode: Awaited<ReturnType<typeof loadWorkerCode>> | undefined;
  if (external) address = external;
  else {
    const launched = await launchDevServer(outDir, (m) => process.stderr.write(m + '\n'));
    workerCode = await loadWorkerCode(outDir);
    const server = await launched.ready;
    address = server.address;
    print(`${server.reused ? 'Using' : 'Started'} the local Temporal server for ${outDir}: ${address}, Web UI ${server.uiUrl}`);
  }
  const dbUrl = workerCode && opts.dbUrl ? rememberDbUrl(opts.dbUrl) : redactDbUrl(opts.dbUrl);
  const { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowFailedError, WorkflowNotFoundError } = await import('@temporalio/client');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace, dataConverter: { payloadCodecs: [codec] } });
  const workflowId = exportWorkflowId(request.exportId);
  let nativeConnection: Awaited<ReturnType<NonNullable<typeof workerCode>['NativeConnection']['connect']>> | undefined;
  try {
    let handle = client.workflow.getHandle(workflowId);
    const status = await handle
      .describe()
      .then((d) => d.status.name)
      .catch((err) => {
        if (err instanceof WorkflowNotFoundError) return 'NONE';
        throw err;
      });
    if (status === 'COMPLETED') {
      print(`Nothing to do: this selection was already exported to ${request.to} with the same options and key (export ${workflowId}).`);
      print(summaryText((await handle.result()) as ExportSummary));
      return 0;
    }
    if (status !== 'RUNNING') {
      const input: ExportInput = { outDir, exportKey: request.exportId, dbUrl, concurrency: opts.concurrency ?? Math.max(2, os.availableParallelism()) };
      try {
        handle = await client.workflow.start<typeof exportDataset>(EXPORT_WORKFLOW, { taskQueue, workflowId, args: [input] });
        print(status === 'NONE' ? `Started export ${workflowId}` : `Previous export ended ${status}; started it again (finished batches are not redone)`);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        handle = client.workflow.getHandle(workflowId);
        print(`Attached to export ${workflowId}, started at the same moment by another command`);
      }
    } else {
      print(`Resuming the unfinished export ${workflowId}`);
      await client.workflowService.resetStickyTaskQueue({ namespace, execution: { workflowId } }).catch(() => undefined);
      const { takeOverOrphans } = await import('./live');
      const taken = await takeOverOrphans(client, namespace, workflowId);
      if (taken > 0) print(`  took over ${taken} activit${taken === 1 ? 'y' : 'ies'} of a worker that is gone`);
    }
    let worker;
    if (workerCode) {
      nativeConnection = await workerCode.NativeConnection.connect({ address });
      worker = await workerCode.createWorker({ connection: nativeConnection, namespace, taskQueue, codec });
    }
    const onSigint = () => {
      process.stderr.write('\nInterrupted: the export stays where it is; run the same command again to resume it.\n');
      process.exit(130);
    };
    process.once('SIGINT', onSigint);
    const result = handle.result() as Promise<ExportSummary>;
    const watching = watch(client, workflowId, result);
    const summary = worker ? await worker.runUntil(result) : await result;
    await watching;
    process.removeListener('SIGINT', onSigint);
    print(summaryText(summary));
    return 0;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      process.stderr.write(`\ndicomflow: export ${workflowId} failed: ${err.cause?.message ?? err.message}\n  fix the cause and run the same command again: finished batches are not redone\n`);
      return 1;
    }
    throw err;
  } finally {
    await nativeConnection?.close().catch(() => undefined);
    await connection.close();
  }
}

function amountOf(p: ExportProgress, live: { type: string; details: unknown }[]) {
  if (p.stage !== 'export') return undefined;
  const running = live.filter((a) => a.type === 'exportBatch').reduce((n, a) => n + (Number((a.details as { done?: number } | undefined)?.done) || 0), 0);
  return { done: p.instancesDone + running, total: p.instances, unit: 'instances' as const };
}

function detailOf(p: ExportProgress, amount: { done: number; total?: number } | undefined): string {
  switch (p.stage) {
    case 'select':
      return 'selecting series in the catalog';
    case 'export':
      return `${amount ? Math.min(amount.done, p.instances) : p.instancesDone}/${p.instances} instances of ${plural(p.series, 'series', 'series')}, batch ${p.batchesDone}/${p.batchCount}${p.withheld ? `, ${p.withheld} withheld` : ''}${p.skipped ? `, ${p.skipped} series skipped` : ''}`;
    case 'manifest':
      return 'writing the manifest';
    default:
      return `${plural(p.series, 'series', 'series')} exported`;
  }
}

async function watch(client: import('@temporalio/client').Client, workflowId: string, result: Promise<unknown>): Promise<void> {
  const meter = new ProgressMeter();
  const tty = process.stdout.isTTY;
  let settled = false;
  result.then(
    () => (settled = true),
    () => (settled = true),
  );
  let last = '';
  while (!settled) {
    try {
      const [p, live] = await Promise.all([client.workflow.getHandle(workflowId).query<ExportProgress>(PROGRESS_QUERY), liveActivities(client, workflowId)]);
      const line = meter.render(p, amountOf(p, live), (a) => detailOf(p, a), live);
      if (tty) process.stdout.write(`\r\x1b[2K${line}`);
      else if (line.split(']')[0] !== last.split(']')[0]) print(line);
      last = line;
    } catch {
      /* no worker has answered yet */
    }
    await Promise.race([new Promise((r) => setTimeout(r, tty ? 500 : 1000)), result.catch(() => undefined)]);
  }
  if (tty && last) process.stdout.write('\n');
}

export function summaryText(s: ExportSummary): string {
  return [
    `dicomflow export ${s.exportId} completed`,
    `  ${plural(s.series, 'series', 'series')} exported as ${s.format === 'nifti' ? 'NIfTI volumes' : s.deidentified ? 'de-identified DICOM' : 'DICOM'}: ${plural(s.instances, 'instance')}, ${formatBytes(s.bytes)}`,
    `  withheld (burned-in text risk): ${plural(s.withheldInstances, 'instance')}${s.withheldSeries ? ` (${plural(s.withheldSeries, 'whole series', 'whole series')})` : ''}; skipped (not one volume): ${plural(s.skippedSeries, 'series', 'series')}`,
    `  outputs:`,
    `    export           ${s.to}`,
    `    manifest         ${s.manifest}`,
    ...(s.mapping ? [`    mapping (secret) ${s.mapping}`] : []),
  ].join('\n');
}

