/** Reads a zip with yauzl, names undecoded (unsafe names stay as they are), sizes validated. */
import * as yauzl from 'yauzl';

export interface ZipItem {
  name: string;
  data: Buffer;
  method: number;
}

export function readZip(source: string | Buffer): Promise<ZipItem[]> {
  const options = { lazyEntries: true, decodeStrings: false, validateEntrySizes: true, autoClose: true };
  return new Promise((resolve, reject) => {
    const opened = (err: Error | null, zip?: yauzl.ZipFile) => {
      if (err || !zip) return reject(err);
      const items: ZipItem[] = [];
      zip.on('error', reject);
      zip.on('end', () => resolve(items));
      zip.on('entry', (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('error', reject);
          stream.on('end', () => {
            const rawName = entry.fileName as unknown as Buffer;
            items.push({ name: rawName.toString('utf8'), data: Buffer.concat(chunks), method: entry.compressionMethod });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    };
    if (typeof source === 'string') yauzl.open(source, options, opened);
    else yauzl.fromBuffer(source, options, opened);
  });
}

/** Outer entries, each nested zip's entries right after it as '<zip path>/<inner path>'. */
export async function readZipFlat(source: string | Buffer): Promise<ZipItem[]> {
  const out: ZipItem[] = [];
  for (const item of await readZip(source)) {
    out.push(item);
    if (item.name.toLowerCase().endsWith('.zip')) {
      for (const inner of await readZip(item.data)) out.push({ ...inner, name: `${item.name}/${inner.name}` });
    }
  }
  return out;
}
