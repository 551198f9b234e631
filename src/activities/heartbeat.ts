/**
 * The one heartbeat helper of every activity: what an earlier attempt heartbeated (to resume from), a throttled
 * `beat` (at most one heartbeat a second unless forced, so a fast loop does not flood the server), and the
 * cancellation signal. Outside an activity (a core function called from a test or the CLI) it is a quiet no-op.
 *
 * Heartbeats say "this worker is alive"; the heartbeat timeout of every activity (src/workflows) is a few
 * heartbeats long, so a killed worker's activity is retried elsewhere within seconds. A stage that spends longer
 * than that in one step (one big entry inflating in a pool thread, one big SQL commit) still heartbeats: the
 * worker's activity interceptor runs `keepAlive`, which repeats the last details every second while no `beat`
 * came (the details, the resume cursor, are never replaced by an empty heartbeat).
 */
import { Context } from '@temporalio/activity';

/** Heartbeats are throttled to this (the worker sends at most one every 2 s: maxHeartbeatThrottleInterval). */
export const HEARTBEAT_EVERY_MS = 1000;

export interface Heartbeat<D> {
  /** The details of the last heartbeat of an earlier attempt, if any. */
  readonly resumed: D | undefined;
  /** Aborted when the activity is cancelled (never outside an activity). */
  readonly signal: AbortSignal;
  /** Heartbeats `details` unless one was sent less than a second ago; `force` always sends. */
  beat(details: D, force?: boolean): void;
  /** Throws the cancellation reason when the activity was cancelled. */
  throwIfCancelled(): void;
}

/** The last details heartbeated by each running activity, and when. */
const last = new WeakMap<Context, { details: unknown; at: number }>();

function send(ctx: Context, details: unknown): void {
  last.set(ctx, { details, at: Date.now() });
  ctx.heartbeat(details);
}

export function heartbeat<D>(): Heartbeat<D> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined; // not running as an activity
  }
  const signal = ctx?.cancellationSignal ?? new AbortController().signal;
  return {
    resumed: ctx?.info.heartbeatDetails as D | undefined,
    signal,
    beat(details: D, force = false) {
      if (!ctx) return;
      const before = last.get(ctx);
      if (!force && before && Date.now() - before.at < HEARTBEAT_EVERY_MS) {
        before.details = details; // the keep-alive repeats the newest details
        return;
      }
      send(ctx, details);
    },
    throwIfCancelled() {
      if (signal.aborted) throw signal.reason ?? new Error('cancelled');
    },
  };
}

/**
 * Heartbeats for the activity of `ctx` every second in which it did not itself, repeating its last details (or the
 * earlier attempt's, before its first beat), until the returned function is called. Started by the worker's
 * activity interceptor around every activity.
 */
export function keepAlive(ctx: Context): () => void {
  const timer = setInterval(() => {
    const before = last.get(ctx);
    if (before && Date.now() - before.at < HEARTBEAT_EVERY_MS) return;
    try {
      send(ctx, before ? before.details : ctx.info.heartbeatDetails);
    } catch {
      /* the activity is finishing */
    }
  }, HEARTBEAT_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
