/**
 * Work a stage leaves running after it reports (deleting a run's scratch, folding the catalog's write-ahead log into
 * dicom.db): the run goes on meanwhile, and a command waits for it before it exits (backgroundDone), so nothing is
 * left half done by a process that ends.
 */

const underWay = new Set<Promise<unknown>>();

/** Runs `work` on in the background; a failure is the work's own to handle (it is not reported here). */
export function inBackground(work: Promise<unknown>): void {
  const settled = work.catch(() => undefined);
  underWay.add(settled);
  void settled.finally(() => underWay.delete(settled));
}

/** Settles when the background work this process started has finished (a CLI waits for it before it exits). */
export async function backgroundDone(): Promise<void> {
  while (underWay.size > 0) await Promise.allSettled([...underWay]);
}
