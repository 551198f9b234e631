/**
 * The download stage: one zip from an http(s) URL into DIR/download/source.zip. Idempotent (a verified
 * file already there is returned at once) and resumable (a retry continues from the last heartbeat).
 */
import * as fs from 'fs';
import * as path from 'path';
import { downloadFile } from '../io/download';
import { sha256File } from '../io/sha256';
import { looksLikeZip } from '../io/zip-signature';
import { workspace } from '../workspace';
import { heartbeat } from './heartbeat';
import { toApplicationFailure } from './io-failures';

export interface DownloadInput {
  url: string;
  outDir: string;
  sha256?: string;
  /** The run's scratch key (scratchKey in contract.ts); absent for runs of the shared layout. */
  runKey?: string;
}

export interface DownloadResult {
  zipPath: string;
  bytes: number;
  sha256: string;
}

/** Heartbeat details: bytes of source.zip.partial written so far (and the full size when known). */
export interface DownloadProgress {
  bytes: number;
  total: number | null;
}

export async function download(input: DownloadInput): Promise<DownloadResult> {
  const hb = heartbeat<DownloadProgress>();
  const zipPath = path.join(workspace(input.outDir, input.runKey).downloadDir, 'source.zip');
  const onProgress = (bytes: number, total: number | null) => hb.beat({ bytes, total });
  const done = await alreadyDownloaded(zipPath, input.sha256, onProgress);
  if (done) return done;

  const resumed = hb.resumed;
  try {
    const outcome = await downloadFile(input.url, zipPath, {
      sha256: input.sha256,
      resumeFrom: typeof resumed?.bytes === 'number' ? resumed.bytes : undefined,
      signal: hb.signal,
      onProgress,
    });
    hb.beat({ bytes: outcome.bytes, total: outcome.bytes }, true);
    return { zipPath, bytes: outcome.bytes, sha256: outcome.sha256 };
  } catch (err) {
    throw toApplicationFailure(err);
  }
}

/** The result of an earlier complete download, when source.zip is there, is a zip and matches the sha256 asked for. */
async function alreadyDownloaded(
  zipPath: string,
  sha256: string | undefined,
  onProgress: (bytes: number, total: number | null) => void,
): Promise<DownloadResult | null> {
  const stat = await fs.promises.stat(zipPath).catch(() => null);
  if (!stat?.isFile()) return null;
  const head = Buffer.alloc(4);
  const handle = await fs.promises.open(zipPath, 'r');
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const digest = looksLikeZip(head) ? await sha256File(zipPath, { onProgress: (n) => onProgress(n, stat.size) }) : null;
  if (digest !== null && (!sha256 || digest === sha256.toLowerCase())) return { zipPath, bytes: stat.size, sha256: digest };
  await fs.promises.rm(zipPath, { force: true }); // not the file asked for: download again
  return null;
}
