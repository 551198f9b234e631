/** Turns the plain I/O code's IoFailure into the ApplicationFailure Temporal's retry policy reads. */
import { ApplicationFailure } from '@temporalio/common';
import { IoFailure } from '../io/errors';

export function toApplicationFailure(err: unknown): unknown {
  if (!(err instanceof IoFailure)) return err;
  return err.retryable ? ApplicationFailure.retryable(err.message, err.type) : ApplicationFailure.nonRetryable(err.message, err.type);
}
