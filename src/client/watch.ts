/**
 * `dicomflow watch`: a Temporal Schedule that starts an incremental ingest of a folder (or URL) into DIR every so
 * often (`--every 10m`) or on a cron expression; a run still going when the next one is due makes the schedule skip
 * it (overlap policy SKIP), never queue it. `--list`, `--pause`, `--resume`, `--delete`, `--trigger` manage them.
 *
 * Each scheduled run is an ordinary ingestDataset run (workflow id `<the source's id>-<time>`, its run id), so it
 * scans the folder against the file catalog like `ingest` does and reports its new/changed counts in its result and
 * report. Schedules fire only while a worker polls the task queue (`dicomflow worker --out DIR`, or the server's).
 */
import * as os from 'os';
import * as path from 'path';
import type { Client, ScheduleHandle } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { DEFAULT_TASK_QUEUE, INGEST_WORKFLOW } from '../contract';
import { loadCodec } from '../temporal/codec';
import { redactDbUrl } from '../db/credentials';
import type { IngestInput } from '../workflows/types';
import { resolveSource, UsageError, workflowIdFor } from './source';

export interface WatchOptions {
  /** A folder or URL, or for the management flags also a schedule id. */
  target?: string;
  outDir: string;
  dbUrl?: string;
  every?: string;
  cron?: string;
  prune?: boolean;
  taskQueue?: string;
  action: 'create' | 'list' | 'pause' | 'resume' | 'delete' | 'trigger';
}

const print = (line: string) => process.stdout.write(line + '\n');

/** The schedule of a source and DIR: the ingest's workflow id with `watch` in it. */
export function scheduleIdFor(workflowId: string): string {
  return workflowId.replace(/^dicomflow-/, 'dicomflow-watch-');
}

/** "10m", "30s", "1.5h", "2d": a Temporal duration string. */
export function parseEvery(every: string): string {
  if (!/^\d+(\.\d+)?(s|m|h|d)$/.test(every)) throw new UsageError(`--every takes a duration such as 30s, 10m, 1h or 1d, got "${every}"`);
  return every;
}

async function connect(outDir: string): Promise<{ client: Client; close: () => Promise<void>; where: string }> {
  const external = process.env.TEMPORAL_ADDRESS;
  const codec = loadCodec({ outDir, create: !external });
  let address = external;
  let where = address ?? '';
  if (!address) {
    const { ensureDevServer } = await import('../temporal/dev-server');
    const server = await ensureDevServer(outDir, (m) => process.stderr.write(m + '\n'));
    address = server.address;
    where = `the local Temporal server of ${outDir} (${address}, Web UI ${server.uiUrl}/namespaces/${process.env.TEMPORAL_NAMESPACE ?? 'default'}/schedules)`;
  }
  const { Client, Connection } = await import('@temporalio/client');
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE ?? 'default', dataConverter: { payloadCodecs: [codec] } });
  return { client, close: () => connection.close(), where };
}

/** The schedule a target names: a schedule id as it is, a source through its workflow id in DIR. */
function scheduleIdOf(target: string, outDir: string): string {
  if (target.startsWith('dicomflow-watch-')) return target;
  return scheduleIdFor(workflowIdFor(resolveSource(target), outDir));
}

