import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { findTemporalCli } from '../../src/temporal/cli-binary';

/** A real local Temporal dev server from the Temporal CLI we build (never downloaded). */
export function localTemporal(): Promise<TestWorkflowEnvironment> {
  return TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'existing-path', path: findTemporalCli() }, ip: '127.0.0.1' },
  });
}

/** What temporalSuite gives a test file: set before its first test runs. */
export interface TemporalSuite {
  env: TestWorkflowEnvironment;
  /** A temporary folder of the file's own, removed after its tests. */
  parent: string;
}

/**
 * A test file's local Temporal dev server and temporary folder (named from `prefix`): started before its tests,
 * torn down and removed after them.
 */
export function temporalSuite(prefix: string): TemporalSuite {
  const suite = {} as TemporalSuite;
  beforeAll(async () => {
    suite.parent = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    suite.env = await localTemporal();
  });
  afterAll(async () => {
    await suite.env?.teardown();
    if (suite.parent) fs.rmSync(suite.parent, { recursive: true, force: true });
  });
  return suite;
}
