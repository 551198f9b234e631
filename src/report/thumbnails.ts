/**
 * One grayscale PNG thumbnail per series for report.html: the middle slice by InstanceNumber, read
 * straight from its organized file (only the Pixel Data bytes), windowed, box-averaged and encoded
 * here with zlib. Native (uncompressed) monochrome pixels only; anything else is skipped, never thrown.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { workspace } from '../workspace';
import { readRecordsWithMeta, type InstanceRecord } from '../records';

type InstanceHead = Omit<InstanceRecord, 'meta'>;
import type { DicomJson } from '../dicom/types';
import { TRANSFER_SYNTAX } from '../dicom/read';
import { crc32 } from '../io/crc32';

export interface Thumbnail {
  seriesInstanceUid: string;
  /** Relative to reportsDir, '/'-separated: thumbnails/<uid>.png */
  file: string;
  width: number;
  height: number;
  modality: string | null;
  /** Instances of the series. */
  slices: number;
}

export interface ThumbnailOptions {
  /** Longest side in pixels, default 128. */
  size?: number;
  /** At most this many series, in order of first appearance in instances.jsonl. */
  limit?: number;
  /** Called with the number of records read so far (for activity heartbeats). */
  onProgress?: (records: number) => void;
  /** The run's scratch key: its instances and reports folder (workspace.ts). */
  runKey?: string;
}

export const THUMBNAILS_DIR = 'thumbnails';
export const DEFAULT_THUMBNAIL_SIZE = 128;

/** What a series needs between the two passes: the InstanceNumbers (for the median), then the chosen slice. */
interface SeriesEntry {
  modality: string | null;
  slices: number;
  numbers: number[];
  middle?: number | null;
  chosen?: InstanceRecord;
}

/** Where and how the pixels of one slice are stored. */
export interface PixelInfo {
  offset: number;
  rows: number;
  columns: number;
  bitsAllocated: 8 | 16;
  bitsStored: number;
  signed: boolean;
  bigEndian: boolean;
  monochrome1: boolean;
  slope: number;
  intercept: number;
  window: { center: number; width: number } | null;
}

/**
 * Pass 1 of the thumbnails: the series (first `limit` by first appearance) and their InstanceNumbers. Fed record by
 * record, so the report's own pass over the instances can do it (no pass of its own).
 */
export class ThumbnailSeries {
  readonly series = new Map<string, SeriesEntry>();
  constructor(private readonly limit = Infinity) {}

  add(f: Pick<InstanceRecord['fields'], 'seriesInstanceUid' | 'modality' | 'instanceNumber'>): void {
    let s = this.series.get(f.seriesInstanceUid);
    if (!s) {
      if (this.series.size >= this.limit) return;
      s = { modality: f.modality, slices: 0, numbers: [] };
      this.series.set(f.seriesInstanceUid, s);
    }
    s.slices++;
    if (typeof f.instanceNumber === 'number') s.numbers.push(f.instanceNumber);
  }
}

export async function writeThumbnails(outDir: string, opts: ThumbnailOptions & { collected?: ThumbnailSeries } = {}): Promise<Thumbnail[]> {
  const ws = workspace(outDir, opts.runKey);
  const size = opts.size ?? DEFAULT_THUMBNAIL_SIZE;
  const dir = path.join(ws.reportsDir, THUMBNAILS_DIR);
  fs.rmSync(dir, { recursive: true, force: true }); // no thumbnails of an earlier run left behind
  if (!fs.existsSync(ws.instances)) return [];

  let records = 0;
  let collected = opts.collected;
  if (!collected) {
    collected = new ThumbnailSeries(opts.limit);
    for await (const { record: r } of readRecordsWithMeta<InstanceHead>(ws.instances)) {
      opts.onProgress?.(++records);
      collected.add(r.fields);
    }
  }
  const series = collected.series;
  for (const s of series.values()) {
    s.numbers.sort((a, b) => a - b);
    s.middle = s.numbers.length ? s.numbers[Math.floor((s.numbers.length - 1) / 2)] : null;
    s.numbers = []; // free
  }

  // Pass 2: the first instance with the median InstanceNumber (or the first one, when none has a number).
  let chosen = 0;
  for await (const { record: r, meta } of readRecordsWithMeta<InstanceHead>(ws.instances)) {
    if (chosen === series.size) break; // every series has its slice: the rest need not be read
    opts.onProgress?.(++records);
    const s = series.get(r.fields.seriesInstanceUid);
    if (!s || s.chosen) continue;
    if (s.middle === null || r.fields.instanceNumber === s.middle) {
      s.chosen = { ...r, meta: pixelMeta(meta ? (JSON.parse(meta.toString('utf8')) as DicomJson) : {}) };
      chosen++;
    }
  }

  const out: Thumbnail[] = [];
  const used = new Set<string>();
  for (const [uid, s] of series) {
    if (!s.chosen) continue;
    const image = await renderSlice(path.join(ws.root, ...s.chosen.organizedPath.split('/')), s.chosen, size);
    if (!image) continue;
    const name = uniqueName(uid, used);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), encodeGrayPng(image.width, image.height, image.pixels));
    out.push({ seriesInstanceUid: uid, file: `${THUMBNAILS_DIR}/${name}`, width: image.width, height: image.height, modality: s.modality, slices: s.slices });
  }
  return out;
}

