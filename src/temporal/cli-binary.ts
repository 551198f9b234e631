/**
 * Finds the Temporal CLI (which embeds the dev server and Web UI), building it once when absent.
 * Order: $TEMPORAL_CLI, then our cache, then `temporal` on PATH; else `go install ...@v1.5.1` into the cache
 * (later tags carry a `replace` directive and cannot be go-installed).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export function cacheDir(): string {
  const base = process.env.DICOMFLOW_CACHE || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'dicomflow');
  return path.join(base, `temporal-cli-${TEMPORAL_CLI_VERSION}`);
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Returns the path of a usable `temporal` binary, building it into the cache when needed. */
export function findTemporalCli(log: (msg: string) => void = (m) => process.stderr.write(m + '\n')): string {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI points to ${fromEnv}, which does not exist`);
    return fromEnv;
  }
  const cached = path.join(cacheDir(), 'temporal');
  if (fs.existsSync(cached)) return cached;
  const found = onPath('temporal');
  if (found) return found;

  const go = onPath('go') || (fs.existsSync('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined);
  if (!go) {
    throw new Error(
      'The Temporal CLI was not found (TEMPORAL_CLI, PATH) and Go is not installed to build it. ' +
        'Install Go, or the Temporal CLI, or set TEMPORAL_ADDRESS to use an existing cluster.',
    );
  }
  fs.mkdirSync(cacheDir(), { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} once into ${cacheDir()} (a few minutes; later runs reuse it)...`);
  const started = Date.now();
  const result = spawnSync(go, ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: cacheDir() },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0 || !fs.existsSync(cached)) {
    throw new Error(`Building the Temporal CLI failed (go install exited ${result.status}); see the output above`);
  }
  log(`Temporal CLI built in ${Math.round((Date.now() - started) / 1000)} s: ${cached}`);
  return cached;
}
