/**
 * Element values → the DICOM JSON model (PS3.18 Annex F). Text VRs are decoded per the Specific
 * Character Set in force (a sequence item may carry its own); numbers become JSON numbers;
 * binary values up to INLINE_LIMIT bytes are inlined as base64, larger ones get a BulkDataURI
 * `bulk:<tag>?offset=N&length=M` (offset in the file, or in the inflated data set when deflated); so does any value
 * over parse.ts's BULK_LIMIT (64 KiB), whatever its VR: the reader skips those without reading them.
 */
import { decodeTextAt, latin1At, parseCharset } from './charset';
import { tagKey } from './dictionary';
import type { Element } from './parse';
import { PIXEL_DATA_TAGS } from './parse';
import type { DicomJson, DicomJsonElement } from './types';

export const INLINE_LIMIT = 64;
const NUMBER_SIZES: Record<string, number> = { US: 2, SS: 2, UL: 4, SL: 4, FL: 4, FD: 8, SV: 8, UV: 8 };

/** How a VR's value becomes JSON (looked up once per element instead of testing several sets). */
const enum Kind { Binary = 1, Number, AT, DS, IS, AsciiMulti, AsciiSingle, TextMulti, TextSingle, PN }
const KINDS: Record<string, Kind> = {
  OB: Kind.Binary, OD: Kind.Binary, OF: Kind.Binary, OL: Kind.Binary, OV: Kind.Binary, OW: Kind.Binary, UN: Kind.Binary,
  US: Kind.Number, SS: Kind.Number, UL: Kind.Number, SL: Kind.Number, FL: Kind.Number, FD: Kind.Number, SV: Kind.Number, UV: Kind.Number,
  AT: Kind.AT, DS: Kind.DS, IS: Kind.IS,
  // ASCII repertoire, backslash-separated values
  AE: Kind.AsciiMulti, AS: Kind.AsciiMulti, CS: Kind.AsciiMulti, DA: Kind.AsciiMulti, DT: Kind.AsciiMulti, TM: Kind.AsciiMulti, UI: Kind.AsciiMulti,
  UR: Kind.AsciiSingle,
  // decoded per Specific Character Set
  SH: Kind.TextMulti, LO: Kind.TextMulti, UC: Kind.TextMulti, PN: Kind.PN,
  ST: Kind.TextSingle, LT: Kind.TextSingle, UT: Kind.TextSingle,
};

export interface JsonContext {
  buf: Uint8Array;
  warn: (w: string) => void;
}

/** What the value readers need, made once per data set: the bytes as a Buffer and a DataView over them. */
interface Reader {
  buf: Buffer;
  dv: DataView;
  warn: (w: string) => void;
}

function readerOf(ctx: JsonContext): Reader {
  const b = ctx.buf;
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  return { buf, dv: new DataView(b.buffer, b.byteOffset, b.byteLength), warn: ctx.warn };
}

/** Parses a DS value robustly: spaces, signs, exponents, padding and NULs; null when not a number. */
export function parseDecimalString(s: string): number | null {
  const t = (s.indexOf('\0') === -1 ? s : s.replace(/\0/g, '')).trim();
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
  return addElements(elements, readerOf(ctx), inheritedCharset, out);
}

function addElements(elements: Element[], r: Reader, inheritedCharset: string, out: DicomJson): DicomJson {
  let charset = inheritedCharset;
  for (const el of elements) {
    if (el.tag === 0x00080005 && el.length > 0 && !el.bulk) {
      const raw = latin1At(r.buf, el.valueOffset, el.valueOffset + el.length).replace(/[\s\0]+$/, '');
      const parsed = charsetOf(raw);
      if (parsed.error) r.warn(parsed.error);
      charset = parsed.charset;
    }
    const key = tagKey(el.tag);
    out[key] = elementToJson(el, r, charset, key);
  }
  return out;
}

/** The last Specific Character Set value seen and what it means (files of a run nearly always repeat it). */
let lastCharset: { raw: string; parsed: ReturnType<typeof parseCharset> } | undefined;

function charsetOf(raw: string): ReturnType<typeof parseCharset> {
  if (lastCharset?.raw !== raw) lastCharset = { raw, parsed: parseCharset(raw) };
  return lastCharset.parsed;
}

