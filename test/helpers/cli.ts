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

export interface CliSandbox {
  /** The test file's temporary folder. */
  readonly tmp: string;
  /** The synthesized zip in it, and what it holds. */
  readonly zip: string;
  readonly manifest: SynthManifest;
  /** A fresh output folder DIR under tmp; its Temporal server is stopped after the file's tests. */
  out(name: string): string;
}

/**
 * The setup of an end-to-end CLI test file: a temporary folder with a synthesized zip made before its tests; after
 * them, the embedded server of every output folder handed out by out() stopped and the folder removed.
 */
export function cliSandbox(prefix: string, synth: Omit<SynthOptions, 'out'>): CliSandbox {
  const outDirs: string[] = [];
  const box = {
    tmp: '',
    zip: '',
    manifest: undefined as unknown as SynthManifest,
    out(name: string): string {
      const dir = path.join(box.tmp, name);
      outDirs.push(dir);
      return dir;
    },
  };
  beforeAll(async () => {
    box.tmp = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    box.zip = path.join(box.tmp, 'lidc.zip');
    box.manifest = await synthesize({ ...synth, out: box.zip });
  });
  afterAll(async () => {
    for (const dir of outDirs) await runCli(['server', 'stop', '--out', dir]);
    fs.rmSync(box.tmp, { recursive: true, force: true });
  });
  return box;
}
