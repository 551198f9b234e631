/**
 * Tests that need a Debian tool (dcmtk's dcmdump, a PostgreSQL server, the DejaVu fonts) go through here, so a fresh
 * machine's `npm test` passes with the skips announced, and CI, where .ci/run installs them, cannot skip them:
 *
 *   const dcmdump = requireTool(DCMDUMP);       // where the test's body gets the tool's path (throws when missing)
 *   dcmdump.test('cross-check', () => ...);      // test, or test.skip with one line on stderr when it is missing
 *
 * Missing tool, CI unset: the tests are skipped and one line says which tool and how to install it.
 * Missing tool, CI=true: the tests run and fail, naming the tool and the install command.
 */
import * as fs from 'fs';
import * as path from 'path';
import { DEJAVU_DIR } from '../../src/report/png';
import { findPostgresBin } from './postgres';

export interface Tool {
  /** What the notice calls it. */
  name: string;
  /** The command that installs it on Debian. */
  install: string;
  /** Its path (binary, folder or file), or null when it is not there. */
  locate(): string | null;
}

/** The first `name` on PATH that is an executable file, or null. */
export function onPath(name: string, searchPath = process.env.PATH ?? ''): string | null {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      if (fs.statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return null;
}

export const DCMDUMP: Tool = { name: 'dcmdump', install: 'apt-get install -y dcmtk', locate: () => onPath('dcmdump') };

export const POSTGRES: Tool = {
  name: 'PostgreSQL server (initdb, pg_ctl)',
  install: 'apt-get install -y postgresql',
  locate() {
    try {
      return findPostgresBin();
    } catch {
      return null;
    }
  },
};

export const DEJAVU_FONTS: Tool = {
  name: 'DejaVu fonts (/usr/share/fonts/truetype/dejavu)',
  install: 'apt-get install -y fonts-dejavu-core',
  locate: () => (fs.existsSync(path.join(DEJAVU_DIR, 'DejaVuSans.ttf')) ? DEJAVU_DIR : null),
};

export const CHROMIUM: Tool = {
  name: 'chromium (headless browser for the web page tests)',
  install: 'apt-get install -y chromium',
  locate: () => onPath('chromium') ?? onPath('chromium-browser'),
};

export const DCM2NIIX: Tool = { name: 'dcm2niix', install: 'apt-get install -y dcm2niix', locate: () => onPath('dcm2niix') };

export const isCi = (): boolean => process.env.CI === 'true';

export function missingMessage(tool: Tool): string {
  return `${tool.name} not found (${tool.install})`;
}

export interface RequiredTool {
  /** True when the tool is there: its tests run. Under CI=true they run either way (and fail without it). */
  available: boolean;
  /** True when its tests run: the tool is there, or CI=true. */
  runs: boolean;
  /** `test` when the tests run, else `test.skip` after the one-line notice. */
  test: jest.It;
  describe: jest.Describe;
  /** The tool's path; throws (naming the install command) when it is missing. */
  path(): string;
}

const announced = new Set<string>();

/** Prints the skip notice once per tool and test file. */
function announce(tool: Tool): void {
  if (announced.has(tool.name)) return;
  announced.add(tool.name);
  const file = expectState()?.testPath;
  process.stderr.write(`skipped: ${missingMessage(tool)}${file ? ` - tests of ${path.relative(process.cwd(), file)}` : ''}\n`);
}

function expectState(): { testPath?: string } | undefined {
  try {
    return expect.getState() as { testPath?: string };
  } catch {
    return undefined;
  }
}

export function requireTool(tool: Tool): RequiredTool {
  const found = tool.locate();
  const runs = found !== null || isCi();
  const fail = () => {
    throw new Error(`${missingMessage(tool)}${isCi() ? ': CI=true, so tests that need it fail instead of being skipped' : ''}`);
  };
  if (!runs) announce(tool);
  return {
    available: found !== null,
    runs,
    test: runs ? test : test.skip,
    describe: runs ? describe : describe.skip,
    path: () => found ?? fail(),
  };
}

/** The catalog dialects to test: SQLite always, PostgreSQL when its server is there (or CI=true). */
export function catalogDialects(): ('sqlite' | 'postgres')[] {
  return requireTool(POSTGRES).runs ? ['sqlite', 'postgres'] : ['sqlite'];
}
