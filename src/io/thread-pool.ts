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

/**
 * Heap limits of a pool thread. A thread's work is one job at a time with bounded input (a slice of files, a chunk of
 * entries), so a small young generation costs no speed and keeps each thread's resident memory small: V8's default
 * (about 48 MB young space a thread) let four busy threads hold ~200 MB of the worker's RSS.
 */
const THREAD_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 256 };

/**
 * Idle time after which a pool's threads go: long, so a worker's next run finds them up. A thread started anew
 * costs ~70 ms to load and then runs its first megabytes slowly (fresh heap and buffers: on this project's 2-core VM,
 * memory touched for the first time costs ~3 ms a MB): set 1 run again and again on one worker, 4 s apart, took
 * 3.5-3.9 s with threads that went after 3 s idle, 3.1-3.5 s with threads kept. Big runs let them go earlier
 * (retireIdleThreadsOfBigRun).
 */
const IDLE_MS = 10 * 60_000;

/** From this many files a run lets idle pool threads go at once (see retireIdleThreadsOfBigRun). */
export const BIG_RUN_FILES = 32_768;

/** Every pool of this process, for retireIdleThreadsOfBigRun. */
const pools = new Set<{ retireIdle(): void }>();

/**
 * Lets the idle threads of every pool go now (each pool starts them again on its next job). A big run calls it after
 * extract (the zip threads are done; the read threads, idle then, start again in validate, as the 3 s timer had them
 * do) and before organize and load hold the run's largest data on the main thread; that keeps the worker's peak RSS
 * down at 250,000 files. Smaller runs keep their threads for the next run.
 */
export function retireIdleThreadsOfBigRun(files: number): void {
  if (files >= BIG_RUN_FILES) for (const pool of pools) pool.retireIdle();
}

export class ThreadPool<In, Out> {
  private idle: Worker[] = [];
  private queue: Pending<In, Out>[] = [];
  private running = new Map<Worker, Pending<In, Out>>();
  /** Threads that died of an error (not retired): the pool does not replace them. */
  private died = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** Threads up now (0 between jobs once idle threads have gone). */
  size = 0;

  constructor(
    private readonly script: string,
    private readonly threads: number,
    private readonly resourceLimits: ResourceLimits = THREAD_LIMITS,
    /** A pool with nothing to do for this long lets its threads go (their heaps with them); the next job starts them anew. */
    private readonly idleMs = IDLE_MS,
  ) {
    pools.add(this);
    this.spawn();
  }

  private spawn(): void {
    while (this.size + this.died < this.threads) {
      const worker = new Worker(this.script, { resourceLimits: this.resourceLimits });
      worker.on('message', (out: Out) => this.finish(worker, (p) => p.resolve(out)));
      worker.on('error', (err) => {
        this.died++;
        this.finish(worker, (p) => p.reject(err), false);
        // Jobs still queued when the last thread is gone would wait forever: they fail the same way.
        if (this.size === 0) for (const p of this.queue.splice(0)) p.reject(err);
      });
      worker.unref(); // after the listeners, which ref it
      this.idle.push(worker);
      this.size++;
    }
  }

  /** Lets the idle threads go once nothing has run for idleMs. */
  private retireWhenIdle(): void {
    clearTimeout(this.idleTimer);
    if (this.running.size > 0 || this.queue.length > 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.running.size > 0 || this.queue.length > 0) return;
      this.retireIdle();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** Lets the threads that have nothing to do go now; the next job starts them again. */
  retireIdle(): void {
    for (const worker of this.idle.splice(0)) {
      worker.removeAllListeners('message');
      void worker.terminate();
      this.size--;
    }
  }

  /**
   * Threads the pool works with: those up, or started again by the next job after idle ones went. 0 only when every
   * thread has died of an error; callers then work in their own thread. (Not `size`: that is 0 between jobs too.)
   */
  get threadCount(): number {
    return this.threads - this.died;
  }

  run(job: In): Promise<Out> {
    clearTimeout(this.idleTimer);
    this.spawn(); // after a retirement
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
    this.retireWhenIdle();
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

/**
 * A pool of a compiled worker script (compiledScript(dir, relative); `dir`: the caller's __dirname), started by the
 * first call of the returned function with `threads` threads (default: poolThreads()); null, for good, without a
 * compiled script or with one core: the caller then works in its own thread (see runOnPool).
 */
export function poolOnFirstUse<In, Out>(dir: string, relative: string, threads?: number): () => ThreadPool<In, Out> | null {
  let pool: ThreadPool<In, Out> | null | undefined;
  return () => {
    if (pool === undefined) {
      const script = compiledScript(dir, relative);
      pool = script && poolThreads() > 1 ? new ThreadPool<In, Out>(script, threads ?? poolThreads()) : null;
    }
    return pool;
  };
}

/** Runs `job` on `pool`, or with `inThread` in this thread when there is no pool or every thread of it has died. */
export function runOnPool<In, Out>(pool: ThreadPool<In, Out> | null, job: In, inThread: (job: In) => Out): Promise<Out> {
  return !pool || pool.threadCount === 0 ? Promise.resolve(inThread(job)) : pool.run(job);
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
