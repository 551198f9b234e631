/**
 * ThreadPool: jobs run on its threads, idle threads go after idleMs (or when a big run lets them go) and the next job
 * starts them again — and a pool whose idle threads went still counts as a pool with threads (threadCount), so its
 * callers (zip, read, hash pools) keep using it instead of working in their own thread.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { threadId } from 'worker_threads';
import { BIG_RUN_FILES, poolOnFirstUse, retireIdleThreadsOfBigRun, runOnPool, ThreadPool } from '../../src/io/thread-pool';

let tmp: string;
let script: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-pool-'));
  script = path.join(tmp, 'echo-worker.js');
  // Answers each job with the thread that ran it; 'die' throws, which kills the thread.
  fs.writeFileSync(
    script,
    `const { parentPort, threadId } = require('worker_threads');
parentPort.on('message', (job) => {
  if (job === 'die') throw new Error('the job killed its thread');
  parentPort.postMessage({ job, threadId });
});
`,
  );
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('idle threads go after idleMs; the next job starts them again and runs on them', async () => {
  const pool = new ThreadPool<string, { job: string; threadId: number }>(script, 2, undefined, 100);
  const first = await Promise.all(['a', 'b', 'c'].map((j) => pool.run(j)));
  expect(first.map((r) => r.job)).toEqual(['a', 'b', 'c']);
  expect(first.every((r) => r.threadId !== threadId)).toBe(true);
  expect(pool.size).toBe(2);

  await sleep(400);
  expect(pool.size).toBe(0); // the idle threads went
  expect(pool.threadCount).toBe(2); // ... but the pool still works with two

  const again = await Promise.all(['d', 'e'].map((j) => pool.run(j)));
  expect(again.map((r) => r.job)).toEqual(['d', 'e']);
  expect(again.every((r) => r.threadId !== threadId && !first.some((f) => f.threadId === r.threadId))).toBe(true); // new threads
  expect(pool.size).toBe(2);
  await sleep(400); // let them go before the test ends
});

test('a thread that dies is not replaced; when every thread has died, threadCount is 0 and jobs fail', async () => {
  const pool = new ThreadPool<string, { job: string; threadId: number }>(script, 2, undefined, 60_000);
  await expect(pool.run('die')).rejects.toThrow(/killed its thread/);
  expect(pool.threadCount).toBe(1);
  expect((await pool.run('x')).job).toBe('x');
  await expect(pool.run('die')).rejects.toThrow(/killed its thread/);
  expect(pool.threadCount).toBe(0);
  await expect(pool.run('y')).rejects.toThrow(/every thread of the pool has died/);
});

test("poolOnFirstUse starts one pool of the script on first use; runOnPool works in this thread without a pool or once its threads died", async () => {
  const inThread = (job: string) => ({ job, threadId });
  const echo = poolOnFirstUse<string, { job: string; threadId: number }>(tmp, 'echo-worker.js', 1);
  const pool = echo()!;
  expect(pool).toBe(echo()); // started once
  expect(pool.threadCount).toBe(1);
  const onThread = await runOnPool(pool, 'a', inThread);
  expect(onThread.job).toBe('a');
  expect(onThread.threadId).not.toBe(threadId);

  const missing = poolOnFirstUse<string, { job: string; threadId: number }>(tmp, 'no-such-worker.js');
  expect(missing()).toBeNull();
  expect(await runOnPool(missing(), 'b', inThread)).toEqual({ job: 'b', threadId });

  await expect(pool.run('die')).rejects.toThrow(/killed its thread/);
  expect(await runOnPool(pool, 'c', inThread)).toEqual({ job: 'c', threadId }); // every thread died: this thread
});

test('a big run lets the idle threads of every pool go at once; a smaller run keeps them', async () => {
  const a = new ThreadPool<string, { job: string; threadId: number }>(script, 2);
  const b = new ThreadPool<string, { job: string; threadId: number }>(script, 1);
  await Promise.all([a.run('a'), b.run('b')]);
  retireIdleThreadsOfBigRun(BIG_RUN_FILES - 1);
  expect([a.size, b.size]).toEqual([2, 1]); // kept for the next run (they go after ten idle minutes)
  const busy = a.run('still running');
  retireIdleThreadsOfBigRun(BIG_RUN_FILES);
  expect([a.size, b.size]).toEqual([1, 0]); // the busy thread stays to answer
  expect((await busy).job).toBe('still running');
  expect((await b.run('again')).job).toBe('again'); // started anew
  retireIdleThreadsOfBigRun(BIG_RUN_FILES);
  expect([a.size, b.size]).toEqual([0, 0]);
});
