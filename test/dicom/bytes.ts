/**
 * A tiny DICOM byte builder for test fixtures (independent of src/, so the reader is checked
 * against bytes laid out by hand): data sets in implicit/explicit VR, little/big endian, defined or
 * undefined lengths, encapsulated Pixel Data, file meta, preamble, deflate.
 */
import { deflateRawSync } from 'node:zlib';

export interface El {
  tag: number;
  vr: string;
  /** string (ASCII/Latin-1), raw bytes (already encoded), or numbers for binary numeric VRs. */
  value?: string | Uint8Array | number[];
  items?: El[][];
  /** Sequence written with undefined length (and items with undefined length too). */
  undefinedLength?: boolean;
  /** Encapsulated Pixel Data fragments (undefined length, empty offset table first). */
  fragments?: Uint8Array[];
  /** Declared length override (lies about the value's size). */
  declaredLength?: number;
  /** Keep an odd-length value unpadded. */
  noPad?: boolean;
}

export interface Syntax { explicit: boolean; littleEndian: boolean }
export const IMPLICIT_LE = '1.2.840.10008.1.2';
export const EXPLICIT_LE = '1.2.840.10008.1.2.1';
export const EXPLICIT_BE = '1.2.840.10008.1.2.2';
export const DEFLATED = '1.2.840.10008.1.2.1.99';
export const JPEG_BASELINE = '1.2.840.10008.1.2.4.50';

const LONG = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);
const SIZES: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, AT: 4 };

class Out {
  parts: Buffer[] = [];
  push(b: Uint8Array | Buffer) { this.parts.push(Buffer.from(b)); }
  bytes(): Buffer { return Buffer.concat(this.parts); }
}

function u16(n: number, le: boolean) { const b = Buffer.alloc(2); le ? b.writeUInt16LE(n) : b.writeUInt16BE(n); return b; }
function u32(n: number, le: boolean) { const b = Buffer.alloc(4); le ? b.writeUInt32LE(n >>> 0) : b.writeUInt32BE(n >>> 0); return b; }
function tagBytes(tag: number, le: boolean) { return Buffer.concat([u16(tag >>> 16, le), u16(tag & 0xffff, le)]); }

export function valueBytes(el: El, s: Syntax): Buffer {
  const v = el.value;
  if (v === undefined) return Buffer.alloc(0);
  let b: Buffer;
  if (typeof v === 'string') b = Buffer.from(v, 'latin1');
  else if (v instanceof Uint8Array) b = Buffer.from(v);
  else {
    const size = SIZES[el.vr];
    b = Buffer.alloc(v.length * size);
    v.forEach((n, i) => {
      const p = i * size;
      const le = s.littleEndian;
      switch (el.vr) {
        case 'US': le ? b.writeUInt16LE(n, p) : b.writeUInt16BE(n, p); break;
        case 'SS': le ? b.writeInt16LE(n, p) : b.writeInt16BE(n, p); break;
        case 'UL': le ? b.writeUInt32LE(n, p) : b.writeUInt32BE(n, p); break;
        case 'SL': le ? b.writeInt32LE(n, p) : b.writeInt32BE(n, p); break;
        case 'FL': le ? b.writeFloatLE(n, p) : b.writeFloatBE(n, p); break;
        case 'FD': le ? b.writeDoubleLE(n, p) : b.writeDoubleBE(n, p); break;
        case 'AT': b.set(tagBytes(n, le), p); break;
        default: throw new Error(`no numeric encoding for ${el.vr}`);
      }
    });
  }
  if (b.length % 2 === 1 && !el.noPad) b = Buffer.concat([b, Buffer.from([el.vr === 'UI' || el.vr === 'OB' || el.vr === 'UN' ? 0 : 0x20])]);
  return b;
}

function header(out: Out, tag: number, vr: string, length: number, s: Syntax) {
  out.push(tagBytes(tag, s.littleEndian));
  if (!s.explicit) { out.push(u32(length, s.littleEndian)); return; }
  out.push(Buffer.from(vr, 'latin1'));
  if (LONG.has(vr)) { out.push(Buffer.alloc(2)); out.push(u32(length, s.littleEndian)); }
  else out.push(u16(length, s.littleEndian));
}

export function encodeDataSet(els: El[], s: Syntax): Buffer {
  const out = new Out();
  for (const el of els) writeElement(out, el, s);
  return out.bytes();
}

