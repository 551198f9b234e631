import { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../src/temporal/cli-binary';

/** A real local Temporal dev server from the Temporal CLI we build (never downloaded). */
export function localTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: findTemporalCli() }, ip: '127.0.0.1' },
  });
}
