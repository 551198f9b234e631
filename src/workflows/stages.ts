/**
 * Running one stage of a workflow (ingest's, an export's): its line in the progress query and its failure, named.
 */
import { ApplicationFailure } from '@temporalio/workflow';

/** The stage-keeping part of a run's progress. */
export interface StageBoard<N extends string> {
  stage: N | 'done';
  stages: { stage: N; state: string; seconds?: number }[];
}

/**
 * Runs `run` as stage `name`: marks it running, then done with its seconds (also handed to `done`), and turns a
 * failure into one the Temporal UI shows as `StageFailed:<name>` with the innermost cause's message (not retried:
 * the activity already used its retries). Stages side by side (load ∥ report): when one ends, the one still running
 * is the current stage again.
 */
export async function runStage<N extends string, T>(board: StageBoard<N>, name: N, run: () => Promise<T>, done?: (seconds: number) => void): Promise<T> {
  const entry = board.stages.find((s) => s.stage === name)!;
  board.stage = name;
  entry.state = 'running';
  const started = Date.now();
  try {
    const result = await run();
    entry.state = 'done';
    entry.seconds = (Date.now() - started) / 1000;
    done?.(entry.seconds);
    const other = board.stages.find((s) => s.state === 'running');
    if (other) board.stage = other.stage;
    return result;
  } catch (err) {
    const cause = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
    throw ApplicationFailure.create({ type: `StageFailed:${name}`, message: `stage ${name} failed: ${cause}`, cause: err as Error, nonRetryable: true });
  }
}
