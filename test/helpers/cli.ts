import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesize } from '../../src/synth';
import type { SynthManifest, SynthOptions } from '../../src/synth/types';

export const BIN = path.resolve(__dirname, '..', '..', 'bin', 'dicomflow.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `dicomflow` command (npm test builds first); `onStdout` may kill it. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; onStdout?: (text: string, child: ChildProcess) => void } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      opts.onStdout?.(stdout, child);
    });
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

export interface CliTemp {
  /** The test file's temporary folder. */
  readonly tmp: string;
  /** A fresh output folder DIR under tmp; its Temporal server is stopped after the file's tests. */
  out(name: string): string;
}

/**
 * The setup of an end-to-end CLI test file: a temporary folder made before its tests; after them, the embedded server
 * of every output folder handed out by out() stopped and the folder removed.
 */
export function cliTemp(prefix: string): CliTemp {
  const outDirs: string[] = [];
  const box = {
    tmp: '',
    out(name: string): string {
      const dir = path.join(box.tmp, name);
      outDirs.push(dir);
      return dir;
    },
  };
  beforeAll(() => {
    box.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  });
  afterAll(async () => {
    for (const dir of outDirs) await runCli(['server', 'stop', '--out', dir]);
    fs.rmSync(box.tmp, { recursive: true, force: true });
  });
  return box;
}

export interface CliSandbox extends CliTemp {
  /** The synthesized zip in tmp, and what it holds. */
  readonly zip: string;
  readonly manifest: SynthManifest;
}

/** cliTemp with a synthesized zip made in it before the file's tests. */
export function cliSandbox(prefix: string, synth: Omit<SynthOptions, 'out'>): CliSandbox {
  const temp = cliTemp(prefix);
  const box = {
    get tmp() {
      return temp.tmp;
    },
    out: temp.out,
    zip: '',
    manifest: undefined as unknown as SynthManifest,
  };
  beforeAll(async () => {
    box.zip = path.join(temp.tmp, 'lidc.zip');
    box.manifest = await synthesize({ ...synth, out: box.zip });
  });
  return box;
}