function elementToJson(el: Element, r: Reader, charset: string, key: string): DicomJsonElement {
  if (el.items) {
    const json: DicomJsonElement = { vr: 'SQ' };
    if (el.items.length > 0) json.Value = el.items.map((item) => addElements(item, r, charset, {}));
    return json;
  }
  if (PIXEL_DATA_TAGS.has(el.tag) || el.length < 0) {
    const length = el.length >= 0 ? `&length=${el.length}` : '';
    return { vr: el.vr === 'UN' ? 'OW' : el.vr, BulkDataURI: `bulk:${key}?offset=${el.fileOffset ?? el.valueOffset}${length}` };
  }
  // A value over BULK_LIMIT (any VR, text included) was never read: where it is, not what it says.
  if (el.bulk) return { vr: el.vr, BulkDataURI: `bulk:${key}?offset=${el.fileOffset ?? el.valueOffset}&length=${el.length}` };
  const vr = el.vr;
  if (el.length === 0) return { vr };
  // The value's bytes, clamped to the buffer as subarray() would.
  const size = r.buf.length;
  const start = Math.min(el.valueOffset, size);
  const end = Math.min(el.valueOffset + el.length, size);
  switch (KINDS[vr]) {
    case Kind.Binary: {
      if (el.length <= INLINE_LIMIT) return { vr, InlineBinary: littleEndianBytes(r.buf.subarray(start, end), vr, el.littleEndian).toString('base64') };
      return { vr, BulkDataURI: `bulk:${key}?offset=${el.fileOffset ?? el.valueOffset}&length=${el.length}` };
    }
    case Kind.Number: return numbers(r, start, end, vr, el.littleEndian, key);
    case Kind.AT: {
      const values: string[] = [];
      for (let p = start; p + 4 <= end; p += 4) {
        values.push(tagKey(((r.dv.getUint16(p, el.littleEndian) << 16) | r.dv.getUint16(p + 2, el.littleEndian)) >>> 0));
      }
      return values.length ? { vr, Value: values } : { vr };
    }
    case Kind.DS:
    case Kind.IS: return decimals(latin1At(r.buf, start, end), vr, r.warn, key);
    case Kind.AsciiMulti: return strings(vr, splitValues(latin1At(r.buf, start, end)));
    case Kind.AsciiSingle: return strings(vr, [trimEnd(latin1At(r.buf, start, end))]);
    case Kind.TextMulti:
    case Kind.PN: return strings(vr, splitValues(decodeTextAt(r.buf, start, end, charset, vr, r.warn)));
    case Kind.TextSingle: return strings(vr, [trimEnd(decodeTextAt(r.buf, start, end, charset, vr, r.warn))]);
    default: return { vr };
  }
}

function numbers(r: Reader, start: number, end: number, vr: string, le: boolean, key: string): DicomJsonElement {
  const size = NUMBER_SIZES[vr];
  const length = end - start;
  let values: number[];
  if (length === size) {
    values = [readNumber(r.dv, start, vr, le)]; // the usual single value: no growing array
  } else {
    values = [];
    for (let p = start; p + size <= end; p += size) values.push(readNumber(r.dv, p, vr, le));
  }
  if (length % size !== 0) r.warn(`${key} (${vr}) has length ${length}, not a multiple of ${size}`);
  return values.length ? { vr, Value: values } : { vr };
}

function decimals(text: string, vr: string, warn: (w: string) => void, key: string): DicomJsonElement {
  const values = text.indexOf('\\') === -1 ? [decimal(text, vr, warn, key)] : text.split('\\').map((p) => decimal(p, vr, warn, key));
  return values.some((v) => v !== null) ? { vr, Value: values } : { vr };
}

function decimal(p: string, vr: string, warn: (w: string) => void, key: string): number | null {
  const n = vr === 'DS' ? parseDecimalString(p) : parseIntegerString(p);
  if (n === null && p.replace(/[\s\0]/g, '') !== '') warn(`${key} (${vr}) value '${p.trim()}' is not a number`);
  return n;
}

/** Values of a string VR ('' is null; PN split into its groups), made in place in `parts` (one array, not two). */
function strings(vr: string, parts: string[]): DicomJsonElement {
  const values: (string | Record<string, string> | null)[] = parts;
  let anyValue = false;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    const v = p === '' ? null : vr === 'PN' ? personName(p) : p;
    values[i] = v;
    if (v !== null) anyValue = true;
  }
  return anyValue ? { vr, Value: values } : { vr };
}

/** Backslash-separated values, each without leading and trailing spaces and NULs (a new array, trimmed in place). */
function splitValues(text: string): string[] {
  if (text.indexOf('\\') === -1) return [trimBoth(text)];
  const parts = text.split('\\');
  for (let i = 0; i < parts.length; i++) parts[i] = trimBoth(parts[i]);
  return parts;
}

function isPad(code: number): boolean {
  return code === 0x20 || code === 0;
}

/** s.replace(/^[ \0]+|[ \0]+$/g, '') without a regex. */
function trimBoth(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && isPad(s.charCodeAt(a))) a++;
  while (b > a && isPad(s.charCodeAt(b - 1))) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** s.replace(/[ \0]+$/, '') without a regex. */
function trimEnd(s: string): string {
  let b = s.length;
  while (b > 0 && isPad(s.charCodeAt(b - 1))) b--;
  return b === s.length ? s : s.slice(0, b);
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
