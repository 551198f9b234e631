/**
 * The embedded default: one local Temporal dev server per output folder, its history in a SQLite file under
 * DIR/temporal so workflows survive restarts. The server runs detached, so a crashed or killed `ingest`
 * leaves it up and the next `ingest` for the same DIR reuses it (and the Web UI stays available to look at).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { Connection } from '@temporalio/client';
import { findTemporalCli } from './cli-binary';
import { workspace } from '../workspace';

export interface DevServerInfo {
  pid: number;
  address: string; // host:port of the gRPC frontend
  uiUrl: string;
  stateFile: string;
  reused: boolean;
}

interface SavedState {
  pid: number;
  port: number;
  uiPort: number;
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

async function answers(address: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
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
    stateFile: statePath(outDir),
    reused,
  };
}

/** Starts the dev server for DIR, or reuses the one already running for it. */
export async function ensureDevServer(outDir: string, log: (m: string) => void = () => {}): Promise<DevServerInfo> {
  const dir = workspace(outDir).temporalDir;
  fs.mkdirSync(dir, { recursive: true });
  const saved = readState(outDir);
  if (saved && isAlive(saved.pid) && (await answers(`127.0.0.1:${saved.port}`, 5000))) {
    return info(saved, outDir, true);
  }
  const cli = findTemporalCli(log);
  const port = await freePort();
  const uiPort = await freePort();
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
      // WAL with normal sync: the history survives a crash of the server or the machine's processes (not the last
      // commits of a power cut); starts in about a second instead of three, and halves each sequential round trip.
      '--sqlite-pragma', 'journal_mode=wal',
      '--sqlite-pragma', 'synchronous=normal',
    ],
    { detached: true, stdio: ['ignore', logFd, logFd] },
  );
  child.unref();
  fs.closeSync(logFd);
  const state: SavedState = { pid: child.pid!, port, uiPort };
  fs.writeFileSync(statePath(outDir), JSON.stringify(state, null, 2));
  if (!(await answers(`127.0.0.1:${port}`, 60000))) {
    try {
      process.kill(child.pid!, 'SIGTERM');
    } catch {
      /* already gone */
    }
    throw new Error(`the local Temporal dev server did not start; see ${path.join(dir, 'server.log')}`);
  }
  return info(state, outDir, false);
}

/** Stops the dev server of DIR if one runs. Returns whether one was stopped. */
export async function stopDevServer(outDir: string): Promise<boolean> {
  const saved = readState(outDir);
  if (!saved || !isAlive(saved.pid)) return false;
  process.kill(saved.pid, 'SIGTERM');
  for (let i = 0; i < 100 && isAlive(saved.pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(saved.pid)) process.kill(saved.pid, 'SIGKILL');
  return true;
}
