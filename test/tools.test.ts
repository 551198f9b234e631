/**
 * The shared rule for tests that need a Debian tool (test/helpers/tools.ts): a missing tool skips its tests with one
 * line naming it and its install command, except under CI=true, where its tests run and fail naming it.
 */
import { onPath, requireTool, type Tool } from './helpers/tools';

const MISSING: Tool = { name: 'no-such-tool', install: 'apt-get install -y no-such-package', locate: () => null };
const PRESENT: Tool = { name: 'node', install: 'apt-get install -y nodejs', locate: () => process.execPath };

let ci: string | undefined;
let stderr: string[];
beforeEach(() => {
  ci = process.env.CI;
  stderr = [];
  jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr.push(String(chunk));
    return true;
  });
});
afterEach(() => {
  jest.restoreAllMocks();
  if (ci === undefined) delete process.env.CI;
  else process.env.CI = ci;
});

test('a missing tool outside CI: its tests are skipped, announced in one line naming the install command', () => {
  delete process.env.CI;
  const tool = requireTool(MISSING);
  expect(tool).toMatchObject({ available: false, runs: false });
  expect(tool.test).toBe(test.skip);
  expect(tool.describe).toBe(describe.skip);
  expect(stderr).toEqual(['skipped: no-such-tool not found (apt-get install -y no-such-package) - tests of test/tools.test.ts\n']);
  requireTool(MISSING); // announced once per test file
  expect(stderr).toHaveLength(1);
});

test('a missing tool under CI=true: its tests run and fail, naming the tool and the install command', () => {
  process.env.CI = 'true';
  const tool = requireTool(MISSING);
  expect(tool).toMatchObject({ available: false, runs: true });
  expect(tool.test).toBe(test);
  expect(() => tool.path()).toThrow('no-such-tool not found (apt-get install -y no-such-package): CI=true, so tests that need it fail instead of being skipped');
});

test('a tool that is there runs, CI or not, and gives its path', () => {
  delete process.env.CI;
  const tool = requireTool(PRESENT);
  expect(tool).toMatchObject({ available: true, runs: true });
  expect(tool.path()).toBe(process.execPath);
  expect(stderr).toEqual([]);
});

test('onPath finds executables on PATH only', () => {
  expect(onPath('node', require('path').dirname(process.execPath))).toBe(process.execPath);
  expect(onPath('node', '/nonexistent')).toBeNull();
  expect(onPath('no-such-tool-anywhere')).toBeNull();
});