function writeElement(out: Out, el: El, s: Syntax) {
  const le = s.littleEndian;
  if (el.items) {
    const body = new Out();
    for (const item of el.items) {
      const inner = encodeDataSet(item, s);
      body.push(tagBytes(0xfffee000, le));
      body.push(u32(el.undefinedLength ? 0xffffffff : inner.length, le));
      body.push(inner);
      if (el.undefinedLength) { body.push(tagBytes(0xfffee00d, le)); body.push(u32(0, le)); }
    }
    if (el.undefinedLength) { body.push(tagBytes(0xfffee0dd, le)); body.push(u32(0, le)); }
    const b = body.bytes();
    header(out, el.tag, el.vr, el.declaredLength ?? (el.undefinedLength ? 0xffffffff : b.length), s);
    out.push(b);
    return;
  }
  if (el.fragments) {
    header(out, el.tag, el.vr, 0xffffffff, s);
    out.push(tagBytes(0xfffee000, le)); out.push(u32(0, le)); // empty basic offset table
    for (const f of el.fragments) { out.push(tagBytes(0xfffee000, le)); out.push(u32(f.length, le)); out.push(f); }
    out.push(tagBytes(0xfffee0dd, le)); out.push(u32(0, le));
    return;
  }
  const v = valueBytes(el, s);
  header(out, el.tag, el.vr, el.declaredLength ?? v.length, s);
  out.push(v);
}

export interface FileOpts {
  ts?: string;
  preamble?: boolean;
  meta?: boolean;
  sopClassUid?: string;
}

/** A whole file: preamble + DICM + file meta (explicit VR LE) + data set in the transfer syntax. */
export function dicomFile(els: El[], opts: FileOpts = {}): Buffer {
  const ts = opts.ts ?? EXPLICIT_LE;
  const s: Syntax = { explicit: ts !== IMPLICIT_LE, littleEndian: ts !== EXPLICIT_BE };
  let data = encodeDataSet(els, s);
  if (ts === DEFLATED) data = deflateRawSync(data);
  if (opts.meta === false) return data;
  const sop = els.find((e) => e.tag === 0x00080018)?.value;
  const metaBody = encodeDataSet([
    { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
    { tag: 0x00020002, vr: 'UI', value: opts.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2' },
    { tag: 0x00020003, vr: 'UI', value: typeof sop === 'string' ? sop : '1.2.3' },
    { tag: 0x00020010, vr: 'UI', value: ts },
    { tag: 0x00020012, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777' },
  ], { explicit: true, littleEndian: true });
  const groupLength = encodeDataSet([{ tag: 0x00020000, vr: 'UL', value: [metaBody.length] }], { explicit: true, littleEndian: true });
  const pre = opts.preamble === false ? Buffer.alloc(0) : Buffer.concat([Buffer.alloc(128), Buffer.from('DICM')]);
  return Buffer.concat([pre, groupLength, metaBody, data]);
}

/** A typical small CT instance's elements (sorted), with the given overrides/additions. */
export function ctElements(over: Partial<Record<string, El | null>> = {}, extra: El[] = []): El[] {
  const base: Record<string, El> = {
    charset: { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 100' },
    sopClass: { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
    sop: { tag: 0x00080018, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.3.1' },
    studyDate: { tag: 0x00080020, vr: 'DA', value: '20200131' },
    acqDate: { tag: 0x00080022, vr: 'DA', value: '20200201' },
    modality: { tag: 0x00080060, vr: 'CS', value: 'CT' },
    patientName: { tag: 0x00100010, vr: 'PN', value: 'Doe^John' },
    patientId: { tag: 0x00100020, vr: 'LO', value: 'LIDC-IDRI-0001' },
    thickness: { tag: 0x00180050, vr: 'DS', value: '2.5' },
    study: { tag: 0x0020000d, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.1' },
    series: { tag: 0x0020000e, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.2' },
    instance: { tag: 0x00200013, vr: 'IS', value: '7' },
    position: { tag: 0x00200032, vr: 'DS', value: '-125.5\\-130\\-17.5' },
    orientation: { tag: 0x00200037, vr: 'DS', value: '1\\0\\0\\0\\1\\0' },
    rows: { tag: 0x00280010, vr: 'US', value: [4] },
    columns: { tag: 0x00280011, vr: 'US', value: [4] },
    spacing: { tag: 0x00280030, vr: 'DS', value: '0.703125\\0.69' },
    bits: { tag: 0x00280100, vr: 'US', value: [16] },
    pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(32).map((_, i) => i) },
  };
  for (const [k, v] of Object.entries(over)) {
    if (v === null) delete base[k];
    else if (v) base[k] = v;
  }
  return [...Object.values(base), ...extra].sort((a, b) => (a.tag >>> 0) - (b.tag >>> 0));
}
