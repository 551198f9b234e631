/**
 * DIR/reports shows the reports of the run that finished last, while each run keeps its own under
 * DIR/reports/runs/<key> (workspace.ts): DIR/reports/latest → runs/<key>, switched by one atomic rename, and
 * DIR/reports/<name> → latest/<name> for each report file and the thumbnails folder. Two runs finishing at once each
 * switch `latest` whole: whichever switches last is shown, never a mix of the two runs' files.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { Workspace } from '../workspace';

export const LATEST_REPORTS = 'latest';

/** Points DIR/reports/latest at this run's reports folder, and DIR/reports/<name> at latest/<name>. */
export function publishLatestReports(ws: Workspace, names: string[]): void {
  const root = ws.reportsRoot;
  fs.mkdirSync(root, { recursive: true });
  for (const name of names) pointAt(path.join(root, name), path.join(LATEST_REPORTS, name));
  pointAt(path.join(root, LATEST_REPORTS), path.relative(root, ws.reportsDir));
}

/** Makes `link` a relative symbolic link to `target`, replacing whatever is there by one rename. */
function pointAt(link: string, target: string): void {
  try {
    if (fs.readlinkSync(link) === target) return;
  } catch {
    /* absent, or not a link (a report of the shared layout) */
  }
  const tmp = `${link}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  fs.symlinkSync(target, tmp);
  try {
    fs.renameSync(tmp, link);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'ENOTEMPTY' && code !== 'EEXIST') {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
    // A real folder of the shared layout (reports/thumbnails): a rename cannot replace it, so it goes first.
    fs.rmSync(link, { recursive: true, force: true });
    fs.renameSync(tmp, link);
  }
}
