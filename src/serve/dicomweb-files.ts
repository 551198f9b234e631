/**
 * WADO-RS bytes (DICOM PS3.18 §10.4): instances as multipart/related (streamed from the organized files), frames of
 * native pixel data, bulk data values, and rendered PNGs. A file is found only through the catalog: its `file_path`
 * row, resolved under DIR and checked to stay inside it; no part of a URL is ever part of a path.
 */
import * as fs from 'fs';
import * as path from 'path';
import type * as http from 'http';
import { randomBytes } from 'crypto';
import { pipeline } from 'stream/promises';
import type { Knex } from 'knex';
import { TRANSFER_SYNTAX } from '../dicom/read';
import type { DicomJson, DicomJsonElement } from '../dicom/types';
import { DEFAULT_THUMBNAIL_SIZE, downsample, encodeGrayPng, modalityValues, pixelInfo, readExactly, windowed, type PixelInfo } from '../report/thumbnails';
import { parseMeta } from './dicomweb-query';

/** An answer other than 200, with a short text: 404 unknown, 406 not acceptable, 400 bad request. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface InstanceRow {
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  file_path: string;
  transfer_syntax_uid: string | null;
  rows?: number | null;
  columns?: number | null;
  meta?: unknown;
}

const NATIVE = new Set<string>([TRANSFER_SYNTAX.implicitLittle, TRANSFER_SYNTAX.explicitLittle, TRANSFER_SYNTAX.explicitBig]);

/** The file of a catalog row: DIR/<file_path>, or null when the row's path would leave DIR or DIR is unknown. */
export function fileOf(outDir: string | undefined, filePath: string): string | null {
  if (!outDir) return null;
  const root = path.resolve(outDir);
  const file = path.resolve(root, filePath);
  return file.startsWith(root + path.sep) ? file : null;
}

function requireFile(outDir: string | undefined, row: InstanceRow): string {
  if (!outDir) throw new HttpError(404, 'The organized tree is not known to this server: start `dicomflow serve` with --out DIR');
  const file = fileOf(outDir, row.file_path);
  if (!file || !fs.existsSync(file)) throw new HttpError(404, `The file of instance ${row.sop_instance_uid} is not in the organized tree`);
  return file;
}

// ---------------------------------------------------------------------------------------------------------------------
// Accept

interface MediaRange {
  type: string;
  params: Map<string, string>;
}

export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header || !header.trim()) return [{ type: '*/*', params: new Map() }];
  const out: MediaRange[] = [];
  // Split on commas outside quotes.
  for (const part of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    if (!type) continue;
    const map = new Map<string, string>();
    for (const p of params) {
      const eq = p.indexOf('=');
      if (eq > 0) map.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1'));
    }
    out.push({ type: type.toLowerCase(), params: map });
  }
  return out;
}

/**
 * How to answer a retrieval whose parts are `partType` (application/dicom, application/octet-stream): 'multipart',
 * 'single' (the client asked for the bare type, one part only), or null (nothing acceptable: 406). `syntaxes` are the
 * transfer syntaxes of what would be sent; a transfer-syntax asked for must be `*` or each of them (no transcoding).
 */
export function negotiate(accept: string | undefined, partType: string, syntaxes: Set<string>, allowSingle: boolean): 'multipart' | 'single' | null {
  const tsOk = (r: MediaRange) => {
    const ts = r.params.get('transfer-syntax');
    return ts === undefined || ts === '*' || [...syntaxes].every((s) => s === ts);
  };
  for (const r of parseAccept(accept)) {
    if (r.type === '*/*' || r.type === 'multipart/*') return 'multipart';
    if (r.type === 'multipart/related') {
      const t = r.params.get('type');
      if ((t === undefined || t === partType || t === '*/*') && tsOk(r)) return 'multipart';
    }
    if (allowSingle && r.type === partType && tsOk(r)) return 'single';
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------------
// Multipart

interface Part {
  contentType: string;
  /** A file range to stream, or bytes. */
  file?: { path: string; start?: number; end?: number; size: number };
  bytes?: Buffer;
  location?: string;
}

/** Writes parts as multipart/related; type=<type> (streamed, one at a time). */
export async function sendMultipart(res: http.ServerResponse, type: string, parts: Part[]): Promise<void> {
  const boundary = `dicomflow-${randomBytes(16).toString('hex')}`;
  res.writeHead(200, {
    'content-type': `multipart/related; type="${type}"; boundary=${boundary}`,
    'cache-control': 'no-store',
  });
  if (res.req.method === 'HEAD') {
    res.end();
    return;
  }
  for (const part of parts) {
    const length = part.bytes ? part.bytes.length : part.file!.size;
    const head = `--${boundary}\r\nContent-Type: ${part.contentType}\r\nContent-Length: ${length}\r\n${part.location ? `Content-Location: ${part.location}\r\n` : ''}\r\n`;
    if (!res.write(head)) await drained(res);
    if (part.bytes) {
      if (!res.write(part.bytes)) await drained(res);
    } else {
      const { path: file, start, end } = part.file!;
      await pipeline(fs.createReadStream(file, { start, end }), res, { end: false });
    }
    if (!res.write('\r\n')) await drained(res);
  }
  res.end(`--${boundary}--\r\n`);
}

/** Resolves when the response can take more; rejects when the client went away. */
export function drained(res: http.ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      res.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.off('drain', onDrain);
      reject(new Error('client went away'));
    };
    res.once('drain', onDrain);
    res.once('close', onClose);
  });
}

