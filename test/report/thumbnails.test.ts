/**
 * Series thumbnails from real DICOM files: a synthetic dataset (CT in implicit/explicit VR, a radiograph,
 * a series whose middle slice is big endian) plus hand-laid files (little/big endian twins, MONOCHROME1,
 * encapsulated, deflated, truncated), indexed into instances.jsonl as organize would, then rendered.
 * PNGs are decoded here with zlib, independently of the encoder.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { writeSynthFolder } from '../../src/synth';
import { readDicomFile } from '../../src/dicom/read';
import { writeJsonLines } from '../../src/io/jsonl';
import { workspace } from '../../src/workspace';
import type { InstanceRecord, OutcomeRecord } from '../../src/records';
import { modalityValues, writeThumbnails, type PixelInfo, type Thumbnail } from '../../src/report/thumbnails';
import { writeReport } from '../../src/activities/report';
import { renderReportHtml } from '../../src/report/html';
import { ReportStats } from '../../src/report/stats';
import { ctElements, dicomFile, DEFLATED, EXPLICIT_BE, EXPLICIT_LE, JPEG_BASELINE, type El } from '../dicom/bytes';

const TWIN_ROWS = 180;
const TWIN_COLS = 300;

/** A 12-bit unsigned picture: a bright disc on a horizontal ramp, stored little endian. */
function twinPixels(): Uint16Array {
  const px = new Uint16Array(TWIN_ROWS * TWIN_COLS);
  for (let y = 0; y < TWIN_ROWS; y++) {
    for (let x = 0; x < TWIN_COLS; x++) {
      const inDisc = (x - 200) ** 2 + (y - 90) ** 2 < 40 ** 2;
      px[y * TWIN_COLS + x] = inDisc ? 4000 : Math.round((x / TWIN_COLS) * 2000);
    }
  }
  return px;
}

function pixelBytes(px: Uint16Array, bigEndian: boolean): Uint8Array {
  const b = Buffer.alloc(px.length * 2);
  px.forEach((v, i) => (bigEndian ? b.writeUInt16BE(v, i * 2) : b.writeUInt16LE(v, i * 2)));
  return b;
}

/** A one-slice series laid out by hand (test/dicom/bytes.ts), 300 x 180, no window: percentiles are used. */
function handMade(series: string, o: { ts: string; photometric?: string; pixels?: El }): Buffer {
  const px = twinPixels();
  const extra: El[] = [
    { tag: 0x00280002, vr: 'US', value: [1] },
    { tag: 0x00280004, vr: 'CS', value: o.photometric ?? 'MONOCHROME2' },
    { tag: 0x00280101, vr: 'US', value: [12] },
    { tag: 0x00280103, vr: 'US', value: [0] },
  ];
  return dicomFile(
    ctElements(
      {
        sop: { tag: 0x00080018, vr: 'UI', value: `${series}.1` },
        series: { tag: 0x0020000e, vr: 'UI', value: series },
        instance: { tag: 0x00200013, vr: 'IS', value: '1' },
        rows: { tag: 0x00280010, vr: 'US', value: [TWIN_ROWS] },
        columns: { tag: 0x00280011, vr: 'US', value: [TWIN_COLS] },
        pixels: o.pixels ?? { tag: 0x7fe00010, vr: 'OW', value: pixelBytes(px, o.ts === EXPLICIT_BE) },
      },
      extra,
    ),
    { ts: o.ts },
  );
}

const HAND = {
  little: '1.2.826.0.1.3680043.9.7777.20.1',
  big: '1.2.826.0.1.3680043.9.7777.20.2',
  mono1: '1.2.826.0.1.3680043.9.7777.20.3',
  encapsulated: '1.2.826.0.1.3680043.9.7777.20.4',
  deflated: '1.2.826.0.1.3680043.9.7777.20.5',
  truncated: '1.2.826.0.1.3680043.9.7777.20.6',
} as const;

interface DecodedGray { width: number; height: number; gray: Buffer }

