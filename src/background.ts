/**
 * Work a stage leaves running after it reports (deleting a run's scratch, folding the catalog's write-ahead log into
 * dicom.db): the run goes on meanwhile, and a command waits for it before it exits (backgroundDone), so nothing is
 * left half done by a process that ends.
 */

const underWay = new Set<Promise<unknown>>();
/** How to start at once the work that is waiting for its time (see inBackground's `now`). */
const waiting = new Set<() => void>();

/**
 * Runs `work` on in the background; a failure is the work's own to handle (it is not reported here). Work that waits
 * before it starts (a catalog kept open a moment for the run's next stage) gives `now`, which starts it at once:
 * backgroundDone calls it, so an ending process does not wait out the delay.
 */
export function inBackground(work: Promise<unknown>, now?: () => void): void {
  const settled = work.catch(() => undefined);
  underWay.add(settled);
  if (now) waiting.add(now);
  void settled.finally(() => {
    underWay.delete(settled);
    if (now) waiting.delete(now);
  });
}

/** Settles when the background work this process started has finished (a CLI waits for it before it exits). */
export async function backgroundDone(): Promise<void> {
  while (underWay.size > 0) {
    for (const now of [...waiting]) now();
    await Promise.allSettled([...underWay]);
  }
}
