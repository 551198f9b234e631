/**
 * Lists a folder source: every file under it, sorted by its '/'-joined relative path in byte order,
 * referenced in place (nothing is copied). Symlinks are never followed.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EntryRecord } from '../records';
import { isMacosMetadata } from './entry-path';

export interface FolderWalkOptions {
  /** A folder inside the source not to list (the output folder, when it sits inside the source). */
  exclude?: string;
  signal?: AbortSignal;
  emit: (record: EntryRecord) => Promise<void>;
  onProgress?: (entryIndex: number, bytes: number) => void;
}

interface Found {
  relative: string;
  kind: 'file' | 'symlink' | 'other' | 'unreadable';
  error?: string;
}

export async function walkFolder(root: string, opts: FolderWalkOptions): Promise<{ entries: number; bytes: number }> {
  const found: Found[] = [];
  await collect(path.resolve(root), '', found, opts.exclude ? path.resolve(opts.exclude) : undefined);
  const byteOrder = (a: Found, b: Found) => Buffer.compare(Buffer.from(a.relative), Buffer.from(b.relative));
  found.sort(byteOrder);

  let bytes = 0;
  for (let i = 0; i < found.length; i++) {
    if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('cancelled');
    const { relative, kind, error } = found[i];
    const file = path.join(path.resolve(root), ...relative.split('/'));
    let record: EntryRecord;
    if (kind === 'unreadable') {
      record = { i, source: relative, file: null, status: 'refused', code: 'REFUSED_BAD_ENTRY', message: `folder cannot be read: ${error}` };
    } else if (kind === 'symlink') {
      record = { i, source: relative, file: null, status: 'skipped', code: 'SKIPPED_NOT_A_FILE', message: 'symbolic link, not followed' };
    } else if (kind === 'other') {
      record = { i, source: relative, file: null, status: 'skipped', code: 'SKIPPED_NOT_A_FILE', message: 'not a regular file' };
    } else if (isMacosMetadata(relative)) {
      record = { i, source: relative, file: null, status: 'skipped', code: 'SKIPPED_MACOS_METADATA', message: 'macOS metadata, not DICOM' };
    } else {
      // One lstat per file, synchronous: from the inode cache it costs microseconds, an async call ten times that.
      const size = fs.lstatSync(file, { throwIfNoEntry: false })?.size ?? 0;
      record = { i, source: relative, file, status: null, size };
      bytes += size;
    }
    await opts.emit(record);
    opts.onProgress?.(i + 1, bytes);
  }
  return { entries: found.length, bytes };
}

async function collect(absDir: string, relDir: string, out: Found[], exclude?: string): Promise<void> {
  let dirents: fs.Dirent[];
  try {
    dirents = await fs.promises.readdir(absDir, { withFileTypes: true });
  } catch (err) {
    if (relDir === '') throw err; // the source itself: the caller reports it
    out.push({ relative: relDir, kind: 'unreadable', error: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
    return;
  }
  for (const d of dirents) {
    const relative = relDir === '' ? d.name : `${relDir}/${d.name}`;
    const abs = path.join(absDir, d.name);
    // Some file systems do not report the type in readdir: ask lstat then.
    const type = d.isFile() || d.isDirectory() || d.isSymbolicLink() ? d : await fs.promises.lstat(abs);
    if (type.isDirectory()) {
      if (abs !== exclude) await collect(abs, relative, out, exclude);
    } else if (type.isSymbolicLink()) out.push({ relative, kind: 'symlink' });
    else if (type.isFile()) out.push({ relative, kind: 'file' });
    else out.push({ relative, kind: 'other' });
  }
}
