/**
 * A completed run's scratch goes: its work folder (manifests, batch results, the extracted entries, a downloaded
 * zip), whose files the organized tree and the catalog no longer need (the tree holds hard links or copies).
 * Idempotent: removing what is already gone does nothing, so a retried or resumed cleanup never fails.
 */
import * as fs from 'fs';
import * as path from 'path';
import { workspace } from '../workspace';

export interface ScratchRemoval {
  /** Folders removed (0 when they were already gone). */
  removed: number;
}

export async function removeRunScratch(outDir: string, runKey: string): Promise<ScratchRemoval> {
  const ws = workspace(outDir, runKey);
  let removed = 0;
  for (const dir of ws.scratchDirs) {
    if (fs.existsSync(dir)) removed++;
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
  // DIR/work/runs and DIR/work go too once empty; another run's folder in them keeps them (rmdir only removes an
  // empty folder, and a run that makes its folder meanwhile makes the parents again).
  for (const dir of [path.join(ws.root, 'work', 'runs'), path.join(ws.root, 'work')]) {
    try {
      fs.rmdirSync(dir);
    } catch {
      break; // not empty, or already gone
    }
  }
  return { removed };
}
