/**
 * Values over the bulk limit (64 KiB) in a header are skipped without being read and kept as a BulkDataURI that
 * names their offset and length in the file; the elements after them (and Pixel Data's offset) are read right.
 */
import { closeSync, ftruncateSync, mkdtempSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomFile } from '../../src/dicom/read';
import { BULK_LIMIT } from '../../src/dicom/parse';
import { ctElements, dicomFile, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, type El } from './bytes';

const dir = mkdtempSync(join(tmpdir(), 'dicom-bulk-'));

/** A value of `n` bytes that says where it is: byte k is k mod 251. */
const pattern = (n: number) => new Uint8Array(n).map((_, k) => k % 251);

function bulkOf(meta: Record<string, { BulkDataURI?: string }>, key: string): { offset: number; length: number } {
  const uri = meta[key]?.BulkDataURI;
  const m = /^bulk:([0-9A-F]{8})\?offset=(\d+)&length=(\d+)$/.exec(uri ?? '');
  if (!m || m[1] !== key) throw new Error(`${key}: no BulkDataURI with offset and length: ${JSON.stringify(meta[key])}`);
  return { offset: Number(m[2]), length: Number(m[3]) };
}

describe.each([
  ['implicit VR LE', IMPLICIT_LE],
  ['explicit VR LE', EXPLICIT_LE],
  ['explicit VR BE', EXPLICIT_BE],
])('%s', (_name, ts) => {
  test('big values anywhere in the header (text, binary, inside a sequence) become BulkDataURIs at their file offset', async () => {
    const document = pattern(3 * 1024 * 1024);
    const comments = 'x'.repeat(BULK_LIMIT + 2); // a text value over the limit
    const icon = pattern(200_000);
    const extra: El[] = [
      { tag: 0x0040a160, vr: 'UT', value: comments },
      { tag: 0x00420011, vr: 'OB', value: document },
      { tag: 0x00880200, vr: 'SQ', items: [[{ tag: 0x00280010, vr: 'US', value: [8] }, { tag: 0x7fe00010, vr: 'OB', value: icon }]] },
    ];
    const bytes = dicomFile(ctElements({}, extra), { ts });
    const file = join(dir, `big-${ts}.dcm`);
    writeFileSync(file, bytes);
    const r = await readDicomFile(file, { withMeta: true });
    expect(r).toMatchObject({ status: 'valid', code: 'OK' });
    expect(r.fields).toMatchObject({ sopInstanceUid: '1.2.826.0.1.3680043.9.7777.3.1', rows: 4, columns: 4, sliceThickness: 2.5 });
    const meta = r.meta as Record<string, { vr: string; BulkDataURI?: string; Value?: unknown[] }>;
    const text = bulkOf(meta, '0040A160');
    expect(meta['0040A160'].vr).toBe('UT');
    expect(meta['0040A160'].Value).toBeUndefined();
    expect(bytes.subarray(text.offset, text.offset + text.length).toString('latin1')).toBe(comments);
    const doc = bulkOf(meta, '00420011');
    expect(doc.length).toBe(document.length);
    expect(Buffer.compare(bytes.subarray(doc.offset, doc.offset + doc.length), Buffer.from(document))).toBe(0);
    // Inside a sequence item, after the big values: the item's other element is read, its big one is a URI.
    const item = (meta['00880200'].Value as Record<string, { BulkDataURI?: string; Value?: unknown[] }>[])[0];
    expect(item['00280010'].Value).toEqual([8]);
    const nested = bulkOf(item, '7FE00010');
    expect(Buffer.compare(bytes.subarray(nested.offset, nested.offset + nested.length), Buffer.from(icon))).toBe(0);
    // Pixel Data after the skipped values still points at its own bytes.
    const pixels = bulkOf(meta, '7FE00010');
    expect([...bytes.subarray(pixels.offset, pixels.offset + 32)]).toEqual([...new Uint8Array(32).map((_, i) => i)]);
    // Nothing of the big values is in the header's JSON.
    expect(JSON.stringify(r.meta).length).toBeLessThan(10_000);
  });
});

test('a 1 GiB header element is skipped without reading it (a sparse file: reading it would take seconds and 1 GiB)', async () => {
  const size = 2 ** 30;
  const before = dicomFile(ctElements({ pixels: null }, [{ tag: 0x00420011, vr: 'OB', declaredLength: size, value: new Uint8Array(0) }]));
  const after = dicomFile(ctElements({ charset: null, sopClass: null, sop: null, studyDate: null, acqDate: null, modality: null, patientName: null, patientId: null, thickness: null, study: null, series: null, instance: null, position: null, orientation: null, rows: null, columns: null, spacing: null, bits: null }), { meta: false });
  const file = join(dir, 'sparse.dcm');
  const fd = openSync(file, 'w');
  writeSync(fd, before);
  ftruncateSync(fd, before.length + size);
  writeSync(fd, after, 0, after.length, before.length + size);
  closeSync(fd);
  const started = Date.now();
  const rss = process.memoryUsage.rss();
  const r = await readDicomFile(file, { withMeta: true });
  expect(Date.now() - started).toBeLessThan(1000);
  expect(process.memoryUsage.rss() - rss).toBeLessThan(100 * 2 ** 20);
  expect(r).toMatchObject({ status: 'valid', code: 'OK' });
  const meta = r.meta as Record<string, { BulkDataURI?: string }>;
  expect(bulkOf(meta, '00420011')).toEqual({ offset: before.length, length: size });
  expect(bulkOf(meta, '7FE00010').offset).toBe(before.length + size + 12);
});

test('a header of many values under the limit is bounded too: past the header budget, values over 256 bytes become BulkDataURIs', async () => {
  const text = 'z'.repeat(60_000);
  const items = Array.from({ length: 300 }, () => [{ tag: 0x0040a160, vr: 'UT', value: text }]); // 18 MB of text
  const bytes = dicomFile(ctElements({}, [{ tag: 0x0040a730, vr: 'SQ', items }]));
  const file = join(dir, 'many-values.dcm');
  writeFileSync(file, bytes);
  const r = await readDicomFile(file, { withMeta: true });
  expect(r).toMatchObject({ status: 'valid', code: 'OK' });
  const read = (r.meta!['0040A730'].Value as Record<string, { Value?: string[]; BulkDataURI?: string }>[]).map((item) => item['0040A160']);
  const decoded = read.filter((e) => e.Value).length;
  expect(decoded).toBeGreaterThan(100); // the first 8 MiB or so are read as usual
  expect(decoded).toBeLessThan(160);
  for (const e of read.slice(decoded)) {
    const { offset, length } = bulkOf({ '0040A160': e }, '0040A160');
    expect(length).toBe(60_000);
    expect(bytes.subarray(offset, offset + length).toString('latin1')).toBe(text);
  }
  expect(JSON.stringify(r.meta).length).toBeLessThan(10 * 2 ** 20);
});
