/**
 * A completed run's scratch goes: its work folder (manifests, batch results, the extracted entries, a downloaded
 * zip), whose files the organized tree and the catalog no longer need (the tree holds hard links or copies).
 * Idempotent: removing what is already gone does nothing, so a retried or resumed cleanup never fails.
 */
import * as fs from 'fs';
import * as path from 'path';
import { inBackground } from '../background';
import { workspace } from '../workspace';

export interface ScratchRemoval {
  /** Folders removed (0 when they were already gone). */
  removed: number;
}

/**
 * Takes the run's scratch out of the way at once — one rename into DIR/work/trash, so the run completes without
 * waiting for thousands of unlinks (about a second for 19,000 extracted entries) — and deletes it in the background
 * (a command waits for that before it exits: backgroundDone).
 * Trash that a process left behind (it exited before its deletion finished) goes with the next removal in DIR.
 */
export async function removeRunScratch(outDir: string, runKey: string): Promise<ScratchRemoval> {
  const ws = workspace(outDir, runKey);
  const trash = path.join(ws.root, 'work', 'trash');
  let removed = 0;
  for (const dir of ws.scratchDirs) {
    if (!fs.existsSync(dir)) continue;
    fs.mkdirSync(trash, { recursive: true });
    try {
      fs.renameSync(dir, path.join(trash, `${path.basename(dir)}.${process.pid}.${Date.now()}.${removed}`));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // gone meanwhile: a retry's twin
      continue;
    }
    removed++;
  }
  inBackground(emptyTrash(ws.root, trash)); // what fails stays for the next removal
  return { removed };
}

async function emptyTrash(root: string, trash: string): Promise<void> {
  let names: string[];
  try {
    names = await fs.promises.readdir(trash);
  } catch {
    names = [];
  }
  await Promise.all(names.map((n) => fs.promises.rm(path.join(trash, n), { recursive: true, force: true })));
  // DIR/work/trash, DIR/work/runs and DIR/work go too once empty; another run's folder in them keeps them (rmdir only
  // removes an empty folder, and a run that makes its folder meanwhile makes the parents again).
  for (const dir of [trash, path.join(root, 'work', 'runs'), path.join(root, 'work')]) {
    try {
      fs.rmdirSync(dir);
    } catch {
      /* not empty, or already gone */
    }
  }
}
