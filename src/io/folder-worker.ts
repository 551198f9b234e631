// Thread of a folder walk: lists the folder once (folder.ts `listing`, straight through) and posts the listing back.
import { parentPort, workerData } from 'worker_threads';
import { listing, type FolderListing } from './folder';

const { rootAbs, exclude } = workerData as { rootAbs: string; exclude?: string };
try {
  const steps = listing(rootAbs, exclude);
  let step = steps.next();
  while (!step.done) step = steps.next();
  const result: FolderListing = step.value;
  parentPort!.postMessage({ listing: result }, [result.sizes.buffer as ArrayBuffer, result.mtimes.buffer as ArrayBuffer, result.kinds.buffer as ArrayBuffer]);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  parentPort!.postMessage({ error: { message: e.message, code: e.code } });
}
