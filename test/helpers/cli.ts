import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';

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
