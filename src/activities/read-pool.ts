/**
 * Reads DICOM headers on all cores: a small pool of worker threads, each running readDicomFile.
 * The activity's own thread only schedules, writes results and heartbeats, so I/O and parsing overlap.
 * When the compiled worker script is not there (running from TypeScript sources), reads happen in-process.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { readDicomFile, type DicomReadResult } from '../dicom/read';

interface Job {
  file: string;
  withMeta: boolean;
  resolve: (r: DicomReadResult) => void;
  reject: (e: Error) => void;
}

function workerScript(): string | undefined {
  const beside = path.join(__dirname, 'read-worker.js');
  const compiled = path.resolve(__dirname, '../../dist/activities/read-worker.js');
  return [beside, compiled].find((p) => fs.existsSync(p));
}

class ReadPool {
  private idle: Worker[] = [];
  private queue: Job[] = [];
  private running = new Map<Worker, Job>();
  size: number;

  constructor(script: string, size: number) {
    this.size = size;
    for (let n = 0; n < size; n++) {
      const worker = new Worker(script);
      worker.on('message', (result: DicomReadResult) => this.finish(worker, (job) => job.resolve(result)));
      // A thread that dies is not reused: its job fails (the batch retries) and the others go on.
      worker.on('error', (err) => this.finish(worker, (job) => job.reject(err), false));
      worker.unref(); // an idle thread never keeps the process alive (after the listeners, which ref it)
      this.idle.push(worker);
    }
  }

  read(file: string, withMeta: boolean): Promise<DicomReadResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ file, withMeta, resolve, reject });
      this.dispatch();
    });
  }

  private finish(worker: Worker, settle: (job: Job) => void, reusable = true): void {
    const job = this.running.get(worker);
    this.running.delete(worker);
    worker.unref();
    if (reusable) this.idle.push(worker);
    this.size -= reusable ? 0 : 1;
    if (job) settle(job);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const job = this.queue.shift()!;
      this.running.set(worker, job);
      worker.ref(); // a thread with work keeps the process alive until it answers
      worker.postMessage({ file: job.file, withMeta: job.withMeta });
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
  const current = pool;
  const useThreads = current !== null && current.size > 0;
  return Promise.all(files.map((file) => (useThreads ? current.read(file, withMeta) : readDicomFile(file, { withMeta }))));
}
