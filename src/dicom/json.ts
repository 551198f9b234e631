/**
 * Element values → the DICOM JSON model (PS3.18 Annex F). Text VRs are decoded per the Specific
 * Character Set in force (a sequence item may carry its own); numbers become JSON numbers;
 * binary values up to INLINE_LIMIT bytes are inlined as base64, larger ones get a BulkDataURI
 * `bulk:<tag>?offset=N&length=M` (offset in the file, or in the inflated data set when deflated).
 */
import { decodeAscii, decodeText, parseCharset } from './charset';
import { tagKey } from './dictionary';
import type { Element } from './parse';
import { PIXEL_DATA_TAGS } from './parse';
import type { DicomJson, DicomJsonElement } from './types';

export const INLINE_LIMIT = 64;
const TEXT_VRS = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);
const SINGLE_VALUED = new Set(['LT', 'ST', 'UT', 'UR']);
const STRING_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DT', 'TM', 'UI', 'SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'UR', 'PN']);
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN']);
const NUMBER_SIZES: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8 };

export interface JsonContext {
  buf: Uint8Array;
  warn: (w: string) => void;
}

/** Parses a DS value robustly: spaces, signs, exponents, padding and NULs; null when not a number. */
export function parseDecimalString(s: string): number | null {
  const t = s.replace(/\0/g, '').trim();
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return null;
  const n = Number(t);
  return Number.isFinite(n) ? n : null;
}

/** Parses an IS value (an integer, tolerating a zero fraction like "12.0"); null when not one. */
export function parseIntegerString(s: string): number | null {
  const n = parseDecimalString(s);
  return n !== null && Number.isInteger(n) ? n : null;
}

/**
 * Adds the elements to `out` (a new object by default), in order; a tag already there keeps its place and takes the
 * new value, exactly as `{ ...out, ...elementsToJson(elements) }` would, without copying the object.
 */
export function elementsToJson(elements: Element[], ctx: JsonContext, inheritedCharset: string, out: DicomJson = {}): DicomJson {
  let charset = inheritedCharset;
  for (const el of elements) {
    if (el.tag === 0x00080005 && el.length > 0) {
      const raw = decodeAscii(ctx.buf.subarray(el.valueOffset, el.valueOffset + el.length)).replace(/[\s\0]+$/, '');
      const parsed = parseCharset(raw);
      if (parsed.error) ctx.warn(parsed.error);
      charset = parsed.charset;
    }
    out[tagKey(el.tag)] = elementToJson(el, ctx, charset);
  }
  return out;
}

function elementToJson(el: Element, ctx: JsonContext, charset: string): DicomJsonElement {
  const key = tagKey(el.tag);
  if (el.items) {
    const json: DicomJsonElement = { vr: 'SQ' };
    if (el.items.length > 0) json.Value = el.items.map((item) => elementsToJson(item, ctx, charset));
    return json;
  }
  if (PIXEL_DATA_TAGS.has(el.tag) || el.length < 0) {
    const length = el.length >= 0 ? `&length=${el.length}` : '';
    return { vr: el.vr === 'UN' ? 'OW' : el.vr, BulkDataURI: `bulk:${key}?offset=${el.valueOffset}${length}` };
  }
  const bytes = ctx.buf.subarray(el.valueOffset, el.valueOffset + el.length);
  const vr = el.vr;
  if (el.length === 0) return { vr };
  if (BINARY_VRS.has(vr)) {
    if (el.length <= INLINE_LIMIT) return { vr, InlineBinary: littleEndianBytes(bytes, vr, el.littleEndian).toString('base64') };
    return { vr, BulkDataURI: `bulk:${key}?offset=${el.valueOffset}&length=${el.length}` };
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (vr in NUMBER_SIZES) {
    const size = NUMBER_SIZES[vr];
    const values: number[] = [];
    for (let p = 0; p + size <= bytes.length; p += size) values.push(readNumber(dv, p, vr, el.littleEndian));
    if (bytes.length % size !== 0) ctx.warn(`${key} (${vr}) has length ${bytes.length}, not a multiple of ${size}`);
    return values.length ? { vr, Value: values } : { vr };
  }
  if (vr === 'AT') {
    const values: string[] = [];
    for (let p = 0; p + 4 <= bytes.length; p += 4) {
      values.push(tagKey(((dv.getUint16(p, el.littleEndian) << 16) | dv.getUint16(p + 2, el.littleEndian)) >>> 0));
    }
    return values.length ? { vr, Value: values } : { vr };
  }
  if (vr === 'DS' || vr === 'IS') {
    const parts = decodeAscii(bytes).split('\\');
    const values = parts.map((p) => {
      const n = vr === 'DS' ? parseDecimalString(p) : parseIntegerString(p);
      if (n === null && p.replace(/[\s\0]/g, '') !== '') ctx.warn(`${key} (${vr}) value '${p.trim()}' is not a number`);
      return n;
    });
    return values.some((v) => v !== null) ? { vr, Value: values } : { vr };
  }
  if (STRING_VRS.has(vr)) {
    const text = TEXT_VRS.has(vr) ? decodeText(bytes, charset, vr, ctx.warn) : decodeAscii(bytes);
    const parts = SINGLE_VALUED.has(vr) ? [text.replace(/[ \0]+$/, '')] : text.split('\\').map((p) => p.replace(/^[ \0]+|[ \0]+$/g, ''));
    const values = parts.map((p) => (p === '' ? null : vr === 'PN' ? personName(p) : p));
    return values.some((v) => v !== null) ? { vr, Value: values } : { vr };
  }
  return { vr };
}

const WORD_SIZES: Record<string, number> = { OW: 2, OF: 4, OL: 4, OD: 8, OV: 8 };

/** InlineBinary is little endian (PS3.18 F.2.7): swap the words of big endian OW/OF/OL/OD/OV. */
function littleEndianBytes(bytes: Uint8Array, vr: string, le: boolean): Buffer {
  const out = Buffer.from(bytes);
  const size = WORD_SIZES[vr];
  if (le || !size || out.length % size !== 0) return out;
  for (let p = 0; p < out.length; p += size) out.subarray(p, p + size).reverse();
  return out;
}

function readNumber(dv: DataView, p: number, vr: string, le: boolean): number {
  switch (vr) {
    case 'US': return dv.getUint16(p, le);
    case 'SS': return dv.getInt16(p, le);
    case 'UL': return dv.getUint32(p, le);
    case 'SL': return dv.getInt32(p, le);
    case 'FL': return dv.getFloat32(p, le);
    case 'FD': return dv.getFloat64(p, le);
    case 'SV': return Number(dv.getBigInt64(p, le));
    default: return Number(dv.getBigUint64(p, le));
  }
}

/** 'Yamada^Tarou=山田^太郎=やまだ^たろう' → { Alphabetic, Ideographic, Phonetic } (empty groups left out). */
export function personName(value: string): Record<string, string> | null {
  const [alphabetic, ideographic, phonetic] = value.split('=').map((g) => g.replace(/[ \0]+$/, ''));
  const pn: Record<string, string> = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return Object.keys(pn).length ? pn : null;
}
