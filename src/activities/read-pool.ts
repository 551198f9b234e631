/**
 * Reads DICOM headers on all cores: a small pool of worker threads, each reading a slice of the candidate files
 * and returning their finished output lines (read-lines.ts). The activity's own thread only schedules, writes
 * text and heartbeats, so I/O, parsing and serializing overlap. Files go to a thread a slice at a time (one
 * message each way), not one by one. Without the compiled worker script (running from TypeScript sources),
 * reads happen in-process.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { EntryRecord } from '../records';
import { readLine, type ReadLine, type ReadStage } from './read-lines';

export interface ReadJob {
  entries: EntryRecord[];
  stage: ReadStage;
}

interface Pending extends ReadJob {
  resolve: (r: ReadLine[]) => void;
  reject: (e: Error) => void;
}

function workerScript(): string | undefined {
  const beside = path.join(__dirname, 'read-worker.js');
  const compiled = path.resolve(__dirname, '../../dist/activities/read-worker.js');
  return [beside, compiled].find((p) => fs.existsSync(p));
}

class ReadPool {
  private idle: Worker[] = [];
  private queue: Pending[] = [];
  private running = new Map<Worker, Pending>();
  size = 0;

  constructor(script: string, threads: number) {
    for (let n = 0; n < threads; n++) {
      const worker = new Worker(script);
      worker.on('message', (results: ReadLine[]) => this.finish(worker, (job) => job.resolve(results)));
      // A thread that dies is not reused: its job fails (the batch retries) and the others go on.
      worker.on('error', (err) => this.finish(worker, (job) => job.reject(err), false));
      worker.unref(); // an idle thread never keeps the process alive (after the listeners, which ref it)
      this.idle.push(worker);
      this.size++;
    }
  }

  run(job: ReadJob): Promise<ReadLine[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ ...job, resolve, reject });
      this.dispatch();
    });
  }

  private finish(worker: Worker, settle: (job: Pending) => void, reusable = true): void {
    const job = this.running.get(worker);
    this.running.delete(worker);
    worker.unref();
    if (reusable) this.idle.push(worker);
    else this.size--;
    if (job) settle(job);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(worker, job);
      worker.ref(); // a thread with work keeps the process alive until it answers
      worker.postMessage({ entries: job.entries, stage: job.stage } satisfies ReadJob);
    }
  }
}

let pool: ReadPool | null | undefined;

/** Reads the candidates' headers for a stage, in parallel on all cores; output lines in the same order. */
export async function readLines(entries: EntryRecord[], stage: ReadStage): Promise<ReadLine[]> {
  if (pool === undefined) {
    const script = workerScript();
    const threads = Number(process.env.DICOMFLOW_READ_THREADS) || os.availableParallelism();
    pool = script && threads > 1 ? new ReadPool(script, threads) : null;
  }
  if (!pool || pool.size === 0) return entries.map((entry) => readLine(entry, stage));
  const slice = Math.ceil(entries.length / pool.size);
  const jobs: Promise<ReadLine[]>[] = [];
  for (let at = 0; at < entries.length; at += slice) jobs.push(pool.run({ entries: entries.slice(at, at + slice), stage }));
  return (await Promise.all(jobs)).flat();
}
