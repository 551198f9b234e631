/**
 * A small pool of worker threads running one script, for CPU-bound work on every core (reading headers,
 * inflating zip entries). Jobs are queued and handed to the first idle thread: one message each way per job.
 * Idle threads never keep the process alive; a thread that dies fails its job and is not reused.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Worker, type ResourceLimits } from 'worker_threads';

interface Pending<In, Out> {
  job: In;
  resolve: (out: Out) => void;
  reject: (err: Error) => void;
}

export class ThreadPool<In, Out> {
  private idle: Worker[] = [];
  private queue: Pending<In, Out>[] = [];
  private running = new Map<Worker, Pending<In, Out>>();
  size = 0;

  constructor(script: string, threads: number, resourceLimits?: ResourceLimits) {
    for (let n = 0; n < threads; n++) {
      const worker = new Worker(script, { resourceLimits });
      worker.on('message', (out: Out) => this.finish(worker, (p) => p.resolve(out)));
      worker.on('error', (err) => {
        this.finish(worker, (p) => p.reject(err), false);
        // Jobs still queued when the last thread is gone would wait forever: they fail the same way.
        if (this.size === 0) for (const p of this.queue.splice(0)) p.reject(err);
      });
      worker.unref(); // after the listeners, which ref it
      this.idle.push(worker);
      this.size++;
    }
  }

  run(job: In): Promise<Out> {
    if (this.size === 0) return Promise.reject(new Error('every thread of the pool has died'));
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private finish(worker: Worker, settle: (p: Pending<In, Out>) => void, reusable = true): void {
    const pending = this.running.get(worker);
    this.running.delete(worker);
    worker.unref();
    if (reusable) this.idle.push(worker);
    else this.size--;
    if (pending) settle(pending);
    this.dispatch();
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const pending = this.queue.shift()!;
      this.running.set(worker, pending);
      worker.ref(); // a thread with work keeps the process alive until it answers
      worker.postMessage(pending.job);
    }
  }
}

/** Threads for a pool: DICOMFLOW_THREADS, else one per core. */
export function poolThreads(): number {
  return Number(process.env.DICOMFLOW_THREADS ?? process.env.DICOMFLOW_READ_THREADS) || os.availableParallelism();
}

/**
 * The compiled script of a pool, beside the calling module or under dist/ (tests run the TypeScript sources, whose
 * threads need compiled JavaScript); undefined when there is none, and the caller then works in its own thread.
 */
export function compiledScript(dir: string, relative: string): string | undefined {
  const beside = path.join(dir, path.basename(relative));
  const compiled = path.resolve(__dirname, '../../dist', relative);
  return [beside, compiled].find((p) => p.endsWith('.js') && fs.existsSync(p));
}
