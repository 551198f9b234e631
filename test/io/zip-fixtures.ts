/** Builds real zips for tests with yazl, and patches them where yazl refuses to go (unsafe names, CP437 names). */
import * as fs from 'fs';
import * as path from 'path';
import * as yazl from 'yazl';

export interface FixtureEntry {
  /** A name ending in '/' adds a folder entry. */
  name: string;
  data: Buffer | string;
  compress?: boolean;
  mode?: number;
}

export async function buildZip(entries: FixtureEntry[]): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  for (const e of entries) {
    if (e.name.endsWith('/')) {
      zip.addEmptyDirectory(e.name);
      continue;
    }
    const data = typeof e.data === 'string' ? Buffer.from(e.data) : e.data;
    zip.addBuffer(data, e.name, { compress: e.compress ?? true, ...(e.mode !== undefined ? { mode: e.mode } : {}) });
  }
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Replaces a placeholder name by a same-length name everywhere it occurs (local header and central directory).
 * yazl will not write absolute or '..' names, real attackers will.
 */
export function patchName(zip: Buffer, placeholder: string, real: string | Buffer): Buffer {
  const from = Buffer.from(placeholder);
  const to = typeof real === 'string' ? Buffer.from(real) : real;
  if (from.length !== to.length) throw new Error(`patchName: ${placeholder} and ${real} differ in length`);
  const out = Buffer.from(zip);
  let hits = 0;
  for (let at = out.indexOf(from); at !== -1; at = out.indexOf(from, at + 1)) {
    to.copy(out, at);
    hits++;
  }
  if (hits !== 2) throw new Error(`patchName: expected 2 copies of ${placeholder}, found ${hits}`);
  return out;
}

/** Clears the UTF-8 name flag (bit 11) in every central directory record, as old Windows zippers leave it. */
export function clearUtf8Flags(zip: Buffer): Buffer {
  const out = Buffer.from(zip);
  for (let at = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02])); at !== -1; at = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), at + 1)) {
    out.writeUInt16LE(out.readUInt16LE(at + 8) & ~0x800, at + 8);
  }
  return out;
}

/** Every file (not folder) under `root`, as '/'-joined paths relative to it, sorted. */
export function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    for (const d of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(path.join(dir, d.name), r);
      else out.push(r);
    }
  };
  walk(root, '');
  return out.sort();
}

export { readAllJsonLines as readAll } from '../../src/io/jsonl';