export async function runWatch(opts: WatchOptions): Promise<number> {
  const outDir = path.resolve(opts.outDir);
  if (opts.action !== 'list' && !opts.target) throw new UsageError(`watch ${opts.action === 'create' ? '' : `--${opts.action} `}needs a folder or URL (or a schedule id)`);
  if (opts.action === 'create' && opts.every && opts.cron) throw new UsageError('watch takes --every or --cron, not both');
  // Checked before anything starts: a missing folder is said at once.
  const scheduleId = opts.target ? scheduleIdOf(opts.target, outDir) : '';
  const { client, close, where } = await connect(outDir);
  try {
    if (opts.action === 'list') return await list(client, where);
    const handle = client.schedule.getHandle(scheduleId);
    if (opts.action === 'create') return await create(client, opts, outDir, scheduleId, where);
    const { ScheduleOverlapPolicy } = await import('@temporalio/client');
    const act: Record<string, (h: ScheduleHandle) => Promise<void>> = {
      pause: (h) => h.pause('paused with dicomflow watch --pause'),
      resume: (h) => h.unpause('resumed with dicomflow watch --resume'),
      delete: (h) => h.delete(),
      // A run now, unless one is still going (the schedule's own rule: skip, never queue).
      trigger: (h) => h.trigger(ScheduleOverlapPolicy.SKIP),
    };
    try {
      await act[opts.action](handle);
    } catch (err) {
      if (err instanceof (await import('@temporalio/client')).ScheduleNotFoundError) throw new UsageError(`no schedule ${scheduleId} (dicomflow watch --list shows them)`);
      throw err;
    }
    const done = { pause: 'paused', resume: 'resumed', delete: 'deleted', trigger: 'triggered (skipped if a run is still going)' }[opts.action];
    print(`Schedule ${scheduleId} ${done}`);
    return 0;
  } finally {
    await close();
  }
}

async function create(client: Client, opts: WatchOptions, outDir: string, scheduleId: string, where: string): Promise<number> {
  const source = resolveSource(opts.target!);
  if (source.kind === 'zip') throw new UsageError('watch takes a folder or a URL: a zip does not change (ingest it once)');
  const { ScheduleOverlapPolicy } = await import('@temporalio/client');
  const workflowId = workflowIdFor(source, outDir);
  const input: IngestInput = {
    source: source.location,
    sourceKind: source.kind,
    outDir,
    runId: '', // each scheduled run's workflow id is its run id
    dbUrl: redactDbUrl(opts.dbUrl),
    concurrency: Math.max(2, os.availableParallelism() * 2),
    prune: opts.prune || undefined,
  };
  const every = opts.cron ? undefined : parseEvery(opts.every ?? '10m');
  await client.schedule.create({
    scheduleId,
    spec: every ? { intervals: [{ every: every as Duration }] } : { cronExpressions: [opts.cron!] },
    action: { type: 'startWorkflow', workflowType: INGEST_WORKFLOW, workflowId, taskQueue: opts.taskQueue ?? process.env.DICOMFLOW_TASK_QUEUE ?? DEFAULT_TASK_QUEUE, args: [input] },
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' },
    memo: { source: source.location.split('?')[0], outDir, every: every ?? null, cron: opts.cron ?? null },
  }).catch(async (err) => {
    if (err instanceof (await import('@temporalio/client')).ScheduleAlreadyRunning) throw new UsageError(`${source.location} is already watched into ${outDir}: schedule ${scheduleId} (--delete it first to change it)`);
    throw err;
  });
  print(`Schedule ${scheduleId} created on ${where}: ingests ${source.location.split('?')[0]} into ${outDir} ${every ? `every ${every}` : `on cron "${opts.cron}"`}, new and changed files only; a run still going when the next is due is skipped`);
  print(`  it fires only while a worker runs: dicomflow worker --out ${outDir}`);
  return 0;
}

async function list(client: Client, where: string): Promise<number> {
  let n = 0;
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith('dicomflow-watch-')) continue;
    n++;
    const memo = (s.memo ?? {}) as { source?: string; outDir?: string; every?: string; cron?: string };
    // The counts are the schedule's own (describe): runs started, and runs skipped because one was still going.
    const d = await client.schedule.getHandle(s.scheduleId).describe();
    const next = d.info.nextActionTimes[0];
    print(
      `${s.scheduleId}  ${d.state.paused ? 'paused' : 'active'}  ${memo.every ? `every ${memo.every}` : `cron "${memo.cron ?? '?'}"`}  ${memo.source ?? '?'} -> ${memo.outDir ?? '?'}` +
        `  runs ${d.info.numActionsTaken}, skipped ${d.info.numActionsSkippedOverlap}${d.info.runningActions.length ? `, running ${d.info.runningActions.length}` : ''}` +
        `${next && !d.state.paused ? `  next ${next.toISOString()}` : ''}`,
    );
  }
  if (n === 0) print(`No dicomflow schedules on ${where}`);
  return 0;
}
