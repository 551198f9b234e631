/**
 * Around every activity, one interceptor instead of code in each stage:
 * - its start, end and failure, with its attempt, duration and result counts, go to the run's structured log
 *   (DIR/logs/dicomflow.jsonl);
 * - it heartbeats at least every second while it runs (keepAlive), so its heartbeat timeout can be a few seconds
 *   and a killed worker's activity is taken over quickly;
 * - a full, read-only or forbidden disk (ENOSPC, EDQUOT, EROFS, EACCES, EPERM) fails it at once, with the stage and
 *   the full path in the message.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptors, Next } from '@temporalio/worker';
import * as os from 'os';
import { logEvent } from '../log';
import { keepAlive } from '../activities/heartbeat';
import { diskFailure, diskFault, recordDiskFault } from '../activities/io-failures';

/** Which worker ran an activity: host and process (several workers may share DIR). */
const WORKER = `${os.hostname()}:${process.pid}`;

class ActivityLog implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const stopBeating = keepAlive(this.ctx);
    const outDir = (input.args[0] as { outDir?: string } | undefined)?.outDir;
    try {
      return await this.logged(input, next, outDir);
    } catch (err) {
      const fault = diskFault(err, this.ctx.info.activityType, outDir);
      if (!fault) throw err;
      recordDiskFault(fault);
      throw diskFailure(fault, err);
    } finally {
      stopBeating();
    }
  }

  private async logged(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>, outDir: string | undefined): Promise<unknown> {
    if (!outDir) return next(input);
    const { activityType, attempt, workflowExecution } = this.ctx.info;
    const where = { attempt, workflowId: workflowExecution?.workflowId, worker: WORKER, ...batchOf(input.args[0]) };
    const started = Date.now();
    logEvent(outDir, 'info', activityType, 'started', where);
    try {
      const result = await next(input);
      const seconds = (Date.now() - started) / 1000;
      const files = filesOf(result);
      const rssMB = Math.round(process.memoryUsage.rss() / 2 ** 20);
      logEvent(outDir, 'info', activityType, 'finished', { ...where, seconds, ...(files ? { files, msPerFile: Number(((seconds * 1000) / files).toFixed(4)) } : {}), rssMB, result: smallResult(result) });
      return result;
    } catch (err) {
      logEvent(outDir, 'error', activityType, 'failed', { ...where, seconds: (Date.now() - started) / 1000, error: (err as Error)?.message ?? String(err) });
      throw err;
    }
  }
}

function batchOf(arg: unknown): Record<string, unknown> {
  const batchIndex = (arg as { batchIndex?: number })?.batchIndex;
  return batchIndex === undefined ? {} : { batchIndex };
}

/** The files an activity handled, from its result's counts, for the time per file. */
function filesOf(result: unknown): number | undefined {
  const r = (result ?? {}) as Record<string, unknown>;
  const n = r.processed ?? r.entries ?? r.placed ?? r.instances ?? (r.counts as { entries?: number } | undefined)?.entries;
  return typeof n === 'number' && n > 0 ? n : undefined;
}

/** Results are small by design (paths and counts); keep only their scalar fields. */
function smallResult(result: unknown): unknown {
  if (result === null || typeof result !== 'object') return result;
  return Object.fromEntries(Object.entries(result).filter(([, v]) => v === null || typeof v !== 'object'));
}

export const activityLog = (ctx: Context): ActivityInterceptors => ({ inbound: new ActivityLog(ctx) });
