/** What the user pointed `ingest` at, checked before anything starts, and the run's stable id. */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';

export class UsageError extends Error {}

export interface ResolvedSource {
  kind: 'url' | 'zip' | 'folder';
  /** Absolute path, or the URL as given. */
  location: string;
  /** What identifies the dataset: the path, or the URL without its query (presigned URLs change signatures). */
  identity: string;
}

export function resolveSource(source: string): ResolvedSource {
  if (/^https?:\/\//i.test(source)) {
    const url = new URL(source);
    return { kind: 'url', location: source, identity: `${url.origin}${url.pathname}` };
  }
  const abs = path.resolve(source);
  let stat: fs.Stats;
  try {
    stat = fs.statSync(abs);
  } catch {
    throw new UsageError(`source not found: ${abs}`);
  }
  if (stat.isDirectory()) return { kind: 'folder', location: abs, identity: abs };
  const head = Buffer.alloc(4);
  const fd = fs.openSync(abs, 'r');
  try {
    fs.readSync(fd, head, 0, 4, 0);
  } finally {
    fs.closeSync(fd);
  }
  const isZip = head[0] === 0x50 && head[1] === 0x4b && (head[2] === 3 || head[2] === 5) && (head[3] === 4 || head[3] === 6);
  if (!isZip) throw new UsageError(`not a zip file (and not a folder): ${abs}`);
  return { kind: 'zip', location: abs, identity: abs };
}

/** Same source and output folder → same workflow id, so running the command again resumes or reports. */
export function workflowIdFor(source: ResolvedSource, outDir: string): string {
  const digest = createHash('sha256').update(`${source.identity}\n${path.resolve(outDir)}`).digest('hex').slice(0, 16);
  return `dicomflow-${digest}`;
}

/** A URL that cannot be reached, or answers 4xx, is reported at once rather than after minutes of retries. */
export async function checkUrlReachable(url: string, timeoutMs = 15000): Promise<void> {
  const safe = url.split('?')[0];
  await new Promise<void>((resolve, reject) => {
    const get = url.startsWith('https:') ? https.get : http.get;
    const req = get(url, { headers: { Range: 'bytes=0-0' }, timeout: timeoutMs }, (res) => {
      res.destroy();
      const status = res.statusCode ?? 0;
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) reject(new UsageError(`${safe} answered HTTP ${status}`));
      else resolve();
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new UsageError(`cannot reach ${safe}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)));
  });
}
