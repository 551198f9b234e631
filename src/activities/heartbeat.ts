/**
 * The one heartbeat helper of every activity: what an earlier attempt heartbeated (to resume from), a throttled
 * `beat` (at most one heartbeat a second unless forced, so a fast loop does not flood the server), and the
 * cancellation signal. Outside an activity (a core function called from a test or the CLI) it is a quiet no-op.
 */
import { Context } from '@temporalio/activity';

/** Heartbeats are throttled to this; activity heartbeat timeouts are several times longer. */
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

export function heartbeat<D>(): Heartbeat<D> {
  let ctx: Context | undefined;
  try {
    ctx = Context.current();
  } catch {
    ctx = undefined; // not running as an activity
  }
  const signal = ctx?.cancellationSignal ?? new AbortController().signal;
  let last = 0;
  return {
    resumed: ctx?.info.heartbeatDetails as D | undefined,
    signal,
    beat(details: D, force = false) {
      if (!ctx) return;
      const now = Date.now();
      if (!force && now - last < HEARTBEAT_EVERY_MS) return;
      last = now;
      ctx.heartbeat(details);
    },
    throwIfCancelled() {
      if (signal.aborted) throw signal.reason ?? new Error('cancelled');
    },
  };
}
