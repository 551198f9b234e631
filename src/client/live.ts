/**
 * What a run is doing right now, beyond its progress query: the pending activities of the run (and of its validate
 * child, when there is one), with their heartbeat details, attempt, last failure and next retry. Read with
 * DescribeWorkflowExecution, so a retry shows on the progress line as it happens.
 */
import { hostname } from 'os';
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';

export interface LiveActivity {
  type: string;
  attempt: number;
  /** The last heartbeat's details, decoded. */
  details: unknown;
  /** The failure of the previous attempt, when this one is a retry. */
  lastFailure?: string;
  /** Waiting for its next attempt until then (ms since epoch). */
  nextAttemptAt?: number;
}

function millis(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts?.seconds) return undefined;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** The innermost cause's message: the one that says what went wrong. */
function failureMessage(f: temporal.api.failure.v1.IFailure | null | undefined): string | undefined {
  if (!f) return undefined;
  let message = f.message ?? undefined;
  for (let cause = f.cause; cause; cause = cause.cause) if (cause.message) message = cause.message;
  return message;
}

async function decodeDetails(client: Client, payloads: temporal.api.common.v1.IPayloads | null | undefined): Promise<unknown> {
  const list = payloads?.payloads;
  if (!list?.length) return undefined;
  const converter = client.options.loadedDataConverter;
  let decoded = list;
  for (const codec of [...converter.payloadCodecs].reverse()) decoded = await codec.decode(decoded);
  try {
    return converter.payloadConverter.fromPayload(decoded[0]);
  } catch {
    return undefined;
  }
}

/** The pending activities of the workflow and of its running children. Never throws: a failed look is just empty. */
export async function liveActivities(client: Client, workflowId: string): Promise<LiveActivity[]> {
  const out: LiveActivity[] = [];
  const describe = async (id: string, depth: number): Promise<void> => {
    const { raw } = await client.workflow.getHandle(id).describe();
    for (const a of raw.pendingActivities ?? []) {
      out.push({
        type: a.activityType?.name ?? '?',
        attempt: a.attempt ?? 1,
        details: await decodeDetails(client, a.heartbeatDetails),
        lastFailure: failureMessage(a.lastFailure),
        nextAttemptAt: a.state === 1 /* SCHEDULED */ && (a.attempt ?? 1) > 1 ? millis(a.nextAttemptScheduleTime) ?? millis(a.scheduledTime) : undefined,
      });
    }
    if (depth === 0) for (const child of raw.pendingChildren ?? []) if (child.workflowId) await describe(child.workflowId, 1);
  };
  try {
    await describe(workflowId, 0);
  } catch {
    /* not started yet, or the server is busy: no live details this time */
  }
  return out;
}

/** The worker identity Temporal's TypeScript SDK gives a worker by default: `<pid>@<host>`. */
function deadLocalWorker(identity: string, host: string): boolean {
  const m = /^(\d+)@(.+)$/.exec(identity);
  if (!m || m[2] !== host) return false;
  try {
    process.kill(Number(m[1]), 0);
    return false; // alive (or a process we may not signal): not ours to judge
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Takes over the activities of the run (and of its validate child) that a worker of this host which no longer
 * exists was running (a killed `dicomflow ingest`): each such attempt is failed at once, with its heartbeat details
 * kept, so Temporal retries it now (from its heartbeated cursor) instead of after its heartbeat timeout.
 * Returns how many were taken over; never throws.
 */
export async function takeOverOrphans(client: Client, namespace: string, workflowId: string, host = hostname()): Promise<number> {
  let taken = 0;
  const visit = async (id: string, depth: number): Promise<void> => {
    const { raw } = await client.workflow.getHandle(id).describe();
    for (const a of raw.pendingActivities ?? []) {
      if (a.state !== 2 /* STARTED */ || !a.activityId || !deadLocalWorker(a.lastWorkerIdentity ?? '', host)) continue;
      await client.workflowService
        .respondActivityTaskFailedById({
          namespace,
          workflowId: id,
          activityId: a.activityId,
          identity: `${process.pid}@${host}`,
          failure: { message: `its worker ${a.lastWorkerIdentity} is gone (the process ended); taken over by a new command`, applicationFailureInfo: { type: 'WorkerGone' } },
          lastHeartbeatDetails: a.heartbeatDetails ?? undefined,
        })
        .then(() => taken++)
        .catch(() => undefined); // finished or timed out meanwhile
    }
    if (depth === 0) for (const child of raw.pendingChildren ?? []) if (child.workflowId) await visit(child.workflowId, 1);
  };
  await visit(workflowId, 0).catch(() => undefined);
  return taken;
}
