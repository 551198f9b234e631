/**
 * `dicomflow server start` and `dicomflow worker --out DIR`: DIR's embedded Temporal server started on its own and
 * left running, a separate worker process attached to it, and `ingest` run as a pure client (TEMPORAL_ADDRESS).
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { workspace } from '../../src/workspace';
import { answers } from '../../src/temporal/dev-server';
import { BIN, runCli } from '../helpers/cli';
import { expectMatchesManifest } from '../helpers/dataset';

jest.setTimeout(300_000);

let tmp: string;
let zip: string;
let manifest: SynthManifest;
const outDirs: string[] = [];
const workers: ChildProcess[] = [];
/** No TEMPORAL_ADDRESS from the environment running the tests: these commands must find DIR's own server. */
const LOCAL = { TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined };

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-server-'));
  zip = path.join(tmp, 'lidc.zip');
  manifest = await synthesize({ patients: 2, slices: 6, size: 32, broken: true, seed: 9, out: zip });
});

afterAll(async () => {
  for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill('SIGKILL');
  for (const dir of outDirs) await runCli(['server', 'stop', '--out', dir]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function out(name: string): string {
  const dir = path.join(tmp, name);
  outDirs.push(dir);
  return dir;
}

function serverInfo(stdout: string): { address: string; ui: string; pid: number } {
  const address = /gRPC address\s+(127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
  const ui = /Web UI\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1];
  const pid = Number(/\(pid (\d+)\)/.exec(stdout)?.[1]);
  if (!address || !ui || !pid) throw new Error(`no address, Web UI or pid in:\n${stdout}`);
  return { address, ui, pid };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts `dicomflow worker ...` and resolves once it says it is polling. */
function startWorker(args: string[], env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; line: string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'worker', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  workers.push(child);
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr += d));
    child.stdout!.on('data', (d) => {
      stdout += d;
      const line = stdout.split('\n').find((l) => l.startsWith('dicomflow worker polling'));
      if (line) resolve({ child, line, exit });
    });
    child.on('close', (code) => reject(new Error(`worker exited with ${code} before polling:\n${stdout}\n${stderr}`)));
  });
}

test('server start prints the address and Web UI, exits, and leaves the server up; again it reuses it; stop stops it', async () => {
  const dir = out('start-stop');
  const first = await runCli(['server', 'start', '--out', dir], { env: LOCAL });
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/^Started the Temporal server of .*start-stop; it keeps running \(pid \d+\)/);
  const server = serverInfo(first.stdout);
  expect(await answers(server.address, 0)).toBe(true);
  const ui = await fetch(server.ui);
  expect(ui.status).toBe(200);
  expect(fs.existsSync(path.join(workspace(dir).temporalDir, 'history.db'))).toBe(true);

  const again = await runCli(['server', 'start', '--out', dir], { env: LOCAL });
  expect(again.code).toBe(0);
  expect(again.stdout).toMatch(/is already running/);
  expect(serverInfo(again.stdout)).toEqual(server);

  const stop = await runCli(['server', 'stop', '--out', dir]);
  expect(stop.stdout).toMatch(/^stopped the Temporal server of /);
  expect(alive(server.pid)).toBe(false);
  expect(await answers(server.address, 0)).toBe(false);
  expect((await runCli(['server', 'stop', '--out', dir])).stdout).toMatch(/^no Temporal server is running for /);
});

test('worker --out DIR serves DIR\'s server; ingest with TEMPORAL_ADDRESS runs as a pure client and completes', async () => {
  const dir = out('client');
  const server = serverInfo((await runCli(['server', 'start', '--out', dir], { env: LOCAL })).stdout);
  const worker = await startWorker(['--out', dir], LOCAL);
  expect(worker.line).toContain(`polling ${server.address} `);
  expect(worker.line).toContain(`the local Temporal server of ${dir}`);

  const result = await runCli(['ingest', zip, '--out', dir], { env: { TEMPORAL_ADDRESS: server.address, TEMPORAL_UI_URL: undefined } });
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(result.stdout).not.toMatch(/Started the local Temporal server|Using the local Temporal server/);
  expect(result.stdout).toMatch(/dicomflow run dicomflow-\S+ completed/);
  const knex = await openCatalog({ outDir: dir });
  try {
    await expectMatchesManifest(knex, dir, manifest);
  } finally {
    await knex.destroy();
  }
  // The ingest did not start a server of its own: the one from `server start` is the only one of DIR.
  expect(serverInfo((await runCli(['server', 'start', '--out', dir], { env: LOCAL })).stdout).pid).toBe(server.pid);

  worker.child.kill('SIGTERM');
  expect(await worker.exit).toBe(0);
});

test('worker --out DIR starts DIR\'s server when none runs', async () => {
  const dir = out('worker-starts');
  const worker = await startWorker(['--out', dir], LOCAL);
  const address = /polling (127\.0\.0\.1:\d+) /.exec(worker.line)![1];
  expect(await answers(address, 0)).toBe(true);
  expect((await runCli(['server', 'start', '--out', dir], { env: LOCAL })).stdout).toContain(`gRPC address  ${address}`);
  worker.child.kill('SIGTERM');
  expect(await worker.exit).toBe(0);
});

test('usage errors: worker without TEMPORAL_ADDRESS or --out; an unknown server subcommand', async () => {
  const worker = await runCli(['worker'], { env: LOCAL });
  expect(worker.code).toBe(2);
  expect(worker.stderr).toMatch(/needs TEMPORAL_ADDRESS .*or --out DIR/);
  const server = await runCli(['server', 'restart']);
  expect(server.code).toBe(2);
  expect(server.stderr).toMatch(/usage: dicomflow server start \[--out DIR\]/);
  const help = await runCli(['help']);
  expect(help.stdout).toContain('dicomflow server start [--out DIR]');
  expect(help.stdout).toContain('dicomflow worker [--out DIR]');
});