function sendBytes(res: http.ServerResponse, contentType: string, body: Buffer): void {
  res.writeHead(200, { 'content-type': contentType, 'content-length': String(body.length), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

// ---------------------------------------------------------------------------------------------------------------------
// Instances

/** Retrieves whole instances (study, series or instance level). */
export async function sendInstances(req: http.IncomingMessage, res: http.ServerResponse, rows: InstanceRow[], outDir: string | undefined, single: boolean): Promise<void> {
  if (rows.length === 0) throw new HttpError(404, 'No such instances in the catalog');
  const syntaxes = new Set(rows.map((r) => r.transfer_syntax_uid ?? TRANSFER_SYNTAX.explicitLittle));
  const how = negotiate(req.headers.accept, 'application/dicom', syntaxes, single);
  if (!how) throw new HttpError(406, 'Acceptable: multipart/related; type="application/dicom" (transfer-syntax=* or the stored one; nothing is transcoded)');
  const parts: Part[] = [];
  for (const row of rows) {
    const file = requireFile(outDir, row);
    const size = fs.statSync(file).size;
    const ts = row.transfer_syntax_uid;
    parts.push({ contentType: `application/dicom${ts ? `; transfer-syntax=${ts}` : ''}`, file: { path: file, size } });
  }
  if (how === 'single') {
    const { path: file, size } = parts[0].file!;
    res.writeHead(200, { 'content-type': parts[0].contentType, 'content-length': String(size), 'cache-control': 'no-store' });
    if (req.method === 'HEAD') res.end();
    else await pipeline(fs.createReadStream(file), res);
    return;
  }
  await sendMultipart(res, 'application/dicom', parts);
}

// ---------------------------------------------------------------------------------------------------------------------
// Frames, bulk data, rendered

function firstNumber(meta: DicomJson, tag: string): number | null {
  const v = meta[tag]?.Value?.[0];
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** Where the native pixel data of an instance is, and how big one frame is. */
interface FrameLayout {
  offset: number;
  length: number;
  frameBytes: number;
  frames: number;
  bytesPerSample: number;
  bigEndian: boolean;
}

function frameLayout(row: InstanceRow, meta: DicomJson): FrameLayout {
  const ts = row.transfer_syntax_uid ?? '';
  if (!NATIVE.has(ts)) throw new HttpError(406, `Instance ${row.sop_instance_uid} is stored as ${ts || 'an unknown transfer syntax'}: frames are served for native (uncompressed) pixel data only; retrieve the instance instead`);
  const bulk = /offset=(\d+)&length=(\d+)/.exec(meta['7FE00010']?.BulkDataURI ?? '');
  if (!bulk) throw new HttpError(404, `Instance ${row.sop_instance_uid} has no Pixel Data`);
  const rows = firstNumber(meta, '00280010');
  const columns = firstNumber(meta, '00280011');
  const spp = firstNumber(meta, '00280002') ?? 1;
  const bits = firstNumber(meta, '00280100');
  if (!rows || !columns || (bits !== 8 && bits !== 16 && bits !== 32)) throw new HttpError(406, `Instance ${row.sop_instance_uid}: pixel layout not served by frame (Rows, Columns, BitsAllocated 8/16/32 needed)`);
  const frameBytes = rows * columns * spp * (bits / 8);
  const length = Number(bulk[2]);
  return {
    offset: Number(bulk[1]),
    length,
    frameBytes,
    frames: Math.max(1, Math.min(firstNumber(meta, '00280008') ?? 1, Math.floor(length / frameBytes))),
    bytesPerSample: bits / 8,
    bigEndian: ts === TRANSFER_SYNTAX.explicitBig,
  };
}

/** Frame numbers of a URL's list ("1", "1,3,5"), 1-based. */
export function frameList(text: string): number[] {
  const list = text.split(',').map((s) => s.trim());
  if (list.length === 0 || list.length > 1000 || !list.every((s) => /^\d{1,6}$/.test(s) && Number(s) >= 1)) throw new HttpError(400, `Frame numbers are 1, 2, ... separated by commas: "${text}"`);
  return list.map(Number);
}

async function readFrame(file: string, layout: FrameLayout, n: number, sop: string): Promise<Buffer> {
  if (n > layout.frames) throw new HttpError(404, `Instance ${sop} has ${layout.frames} frame${layout.frames === 1 ? '' : 's'}, not ${n}`);
  const bytes = await readExactly(file, layout.offset + (n - 1) * layout.frameBytes, layout.frameBytes);
  if (!bytes) throw new HttpError(404, `The Pixel Data of instance ${sop} is truncated`);
  // Frames are sent as Explicit VR Little Endian: swap a big-endian file's samples.
  if (layout.bigEndian && layout.bytesPerSample === 2) bytes.swap16();
  if (layout.bigEndian && layout.bytesPerSample === 4) bytes.swap32();
  return bytes;
}

export async function sendFrames(req: http.IncomingMessage, res: http.ServerResponse, row: InstanceRow, outDir: string | undefined, frames: number[]): Promise<void> {
  const meta = parseMeta(row.meta);
  const layout = frameLayout(row, meta);
  const how = negotiate(req.headers.accept, 'application/octet-stream', new Set([TRANSFER_SYNTAX.explicitLittle]), frames.length === 1);
  if (!how) throw new HttpError(406, 'Acceptable: multipart/related; type="application/octet-stream" (frames are native, Explicit VR Little Endian)');
  const file = requireFile(outDir, row);
  const parts: Part[] = [];
  for (const n of frames) parts.push({ contentType: `application/octet-stream; transfer-syntax=${TRANSFER_SYNTAX.explicitLittle}`, bytes: await readFrame(file, layout, n, row.sop_instance_uid) });
  if (how === 'single') return sendBytes(res, parts[0].contentType, parts[0].bytes!);
  await sendMultipart(res, 'application/octet-stream', parts);
}

/** Every BulkDataURI of a header, sequences included. */
function bulkUris(meta: DicomJson, out: string[] = []): string[] {
  for (const el of Object.values(meta) as DicomJsonElement[]) {
    if (el.BulkDataURI) out.push(el.BulkDataURI);
    if (el.vr === 'SQ' && Array.isArray(el.Value)) for (const item of el.Value) bulkUris(item as DicomJson, out);
  }
  return out;
}

/** A bulk value: the header must list `bulk:<tag>?offset=<offset>&length=N` (the URL gives tag and offset only). */
export async function sendBulk(req: http.IncomingMessage, res: http.ServerResponse, row: InstanceRow, outDir: string | undefined, tag: string, offset: string): Promise<void> {
  const meta = parseMeta(row.meta);
  const wanted = `bulk:${tag.toUpperCase()}?offset=${offset}&length=`;
  const uri = /^[0-9A-Fa-f]{8}$/.test(tag) && /^\d+$/.test(offset) ? bulkUris(meta).find((u) => u.startsWith(wanted)) : undefined;
  if (!uri) throw new HttpError(404, 'No such bulk data value in this instance');
  if (row.transfer_syntax_uid === TRANSFER_SYNTAX.deflated) throw new HttpError(406, 'Bulk data of a deflated file is not served apart: retrieve the instance');
  const length = Number(uri.slice(wanted.length));
  const file = requireFile(outDir, row);
  if (fs.statSync(file).size < Number(offset) + length) throw new HttpError(404, 'The bulk data value is past the end of the file (truncated)');
  const how = negotiate(req.headers.accept, 'application/octet-stream', new Set([row.transfer_syntax_uid ?? '']), true);
  if (!how) throw new HttpError(406, 'Acceptable: multipart/related; type="application/octet-stream", or application/octet-stream');
  const range = { path: file, start: Number(offset), end: Number(offset) + length - 1, size: length };
  if (how === 'single' || length === 0) {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(length), 'cache-control': 'no-store' });
    if (req.method === 'HEAD' || length === 0) res.end();
    else await pipeline(fs.createReadStream(file, { start: range.start, end: range.end }), res);
    return;
  }
  await sendMultipart(res, 'application/octet-stream', [{ contentType: 'application/octet-stream', file: range }]);
}

export interface RenderOptions {
  /** Longest side in pixels (thumbnail, or ?viewport=); undefined: full size. */
  size?: number;
  frame?: number;
}

/** `?viewport=w,h` and `?window=center,width[,function]` of a rendered request. */
export function renderParams(url: URL, thumbnail: boolean): { size?: number; window?: { center: number; width: number } } {
  const out: { size?: number; window?: { center: number; width: number } } = {};
  if (thumbnail) out.size = DEFAULT_THUMBNAIL_SIZE;
  const viewport = url.searchParams.get('viewport');
  if (viewport) {
    const [w, h] = viewport.split(',').map(Number);
    const size = Math.max(w || 0, h || 0);
    if (!(size >= 1 && size <= 8192)) throw new HttpError(400, `viewport=width,height in pixels, got "${viewport}"`);
    out.size = Math.round(size);
  }
  const window = url.searchParams.get('window');
  if (window) {
    const [center, width] = window.split(',').map(Number);
    if (!Number.isFinite(center) || !(width > 0)) throw new HttpError(400, `window=center,width[,linear], got "${window}"`);
    out.window = { center, width };
  }
  return out;
}

/** A rendered PNG of one frame of an instance, windowed by its header (or ?window=), else its 1st-99th percentile. */
export async function sendRendered(req: http.IncomingMessage, res: http.ServerResponse, row: InstanceRow, outDir: string | undefined, url: URL, thumbnail: boolean, frame = 1): Promise<void> {
  const accepted = parseAccept(req.headers.accept).some((r) => r.type === '*/*' || r.type === 'image/*' || r.type === 'image/png');
  if (!accepted) throw new HttpError(406, 'Rendered images are image/png');
  const params = renderParams(url, thumbnail);
  const meta = parseMeta(row.meta);
  const info: PixelInfo | null = pixelInfo({ fields: { transferSyntaxUid: row.transfer_syntax_uid, rows: row.rows ?? null, columns: row.columns ?? null } as never, meta });
  if (!info) throw new HttpError(406, `Instance ${row.sop_instance_uid} cannot be rendered (native monochrome pixel data only)`);
  const layout = frameLayout(row, meta);
  if (frame > layout.frames) throw new HttpError(404, `Instance ${row.sop_instance_uid} has ${layout.frames} frame(s)`);
  const file = requireFile(outDir, row);
  const bytes = await readExactly(file, info.offset + (frame - 1) * layout.frameBytes, info.rows * info.columns * (info.bitsAllocated / 8));
  if (!bytes) throw new HttpError(404, `The Pixel Data of instance ${row.sop_instance_uid} is truncated`);
  const values = modalityValues(info, bytes);
  const small = params.size ? downsample(values, info.columns, info.rows, params.size) : { width: info.columns, height: info.rows, pixels: values };
  const png = encodeGrayPng(small.width, small.height, windowed(params.window ? { ...info, window: params.window } : info, small.pixels));
  sendBytes(res, 'image/png', png);
}

// ---------------------------------------------------------------------------------------------------------------------
// Catalog look-ups

const FILE_COLUMNS = ['sop_instance_uid', 'study_instance_uid', 'series_instance_uid', 'file_path', 'transfer_syntax_uid'];

/** The instances of a study, a series or one instance, in series and slice order (paths only, no headers). */
export async function instanceFiles(db: Knex, where: { study: string; series?: string; sop?: string }): Promise<InstanceRow[]> {
  const q = db('dicom_metadata').where('study_instance_uid', where.study);
  if (where.series !== undefined) q.where('series_instance_uid', where.series);
  if (where.sop !== undefined) q.where('sop_instance_uid', where.sop);
  return (await q.select(FILE_COLUMNS).orderBy(['series_instance_uid', 'instance_number', 'sop_instance_uid'])) as InstanceRow[];
}

/** One instance with its header, or null when the three UIDs are not one catalog row. */
export async function instanceWithMeta(db: Knex, study: string, series: string, sop: string): Promise<InstanceRow | null> {
  const row = (await db('dicom_metadata')
    .where({ sop_instance_uid: sop, study_instance_uid: study, series_instance_uid: series })
    .first([...FILE_COLUMNS, 'rows', 'columns', 'meta'])) as InstanceRow | undefined;
  return row ?? null;
}

/** The middle instance of a series by InstanceNumber (what a series' thumbnail shows). */
export async function middleInstance(db: Knex, study: string, series: string): Promise<InstanceRow | null> {
  const base = () => db('dicom_metadata').where({ study_instance_uid: study, series_instance_uid: series });
  const counted = (await base().count({ n: '*' }).first()) as { n: number | string } | undefined;
  const n = Number(counted?.n ?? 0);
  if (n === 0) return null;
  const row = (await base()
    .orderBy(['instance_number', 'sop_instance_uid'])
    .offset(Math.floor((n - 1) / 2))
    .first([...FILE_COLUMNS, 'rows', 'columns', 'meta'])) as InstanceRow | undefined;
  return row ?? null;
}
