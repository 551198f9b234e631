// Thread of a folder walk: lists the folder once (folder.ts, straight through) and posts the listing back. The lstat of
// every file is most of the work: once the walk has found many files, a helper thread (this script, role 'stat') is
// started, and stats the second half of the sorted listing while this thread stats the first.
import { parentPort, Worker, workerData } from 'worker_threads';
import { LISTING_THREAD_LIMITS, listedPaths, statListed, type FolderListing } from './folder';

type StatJob = Pick<FolderListing, 'root' | 'relative' | 'kinds'>;
type StatDone = Pick<FolderListing, 'sizes' | 'mtimes'>;

function runThrough<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

async function list({ rootAbs, exclude, helpFrom }: { rootAbs: string; exclude?: string; helpFrom: number }): Promise<FolderListing> {
  let helper: Worker | undefined;
  try {
    const steps = listedPaths(rootAbs, exclude);
    let step = steps.next();
    const startHelper = () => new Worker(__filename, { workerData: { role: 'stat' }, resourceLimits: LISTING_THREAD_LIMITS });
    // Started while the walk goes on, so that it is up by the time the lstats begin.
    for (; !step.done; step = steps.next()) if (!helper && step.value >= helpFrom) helper = startHelper();
    const out = step.value;
    const n = out.relative.length;
    if (!helper && n >= helpFrom) helper = startHelper();
    const half = helper ? n >> 1 : n;
    let helped: Promise<StatDone> | undefined;
    if (helper) {
      const h = helper;
      helped = new Promise<StatDone>((resolve, reject) => {
        h.once('message', resolve);
        h.once('error', reject);
        h.once('exit', (code) => reject(new Error(`the folder listing's stat thread exited (${code})`)));
      });
      const job: StatJob = { root: out.root, relative: out.relative.slice(half), kinds: out.kinds.slice(half) };
      h.postMessage(job);
    }
    runThrough(statListed(out, 0, half));
    if (helped) {
      const done = await helped;
      out.sizes.set(done.sizes, half);
      out.mtimes.set(done.mtimes, half);
    }
    return out;
  } finally {
    if (helper) void helper.terminate();
  }
}

function stat(job: StatJob): StatDone {
  const m = job.relative.length;
  const part: FolderListing = { ...job, sizes: new Float64Array(m).fill(NaN), mtimes: new Float64Array(m).fill(NaN), errors: {} };
  runThrough(statListed(part, 0, m));
  return { sizes: part.sizes, mtimes: part.mtimes };
}

const data = workerData as { role: 'stat' } | { role?: 'list'; rootAbs: string; exclude?: string; helpFrom: number };
if (data.role === 'stat') {
  parentPort!.once('message', (job: StatJob) => {
    const done = stat(job);
    parentPort!.postMessage(done, [done.sizes.buffer as ArrayBuffer, done.mtimes.buffer as ArrayBuffer]);
  });
} else {
  list(data).then(
    (result) => parentPort!.postMessage({ listing: result }, [result.sizes.buffer as ArrayBuffer, result.mtimes.buffer as ArrayBuffer, result.kinds.buffer as ArrayBuffer]),
    (err: NodeJS.ErrnoException) => parentPort!.postMessage({ error: { message: err.message, code: err.code } }),
  );
}
