/**
 * Reads DICOM headers on all cores: a small pool of worker threads, each running readDicomFileSync over a slice
 * of the files. The activity's own thread only schedules, writes results and heartbeats, so I/O and parsing
 * overlap. Files go to a thread a slice at a time (one message each way), not one by one.
 * When the compiled worker script is not there (running from TypeScript sources), reads happen in-process.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { readDicomFile, type DicomReadResult } from '../dicom/read';

export interface ReadJob {
  files: string[];
  withMeta: boolean;
}

interface Pending extends ReadJob {
  resolve: (r: DicomReadResult[]) => void;
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
      worker.on('message', (results: DicomReadResult[]) => this.finish(worker, (job) => job.resolve(results)));
      // A thread that dies is not reused: its job fails (the batch retries) and the others go on.
      worker.on('error', (err) => this.finish(worker, (job) => job.reject(err), false));
      worker.unref(); // an idle thread never keeps the process alive (after the listeners, which ref it)
      this.idle.push(worker);
      this.size++;
    }
  }

  run(job: ReadJob): Promise<DicomReadResult[]> {
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
      worker.postMessage({ files: job.files, withMeta: job.withMeta } satisfies ReadJob);
    }
  }
}

let pool: ReadPool | null | undefined;

/** Reads the headers of `files`, in parallel on all cores; results in the same order. */
export async function readHeaders(files: string[], withMeta: boolean): Promise<DicomReadResult[]> {
  if (pool === undefined) {
    const script = workerScript();
    const threads = Number(process.env.DICOMFLOW_READ_THREADS) || os.availableParallelism();
    pool = script && threads > 1 ? new ReadPool(script, threads) : null;
  }
  if (!pool || pool.size === 0) return Promise.all(files.map((file) => readDicomFile(file, { withMeta })));
  const slice = Math.ceil(files.length / pool.size);
  const jobs: Promise<DicomReadResult[]>[] = [];
  for (let at = 0; at < files.length; at += slice) jobs.push(pool.run({ files: files.slice(at, at + slice), withMeta }));
  return (await Promise.all(jobs)).flat();
}