/** A file name from the UID (normally digits and dots already), made unique. */
function uniqueName(uid: string, used: Set<string>): string {
  const base = uid.replace(/[^0-9A-Za-z._-]/g, '_').slice(0, 100) || 'series';
  let name = `${base}.png`;
  for (let k = 2; used.has(name); k++) name = `${base}-${k}.png`;
  used.add(name);
  return name;
}

/** Keeps only the tags pixelInfo reads, so a chosen slice holds little memory. */
function pixelMeta(meta: DicomJson): DicomJson {
  const keep: DicomJson = {};
  for (const tag of PIXEL_TAGS) if (meta?.[tag]) keep[tag] = meta[tag];
  return keep;
}

const PIXEL_TAGS = ['00280002', '00280004', '00280010', '00280011', '00280100', '00280101', '00280103', '00281050', '00281051', '00281052', '00281053', '7FE00010'];

/** Reads the slice's pixel layout from its header; null when it is not something we render. */
export function pixelInfo(r: Pick<InstanceRecord, 'fields' | 'meta'>): PixelInfo | null {
  const ts = r.fields.transferSyntaxUid;
  // Deflated: the offset is inside the inflated data set. Encapsulated and unknown syntaxes: compressed pixels.
  if (ts !== TRANSFER_SYNTAX.implicitLittle && ts !== TRANSFER_SYNTAX.explicitLittle && ts !== TRANSFER_SYNTAX.explicitBig) return null;
  const m = r.meta ?? {};
  const bulk = /offset=(\d+)&length=(\d+)/.exec(m['7FE00010']?.BulkDataURI ?? '');
  if (!bulk) return null; // no Pixel Data, or undefined length (encapsulated)
  const rows = first(m, '00280010') ?? r.fields.rows;
  const columns = first(m, '00280011') ?? r.fields.columns;
  const bitsAllocated = first(m, '00280100');
  const photometric = String(m['00280004']?.Value?.[0] ?? 'MONOCHROME2').trim();
  if (!rows || !columns || rows < 1 || columns < 1) return null;
  if (bitsAllocated !== 8 && bitsAllocated !== 16) return null;
  if ((first(m, '00280002') ?? 1) !== 1) return null;
  if (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') return null;
  if (Number(bulk[2]) < rows * columns * (bitsAllocated / 8)) return null;
  const bitsStored = first(m, '00280101') ?? bitsAllocated;
  const center = first(m, '00281050');
  const width = first(m, '00281051');
  return {
    offset: Number(bulk[1]),
    rows,
    columns,
    bitsAllocated,
    bitsStored: bitsStored >= 1 && bitsStored <= bitsAllocated ? bitsStored : bitsAllocated,
    signed: first(m, '00280103') === 1,
    bigEndian: ts === TRANSFER_SYNTAX.explicitBig,
    monochrome1: photometric === 'MONOCHROME1',
    slope: first(m, '00281053') || 1,
    intercept: first(m, '00281052') ?? 0,
    window: center !== null && width !== null && width > 0 ? { center, width } : null,
  };
}

/** The first value of a tag as a finite number (DS/IS may come as strings), else null. */
function first(meta: DicomJson, tag: string): number | null {
  const v = meta[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** The slice as 8-bit grayscale of at most `size` px on its long side; null when it cannot be read. */
export async function renderSlice(file: string, r: Pick<InstanceRecord, 'fields' | 'meta'>, size: number): Promise<{ width: number; height: number; pixels: Uint8Array } | null> {
  try {
    const info = pixelInfo(r);
    if (!info) return null;
    const bytes = await readExactly(file, info.offset, info.rows * info.columns * (info.bitsAllocated / 8));
    if (!bytes) return null;
    // Box-average the modality values down to thumbnail size first, then window: the per-pixel work (and the
    // percentile sort when there is no window) is on the thumbnail's pixels, not the slice's.
    const small = downsample(modalityValues(info, bytes), info.columns, info.rows, size);
    return { width: small.width, height: small.height, pixels: windowed(info, small.pixels) };
  } catch {
    return null; // unreadable file: no thumbnail, the report goes on
  }
}

/** `length` bytes at `offset`, or null when the file is shorter (truncated). */
export async function readExactly(file: string, offset: number, length: number): Promise<Buffer | null> {
  const fh = await fs.promises.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) return null;
      done += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}

/** Stored values (masked to BitsStored, sign-extended when signed) through RescaleSlope/Intercept. */
export function modalityValues(info: PixelInfo, bytes: Buffer): Float32Array {
  const n = info.rows * info.columns;
  const out = new Float32Array(n);
  const mask = info.bitsStored >= 32 ? 0xffffffff : 2 ** info.bitsStored - 1;
  const signBit = 2 ** (info.bitsStored - 1);
  const { slope, intercept, signed } = info;
  const stored = storedValues(info, bytes, n);
  for (let i = 0; i < n; i++) {
    let v = stored[i] & mask;
    if (signed && v >= signBit) v -= 2 * signBit;
    out[i] = v * slope + intercept;
  }
  return out;
}

/** The stored values as an array to index: the bytes themselves (8 bits), a 16-bit view when the layout allows, else a copy. */
function storedValues(info: PixelInfo, bytes: Buffer, n: number): Uint8Array | Uint16Array {
  if (info.bitsAllocated === 8) return bytes;
  if (!info.bigEndian && os.endianness() === 'LE' && bytes.byteOffset % 2 === 0) return new Uint16Array(bytes.buffer, bytes.byteOffset, n);
  const out = new Uint16Array(n);
  for (let i = 0; i < n; i++) out[i] = info.bigEndian ? bytes.readUInt16BE(i * 2) : bytes.readUInt16LE(i * 2);
  return out;
}

/** 0..255 through the header's window, else the 1st..99th percentile; MONOCHROME1 inverted. */
export function windowed(info: PixelInfo, values: Float32Array): Uint8Array {
  let lo: number;
  let hi: number;
  if (info.window) {
    lo = info.window.center - info.window.width / 2;
    hi = info.window.center + info.window.width / 2;
  } else {
    const sorted = Float32Array.from(values).sort();
    lo = sorted[Math.floor((sorted.length - 1) * 0.01)];
    hi = sorted[Math.floor((sorted.length - 1) * 0.99)];
  }
  const span = hi > lo ? hi - lo : 1;
  const out = new Uint8Array(values.length);
  const invert = info.monochrome1;
  for (let i = 0; i < values.length; i++) {
    const t = ((values[i] - lo) / span) * 255;
    // clamp(Math.round(t), 0, 255), without a call per pixel
    const c = t < 0.5 ? 0 : t >= 254.5 ? 255 : (t + 0.5) | 0;
    out[i] = invert ? 255 - c : c;
  }
  return out;
}

/** Box average down to at most `size` on the long side, keeping the aspect; never enlarges. */
export function downsample(values: Float32Array, width: number, height: number, size: number): { width: number; height: number; pixels: Float32Array } {
  const scale = Math.max(width, height) / size;
  if (scale <= 1) return { width, height, pixels: values };
  const w = Math.max(1, Math.round(width / scale));
  const h = Math.max(1, Math.round(height / scale));
  const out = new Float32Array(w * h);
  const gray = values;
  for (let oy = 0; oy < h; oy++) {
    const y0 = Math.floor((oy * height) / h);
    const y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * height) / h));
    for (let ox = 0; ox < w; ox++) {
      const x0 = Math.floor((ox * width) / w);
      const x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * width) / w));
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += gray[y * width + x];
      out[oy * w + ox] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  return { width: w, height: h, pixels: out };
}

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** An 8-bit grayscale PNG (colour type 0), every scanline with filter 0. */
export function encodeGrayPng(width: number, height: number, pixels: Uint8Array): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // grayscale; compression, filter and interlace stay 0
  const raw = Buffer.alloc((width + 1) * height);
  for (let y = 0; y < height; y++) raw.set(pixels.subarray(y * width, (y + 1) * width), y * (width + 1) + 1);
  return Buffer.concat([PNG_SIGNATURE, chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