/** Independent PNG reader for 8-bit grayscale with filter-0 rows. */
function decodeGrayPng(bytes: Buffer): DecodedGray {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  let offset = 8;
  let width = 0;
  let height = 0;
  const idat: Buffer[] = [];
  const types: string[] = [];
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const type = bytes.toString('latin1', offset + 4, offset + 8);
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    expect(bytes.readUInt32BE(offset + 8 + length)).toBe(zlib.crc32(bytes.subarray(offset + 4, offset + 8 + length)));
    types.push(type);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      expect([...data.subarray(8, 13)]).toEqual([8, 0, 0, 0, 0]); // 8-bit grayscale, no interlace
    } else if (type === 'IDAT') idat.push(data);
    offset += 12 + length;
  }
  expect(types[0]).toBe('IHDR');
  expect(types[types.length - 1]).toBe('IEND');
  const raw = zlib.inflateSync(Buffer.concat(idat));
  expect(raw.length).toBe((width + 1) * height);
  const gray = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) {
    expect(raw[y * (width + 1)]).toBe(0);
    raw.copy(gray, y * width, y * (width + 1) + 1, (y + 1) * (width + 1));
  }
  return { width, height, gray };
}

describe('writeThumbnails', () => {
  let root: string;
  let outDir: string;
  let records: InstanceRecord[];
  let thumbs: Thumbnail[];
  const byUid = (uid: string) => thumbs.find((t) => t.seriesInstanceUid === uid);
  const decode = (t: Thumbnail) => decodeGrayPng(fs.readFileSync(path.join(workspace(outDir).reportsDir, t.file)));

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-thumbs-'));
    const srcDir = path.join(root, 'src');
    outDir = path.join(root, 'out');
    await writeSynthFolder({ patients: 2, slices: 5, size: 160, broken: true, seed: 1, outDir: srcDir });
    const hand = path.join(srcDir, 'hand');
    fs.mkdirSync(hand);
    const write = (name: string, bytes: Buffer) => fs.writeFileSync(path.join(hand, name), bytes);
    write('little.dcm', handMade(HAND.little, { ts: EXPLICIT_LE }));
    write('big.dcm', handMade(HAND.big, { ts: EXPLICIT_BE }));
    write('mono1.dcm', handMade(HAND.mono1, { ts: EXPLICIT_LE, photometric: 'MONOCHROME1' }));
    write('jpeg.dcm', handMade(HAND.encapsulated, { ts: JPEG_BASELINE, pixels: { tag: 0x7fe00010, vr: 'OB', fragments: [new Uint8Array([0xff, 0xd8, 0xff, 0xd9])] } }));
    write('deflated.dcm', handMade(HAND.deflated, { ts: DEFLATED }));
    write('truncated.dcm', handMade(HAND.truncated, { ts: EXPLICIT_LE }));

    // What organize does, in short: every valid file once, copied under organized/, indexed in instances.jsonl.
    const ws = workspace(outDir);
    records = [];
    const seen = new Set<string>();
    const files = listFiles(srcDir);
    for (const file of files) {
      const r = await readDicomFile(file, { withMeta: true });
      if (r.status !== 'valid' || !r.fields || seen.has(r.fields.sopInstanceUid)) continue;
      seen.add(r.fields.sopInstanceUid);
      const organizedPath = `organized/${r.fields.seriesInstanceUid}/${r.fields.sopInstanceUid}.dcm`;
      fs.mkdirSync(path.join(outDir, path.dirname(organizedPath)), { recursive: true });
      fs.copyFileSync(file, path.join(outDir, organizedPath));
      records.push({ i: records.length, source: path.relative(srcDir, file), organizedPath, fields: r.fields, meta: r.meta! });
    }
    // A file cut short after it was indexed: its pixels cannot be read whole.
    const truncated = records.find((r) => r.fields.seriesInstanceUid === HAND.truncated)!;
    const truncatedFile = path.join(outDir, truncated.organizedPath);
    fs.truncateSync(truncatedFile, fs.statSync(truncatedFile).size - 1000);
    await writeJsonLines(ws.instances, records);
    thumbs = await writeThumbnails(outDir);
  });
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it('renders one PNG per renderable series, skipping encapsulated, deflated and truncated ones', () => {
    const allSeries = [...new Set(records.map((r) => r.fields.seriesInstanceUid))];
    const unrenderable: string[] = [HAND.encapsulated, HAND.deflated, HAND.truncated];
    expect(allSeries).toEqual(expect.arrayContaining(unrenderable));
    expect(thumbs.map((t) => t.seriesInstanceUid)).toEqual(allSeries.filter((uid) => !unrenderable.includes(uid)));
    expect(thumbs.length).toBeGreaterThanOrEqual(9);
    const pngs = fs.readdirSync(path.join(workspace(outDir).reportsDir, 'thumbnails'));
    expect(pngs.sort()).toEqual(thumbs.map((t) => path.basename(t.file)).sort());
    for (const t of thumbs) expect(t.slices).toBe(records.filter((r) => r.fields.seriesInstanceUid === t.seriesInstanceUid).length);
  });

  it('writes valid grayscale PNGs of at most 128 px, with the slice aspect, and real contrast', () => {
    for (const t of thumbs) {
      const png = decode(t);
      expect([png.width, png.height]).toEqual([t.width, t.height]);
      const slice = middleSlice(records, t.seriesInstanceUid).fields;
      const long = Math.max(slice.rows!, slice.columns!);
      expect(Math.max(png.width, png.height)).toBe(Math.min(long, 128));
      expect(png.width / png.height).toBeCloseTo(slice.columns! / slice.rows!, 1);
      expect(Math.max(...png.gray) - Math.min(...png.gray)).toBeGreaterThan(100);
    }
    expect([byUid(HAND.little)!.width, byUid(HAND.little)!.height]).toEqual([128, 77]);
  });

  it('picks the middle slice by InstanceNumber: the big-endian slice of the synthetic 3-slice series', () => {
    const bigEndianSlice = records.find((r) => r.source === path.join('extra', 'big-endian.dcm'))!;
    expect(bigEndianSlice.fields.instanceNumber).toBe(2);
    const series = records.filter((r) => r.fields.seriesInstanceUid === bigEndianSlice.fields.seriesInstanceUid);
    expect(series.map((r) => r.fields.instanceNumber).sort()).toEqual([1, 2, 3]);
    expect(byUid(bigEndianSlice.fields.seriesInstanceUid)).toBeDefined();
  });

  it('a big-endian file gives the same picture as its little-endian twin; MONOCHROME1 the inverse', () => {
    const little = decode(byUid(HAND.little)!);
    const big = decode(byUid(HAND.big)!);
    const mono1 = decode(byUid(HAND.mono1)!);
    expect(big.gray.equals(little.gray)).toBe(true);
    // Inverted before box-averaging, so a rounding step of 1 may differ.
    expect(mono1.gray.every((v, i) => Math.abs(v - (255 - little.gray[i])) <= 1)).toBe(true);
    // The disc (right of centre) is bright, the left end of the ramp dark.
    const at = (x: number, y: number) => little.gray[y * little.width + x];
    expect(at(Math.round((200 / 300) * 128), 38)).toBe(255);
    expect(at(2, 10)).toBeLessThan(20);
  });

  it('a CT thumbnail looks like a body: dark air in the corners, brighter tissue in the middle', () => {
    const ct = records.find((r) => r.fields.modality === 'CT' && r.fields.rows === 160)!;
    const png = decode(byUid(ct.fields.seriesInstanceUid)!);
    const at = (x: number, y: number) => png.gray[y * png.width + x];
    // Lung window -600/1600 spans -1400..200 HU: air (-1024 HU) is 60, soft tissue (~50 HU) ~232.
    expect(at(2, 2)).toBe(60);
    expect(at(64, 100)).toBeGreaterThan(220);
  });

  it('keeps at most `limit` series, and the size option', async () => {
    const two = await writeThumbnails(outDir, { limit: 2, size: 32 });
    expect(two.map((t) => t.seriesInstanceUid)).toEqual(thumbs.slice(0, 2).map((t) => t.seriesInstanceUid));
    for (const t of two) expect(Math.max(decode(t).width, decode(t).height)).toBe(32);
    expect(fs.readdirSync(path.join(workspace(outDir).reportsDir, 'thumbnails'))).toHaveLength(2);
  });

  it('returns nothing (and does not throw) without instances.jsonl', async () => {
    const empty = fs.mkdtempSync(path.join(root, 'empty-'));
    await expect(writeThumbnails(empty)).resolves.toEqual([]);
  });

  it('writeReport shows the thumbnails in report.html', async () => {
    const ws = workspace(outDir);
    const outcomes: OutcomeRecord[] = records.map((r) => ({ i: r.i, path: r.source, status: 'valid', code: 'OK', message: 'Valid DICOM instance' }));
    await writeJsonLines(ws.outcomes, outcomes);
    const result = await writeReport({ outDir, runId: 'run-1', source: 'synth' });
    const html = fs.readFileSync(result.files.html, 'utf8');
    expect(html).toContain('<h2>Series</h2>');
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs).toEqual(thumbs.map((t) => t.file));
    for (const src of srcs) expect(fs.existsSync(path.join(ws.reportsDir, src))).toBe(true);
    expect(result.files.pngs).toHaveLength(2);
    // 3 series have no thumbnail: the page says so.
    expect(html).toContain(`Middle slice of ${thumbs.length} of ${thumbs.length + 3} series; no uncompressed grayscale slice to draw for 3 `);
    expect(html).toContain('5 slices');
  });

  it('report.html says when series are beyond the thumbnail limit', () => {
    const stats = new ReportStats();
    for (const r of records) stats.addInstance(r);
    const html = renderReportHtml({
      source: 's', runId: 'r', generatedAt: 'now', stats, thicknessSvg: '<svg/>', seriesSvg: '<svg/>', seriesShown: 1,
      files: { validationCsv: 'v.csv', metadataCsv: 'm.csv', thicknessPng: 't.png', seriesPng: 's.png' },
      thumbnails: thumbs.slice(0, 3), thumbnailLimit: 4,
    });
    expect(html).toContain(`Middle slice of 3 of ${stats.series.size} series; only the first 4 series are drawn; no uncompressed grayscale slice to draw for 1 `);
    expect(html.match(/<img /g)).toHaveLength(3);
  });
});

