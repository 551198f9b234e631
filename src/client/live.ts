/**
 * What a run is doing right now, beyond its progress query: the pending activities of the run (and of its validate
 * child, when there is one), with their heartbeat details, attempt, last failure and next retry. Read with
 * DescribeWorkflowExecution, so a retry shows on the progress line as it happens.
 */
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
