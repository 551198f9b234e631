/**
 * Every activity's start, end and failure, with its attempt, duration and result counts, goes to the run's
 * structured log (DIR/logs/dicomflow.jsonl). One interceptor instead of logging code in each stage.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityExecuteInput, ActivityInboundCallsInterceptor, ActivityInterceptors, Next } from '@temporalio/worker';
import { logEvent } from '../log';

class ActivityLog implements ActivityInboundCallsInterceptor {
  constructor(private readonly ctx: Context) {}

  async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
    const outDir = (input.args[0] as { outDir?: string } | undefined)?.outDir;
    if (!outDir) return next(input);
    const { activityType, attempt, workflowExecution } = this.ctx.info;
    const where = { attempt, workflowId: workflowExecution?.workflowId, ...batchOf(input.args[0]) };
    const started = Date.now();
    logEvent(outDir, 'info', activityType, 'started', where);
    try {
      const result = await next(input);
      logEvent(outDir, 'info', activityType, 'finished', { ...where, seconds: (Date.now() - started) / 1000, result: smallResult(result) });
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

/** Results are small by design (paths and counts); keep only their scalar fields. */
function smallResult(result: unknown): unknown {
  if (result === null || typeof result !== 'object') return result;
  return Object.fromEntries(Object.entries(result).filter(([, v]) => v === null || typeof v !== 'object'));
}

export const activityLog = (ctx: Context): ActivityInterceptors => ({ inbound: new ActivityLog(ctx) });
