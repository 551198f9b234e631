/**
 * The embedded default: one local Temporal dev server per output folder, its history in a SQLite file under
 * DIR/temporal so workflows survive restarts. The server runs detached, so a crashed or killed `ingest`
 * leaves it up and the next `ingest` for the same DIR reuses it (and the Web UI stays available to look at).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { findTemporalCli } from './cli-binary';
import { ensureEmbeddedKey } from './codec';
import { workspace } from '../workspace';

/** The dicomflow command, to start the codec endpoint next to the server (works from src/ under jest and from dist/). */
const DICOMFLOW_BIN = path.resolve(__dirname, '..', '..', 'bin', 'dicomflow.js');

export interface DevServerInfo {
  pid: number;
  address: string; // host:port of the gRPC frontend
  uiUrl: string;
  /** The codec endpoint the Web UI decodes payloads with (servers started before it existed have none). */
  codecUrl?: string;
  stateFile: string;
  reused: boolean;
}

interface SavedState {
  pid: number;
  port: number;
  uiPort: number;
  /** `dicomflow codec-server` for the UI, started with the server. */
  codecPort?: number;
  codecPid?: number;
}

function statePath(outDir: string): string {
  return path.join(workspace(outDir).temporalDir, 'server.json');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether a Temporal server answers at address (its default namespace) within timeoutMs; asks at least once. */
export async function answers(address: string, timeoutMs: number): Promise<boolean> {
  const { Connection } = await import('@temporalio/client'); // loaded only when there is a server to ask
  const deadline = Date.now() + timeoutMs;
  for (let first = true; first || Date.now() < deadline; first = false) {
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        await connection.workflowService.describeNamespace({ namespace: 'default' });
        return true;
      } finally {
        await connection.close();
      }
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return false;
}

function readState(outDir: string): SavedState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(outDir), 'utf8')) as SavedState;
  } catch {
    return undefined;
  }
}

function info(state: SavedState, outDir: string, reused: boolean): DevServerInfo {
  return {
    pid: state.pid,
    address: `127.0.0.1:${state.port}`,
    uiUrl: `http://127.0.0.1:${state.uiPort}`,
    codecUrl: state.codecPort ? `http://127.0.0.1:${state.codecPort}` : undefined,
    stateFile: statePath(outDir),
    reused,
  };
}

/** Starts the dev server for DIR, or reuses the one already running for it (or being started by another process). */
export async function ensureDevServer(outDir: string, log: (m: string) => void = () => {}): Promise<DevServerInfo> {
  return (await launchDevServer(outDir, log)).ready;
}

/**
 * Spawns the dev server for DIR when none runs, and returns as soon as it is spawned: `ready` settles once it
 * answers, so the caller can load its own code meanwhile. Two processes starting at once share one server: the first
 * takes DIR/temporal/start.lock (holding its pid) and starts it; the other waits for that server to answer. A lock
 * whose process is gone is taken over.
 */
export async function launchDevServer(outDir: string, log: (m: string) => void = () => {}): Promise<{ ready: Promise<DevServerInfo> }> {
  const dir = workspace(outDir).temporalDir;
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'start.lock');
  for (let attempt = 0; ; attempt++) {
    const saved = readState(outDir);
    if (saved && isAlive(saved.pid) && (await answers(`127.0.0.1:${saved.port}`, attempt === 0 ? 5000 : 500))) {
      return { ready: Promise.resolve(info(saved, outDir, true)) };
    }
    let fd: number;
    try {
      fd = fs.openSync(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(fs.readFileSync(lock, 'utf8')) || 0;
      if (holder && !isAlive(holder)) fs.rmSync(lock, { force: true }); // its starter died: take over
      else if (attempt > 1200) throw new Error(`another process (pid ${holder}) has been starting the Temporal server of ${outDir} for a minute; see ${path.join(dir, 'server.log')}`);
      else await new Promise((r) => setTimeout(r, 50)); // another process is starting it: wait for it to answer
      continue;
    }
    fs.writeSync(fd, String(process.pid));
    fs.closeSync(fd);
    const state = await spawnServer(outDir, log);
    fs.writeFileSync(statePath(outDir), JSON.stringify(state, null, 2));
    const ready = (async () => {
      try {
        if (!(await answers(`127.0.0.1:${state.port}`, 60000))) {
          try {
            process.kill(state.pid, 'SIGTERM');
          } catch {
            /* already gone */
          }
          throw new Error(`the local Temporal dev server did not start; see ${path.join(dir, 'server.log')}`);
        }
        return info(state, outDir, false);
      } finally {
        fs.rmSync(lock, { force: true });
      }
    })();
    ready.catch(() => undefined); // the caller awaits it
    return { ready };
  }
}

async function spawnServer(outDir: string, log: (m: string) => void): Promise<SavedState> {
  const dir = workspace(outDir).temporalDir;
  const cli = findTemporalCli(log);
  // Payloads are encrypted (src/temporal/codec.ts); this folder's key is made with its server.
  ensureEmbeddedKey(outDir);
  const [port, uiPort, codecPort] = [await freePort(), await freePort(), await freePort()];
  const logFd = fs.openSync(path.join(dir, 'server.log'), 'a');
  const child = spawn(
    cli,
    [
      'server', 'start-dev',
      '--db-filename', path.join(dir, 'history.db'),
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--ui-port', String(uiPort),
      '--log-level', 'warn',
      // The worker asks for the next activity in the reply to the workflow task that schedules it: half the round
      // trip of each sequential stage (measured: 84 -> 39 ms per activity on the embedded server).
      '--dynamic-config-value', 'system.enableActivityEagerExecution=true',
      // One partition per task queue instead of four: a task and a poller never land on different partitions and
      // wait for the forwarding between them (one server, a handful of workers: one partition is plenty).
      '--dynamic-config-value', 'matching.numTaskqueueReadPartitions=1',
      '--dynamic-config-value', 'matching.numTaskqueueWritePartitions=1',
      // WAL with normal sync: the history survives a crash of the server or the machine's processes (not the last
      // commits of a power cut); starts in about a second instead of three, and halves each sequential round trip.
      '--sqlite-pragma', 'journal_mode=wal',
      '--sqlite-pragma', 'synchronous=normal',
      // The Web UI decodes the encrypted payloads through dicomflow's codec endpoint, started just below.
      '--ui-codec-endpoint', `http://127.0.0.1:${codecPort}`,
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  child.unref();
  fs.closeSync(logFd);
  // The codec endpoint lives as long as the server: it exits when the server's process is gone.
  const codecLog = fs.openSync(path.join(dir, 'codec-server.log'), 'a');
  const codec = spawn(
    process.execPath,
    [
      DICOMFLOW_BIN, 'codec-server', '--out', outDir, '--port', String(codecPort),
      '--ui-origin', `http://127.0.0.1:${uiPort},http://localhost:${uiPort}`, '--exit-with', String(child.pid),
    ],
    { detached: true, stdio: ['ignore', codecLog, codecLog] },
  );
  codec.unref();
  fs.closeSync(codecLog);
  return { pid: child.pid!, port, uiPort, codecPort, codecPid: codec.pid };
}

/** Stops the dev server of DIR if one runs. Returns whether one was stopped. */
export async function stopDevServer(outDir: string): Promise<boolean> {
  const saved = readState(outDir);
  if (saved?.codecPid && isAlive(saved.codecPid)) process.kill(saved.codecPid, 'SIGTERM');
  if (!saved || !isAlive(saved.pid)) return false;
  process.kill(saved.pid, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(saved.pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(saved.pid)) process.kill(saved.pid, 'SIGKILL');
  return true;
}