/** The slice with the median InstanceNumber of a series. */
function middleSlice(records: InstanceRecord[], series: string): InstanceRecord {
  const slices = records.filter((r) => r.fields.seriesInstanceUid === series).sort((a, b) => a.fields.instanceNumber! - b.fields.instanceNumber!);
  return slices[Math.floor((slices.length - 1) / 2)];
}

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((d) => (d.isDirectory() ? listFiles(path.join(dir, d.name)) : [path.join(dir, d.name)]))
    .sort();
}

describe('modalityValues', () => {
  const info = (o: Partial<PixelInfo>): PixelInfo => ({
    offset: 0, rows: 1, columns: 3, bitsAllocated: 16, bitsStored: 16, signed: false, bigEndian: false,
    monochrome1: false, slope: 1, intercept: 0, window: null, ...o,
  });
  const words = (values: number[], bigEndian = false) => {
    const b = Buffer.alloc(values.length * 2);
    values.forEach((v, i) => (bigEndian ? b.writeUInt16BE(v & 0xffff, i * 2) : b.writeUInt16LE(v & 0xffff, i * 2)));
    return b;
  };

  it('reads signed 16-bit values, both byte orders, through the rescale', () => {
    expect([...modalityValues(info({ signed: true, slope: 2, intercept: -1024 }), words([-5, 0, 300]))]).toEqual([-1034, -1024, -424]);
    expect([...modalityValues(info({ signed: true, bigEndian: true }), words([-5, 0, 300], true))]).toEqual([-5, 0, 300]);
  });

  it('masks to BitsStored and sign-extends from its top bit', () => {
    // 12 bits stored: 0xF000 junk above is dropped; 0x0FFF is -1 when signed, 4095 when not.
    expect([...modalityValues(info({ bitsStored: 12, signed: true }), words([0xffff, 0x0800, 0xf005]))]).toEqual([-1, -2048, 5]);
    expect([...modalityValues(info({ bitsStored: 12 }), words([0xffff, 0x0800, 0xf005]))]).toEqual([4095, 2048, 5]);
  });

  it('reads 8-bit values', () => {
    expect([...modalityValues(info({ bitsAllocated: 8, bitsStored: 8, signed: true }), Buffer.from([0xff, 0x7f, 0x80]))]).toEqual([-1, 127, -128]);
  });
});
