/** Processes, timing and machine facts for the benchmark. */
import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
/** The built command, as users run it (`npm run build` first). */
export const DICOMFLOW = path.join(ROOT, 'bin', 'dicomflow.js');

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** spawn to exit, ms */
  ms: number;
}

/** Environment for a child: the bench's own, with `set` applied; an undefined value removes the variable. */
export function envWith(set: Record<string, string | undefined>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const [k, v] of Object.entries(set)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs a command to its exit and times it (spawn to exit, wall clock). */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Exited> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 }));
  });
}

export function dicomflow(args: string[], env?: NodeJS.ProcessEnv): Promise<Exited> {
  return run(process.execPath, [DICOMFLOW, ...args], { env });
}

/** Throws with the command's output when it did not exit 0. */
export function ok(what: string, r: Exited): Exited {
  if (r.code !== 0) throw new Error(`${what} exited with ${r.code ?? r.signal}:\n${r.stdout}\n${r.stderr}`.trimEnd());
  return r;
}

/** A long-running child that prints `readyLine` when it is up (the dicomflow worker). */
export function startUntil(cmd: string, args: string[], readyLine: RegExp, opts: { env?: NodeJS.ProcessEnv; log: string }): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const log = fs.openSync(opts.log, 'a');
    const child = spawn(cmd, args, { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', log] });
    fs.closeSync(log);
    let stdout = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      fs.appendFileSync(opts.log, d);
      if (readyLine.test(stdout)) resolve(child);
    });
    child.on('error', reject);
    child.on('close', (code) => reject(new Error(`${path.basename(args[0] ?? cmd)} ${args.slice(1).join(' ')} exited with ${code} before it was ready; see ${opts.log}`)));
  });
}

/** Stops a child we started (SIGTERM, then SIGKILL after `graceMs`) and waits for it. */
export async function stop(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await closed;
  clearTimeout(timer);
}

/** Peak resident set size (VmHWM) of a live process, in bytes, or null when it cannot be read. */
export function peakRss(pid: number): number | null {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/**
 * Waits (untimed) until a worker's background work for an output folder is done: a completed run's scratch
 * (DIR/work) is deleted after the run reports, and that deletion is the worker's too (its memory, its CPU).
 */
export async function scratchGone(dir: string, timeoutMs = 300_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (fs.existsSync(path.join(dir, 'work'))) {
    if (Date.now() > end) throw new Error(`${dir}/work still there ${timeoutMs / 1000} s after the run`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Writes dirty pages out, so one contender's leftovers are not flushed during the next one's timing. */
export function syncDisks(): void {
  try {
    execFileSync('sync');
  } catch {
    /* not available: nothing to do */
  }
}

/** Reads files once so they sit in the page cache (both sides start from a warm zip). */
export function warm(files: string[]): void {
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const f of files) {
    const fd = fs.openSync(f, 'r');
    try {
      while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      fs.closeSync(fd);
    }
  }
}

export function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

export function loadAverage(): string {
  const [a, b, c] = os.loadavg();
  return `${a.toFixed(2)} ${b.toFixed(2)} ${c.toFixed(2)} (1, 5, 15 min) on ${os.availableParallelism()} cores`;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
