/**
 * Thumbnails for the study browser: a PNG drawn from an organized file's Pixel Data, the same way the report draws
 * its thumbnails (src/report/thumbnails.ts: windowed grayscale, box-averaged). The file is the one the catalog names
 * for the SOP Instance UID, never a path made from the URL; what was drawn is kept in a cache bounded in bytes.
 */
import * as path from 'path';
import type { ServeContext } from '../http';
import { encodeGrayPng, renderSlice } from '../../report/thumbnails';
import type { InstanceFields } from '../../records';
import { rows, parseMeta } from './queries';

/** The sizes a thumbnail can be asked for (long side, pixels): a list's and an instance page's. */
export const THUMBNAIL_SIZES = [128, 512] as const;

/** PNG bytes kept at most (least recently used dropped first). */
const CACHE_BYTES = 32 * 2 ** 20;

class PngCache {
  private readonly entries = new Map<string, Buffer | null>();
  private bytes = 0;
  constructor(private readonly limit: number) {}

  get(key: string): Buffer | null | undefined {
    const v = this.entries.get(key);
    if (v !== undefined) {
      this.entries.delete(key); // most recently used last
      this.entries.set(key, v);
    }
    return v;
  }

  set(key: string, value: Buffer | null): void {
    const size = (value?.length ?? 0) + key.length;
    if (size > this.limit) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.bytes -= (old?.length ?? 0) + key.length;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += size;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.limit) break;
      this.entries.delete(k);
      this.bytes -= (v?.length ?? 0) + k.length;
    }
  }
}

const caches = new WeakMap<ServeContext, PngCache>();

/** The organized file of a catalog row: inside DIR, or null (a catalog path that would leave DIR is not followed). */
export function organizedFile(outDir: string, filePath: string): string | null {
  const root = path.resolve(outDir);
  const file = path.resolve(root, ...filePath.split('/'));
  return file.startsWith(root + path.sep) ? file : null;
}

/** The instance's slice as a PNG of at most `size` px on its long side; null when it is not in the catalog or not drawable. */
export async function instancePng(ctx: ServeContext, sopUid: string, size: number): Promise<Buffer | null> {
  if (!ctx.outDir) return null; // a catalog without its DIR (--db only): no organized files to read
  let cache = caches.get(ctx);
  if (!cache) caches.set(ctx, (cache = new PngCache(CACHE_BYTES)));
  const key = `${size}:${sopUid}`;
  const hit = cache.get(key);
  if (hit !== undefined) return hit;

  const [row] = await rows(ctx, 'SELECT file_path, transfer_syntax_uid, rows, columns, meta FROM dicom_metadata WHERE sop_instance_uid = ?', [sopUid]);
  if (!row) return null; // not a catalog key: not cached, so unknown keys cannot fill the cache
  const file = organizedFile(ctx.outDir, String(row.file_path));
  let png: Buffer | null = null;
  if (file) {
    const fields = { transferSyntaxUid: row.transfer_syntax_uid ?? null, rows: row.rows ?? null, columns: row.columns ?? null } as InstanceFields;
    const image = await renderSlice(file, { fields, meta: parseMeta(row.meta) }, size);
    if (image) png = encodeGrayPng(image.width, image.height, image.pixels);
  }
  cache.set(key, png);
  return png;
}
