/**
 * Time per stage as the activities that did the work measured it, read from the run's history: for each stage, the
 * time covered by its completed activities, each from the start of its last attempt (the ActivityTaskStarted event)
 * to its completion (several batches at once count once). The workflow's own figure (workflow time from the stage's
 * start to its end) also counts any time the run stood still: after a Reset from the Temporal UI, the stage that
 * was running when the run failed starts at the old workflow time, so its figure held the hours the run sat failed.
 * A stage whose activities ran in a child workflow (many batches) keeps the workflow's figure.
 */
import type { temporal } from '@temporalio/proto';
import { ACTIVITY_STAGE, type StageName } from '../contract';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function millis(ts: temporal.api.history.v1.IHistoryEvent['eventTime']): number | undefined {
  if (!ts || ts.seconds === undefined || ts.seconds === null) return undefined;
  return Number(ts.seconds) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

function eventKey(id: unknown): string {
  return String(id ?? '');
}

/** Length of the union of [start, end] intervals, in ms. */
function covered(intervals: [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [from, to] = [-Infinity, -Infinity];
  for (const [start, end] of sorted) {
    if (start > to) {
      if (to > from) total += to - from;
      [from, to] = [start, end];
    } else if (end > to) {
      to = end;
    }
  }
  if (to > from) total += to - from;
  return total;
}

/**
 * Seconds per stage from the history's activity events; stages without completed activities in `events` keep
 * their value from `workflowSeconds` (the workflow's result), and only stages listed there are returned.
 */
export function stageSecondsFromHistory(events: HistoryEvent[], workflowSeconds: Record<string, number>): Record<string, number> {
  const scheduled = new Map<string, StageName>();
  const startedAt = new Map<string, number>();
  const intervals = new Map<StageName, [number, number][]>();
  for (const e of events) {
    if (e.activityTaskScheduledEventAttributes) {
      const stage = ACTIVITY_STAGE[e.activityTaskScheduledEventAttributes.activityType?.name ?? ''];
      if (stage) scheduled.set(eventKey(e.eventId), stage);
    } else if (e.activityTaskStartedEventAttributes) {
      const at = millis(e.eventTime);
      if (at !== undefined) startedAt.set(eventKey(e.eventId), at);
    } else if (e.activityTaskCompletedEventAttributes) {
      const a = e.activityTaskCompletedEventAttributes;
      const stage = scheduled.get(eventKey(a.scheduledEventId));
      const start = startedAt.get(eventKey(a.startedEventId));
      const end = millis(e.eventTime);
      if (!stage || start === undefined || end === undefined || end < start) continue;
      if (!intervals.has(stage)) intervals.set(stage, []);
      intervals.get(stage)!.push([start, end]);
    }
  }
  const out: Record<string, number> = {};
  for (const [stage, seconds] of Object.entries(workflowSeconds)) {
    const ran = intervals.get(stage as StageName);
    out[stage] = ran ? covered(ran) / 1000 : seconds;
  }
  return out;
}

/** The run's history events, or undefined when they cannot be read (the summary then keeps the workflow's times). */
export async function measuredStageSeconds(
  handle: { fetchHistory(): Promise<temporal.api.history.v1.IHistory> },
  workflowSeconds: Record<string, number>,
): Promise<Record<string, number>> {
  try {
    const history = await handle.fetchHistory();
    return stageSecondsFromHistory(history.events ?? [], workflowSeconds);
  } catch {
    return workflowSeconds;
  }
}
