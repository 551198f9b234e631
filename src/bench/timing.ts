/** Timing helpers for the benchmark: alternating rounds, best time of each contender, page-cache control. */
import { execFileSync } from 'child_process';
import * as fs from 'fs';

export interface Contender {
  label: string;
  /** Does the work once; `prepare` (untimed) runs before each round, e.g. to empty a target folder. */
  run: () => Promise<unknown>;
  prepare?: () => Promise<unknown> | void;
}

export interface Timing {
  /** best wall time, ms */
  ms: number;
  /** least CPU time of this process (all its threads, user + system), ms: other processes do not bend it */
  cpuMs: number;
}

/**
 * Runs every contender `rounds` times, alternating A B A B ... so drift (other load, cache, thermal)
 * hits both alike, and returns the best wall time of each (best = least disturbed) and its least CPU time.
 */
export async function bestOf(rounds: number, contenders: Contender[]): Promise<Timing[]> {
  const best = contenders.map(() => ({ ms: Infinity, cpuMs: Infinity }));
  for (let r = 0; r < rounds; r++) {
    for (const [k, c] of contenders.entries()) {
      await c.prepare?.();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await c.run();
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      best[k] = { ms: Math.min(best[k].ms, ms), cpuMs: Math.min(best[k].cpuMs, (cpu.user + cpu.system) / 1000) };
    }
  }
  return best;
}

export async function timeOnce(run: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await run();
  return performance.now() - t0;
}

const DROP_CACHES = '/proc/sys/vm/drop_caches';

/**
 * Empties the kernel page cache (root on Linux only; affects the whole machine for a moment).
 * Node has no posix_fadvise(DONTNEED), so this is the only way to get cold reads. Returns false when not allowed.
 */
export function dropPageCache(): boolean {
  try {
    execFileSync('sync'); // dirty pages are not dropped: write them out first
    fs.writeFileSync(DROP_CACHES, '1\n');
    return true;
  } catch {
    return false;
  }
}

/** Reads a file once and throws the bytes away, so the next reader finds it in the page cache. */
export async function warmFile(file: string): Promise<void> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    while ((await fh.read(buf, 0, buf.length, null)).bytesRead > 0);
  } finally {
    await fh.close();
  }
}
