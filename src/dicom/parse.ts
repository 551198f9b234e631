/**
 * A small, bounds-checked DICOM element walker. Used instead of dicom-parser's data set walk
 * (checked with dicom-parser 1.8: a file cut inside implicit-VR Pixel Data parses with no error or
 * warning; a cut explicit-VR file throws a plain object "buffer overrun" naming no tag; a 300-byte
 * head of a file parses "fine", so a partial read cannot be told from a short file; an unknown
 * private undefined-length sequence in implicit VR is not read as a sequence) because we need: (1) "need more bytes" vs "truncated" told apart while reading only a file's head,
 * (2) every length checked against the whole file's size in implicit and explicit VR, with offsets
 * in the messages, (3) the dictionary's VRs (private creators included) for implicit VR and
 * sequence detection of unknown private tags, (4) a nesting limit and errors as values, never
 * thrown strings. It only locates elements; json.ts turns them into values.
 */
import { hex4, vrOf } from './dictionary';

export interface Element {
  tag: number;
  vr: string;
  /** Offset of the element's header in the stream. */
  offset: number;
  valueOffset: number;
  /** Value length; -1 when undefined (sequence or encapsulated Pixel Data). */
  length: number;
  /** Items of a sequence. */
  items?: Element[][];
  /** Set for encapsulated (fragmented) Pixel Data. */
  encapsulated?: boolean;
  /** Byte order of the value (an explicit UN of undefined length switches to implicit VR LE). */
  littleEndian: boolean;
  /** The value is longer than BULK_LIMIT: never decoded (nor read, unless already held), kept as a BulkDataURI. */
  bulk?: boolean;
  /** The value's offset in the file, set when values before it were skipped (the stream has holes). */
  fileOffset?: number;
}

/** Values longer than this (other than sequences) are not read: a BulkDataURI names them (PS3.18 F.2.7). */
export const BULK_LIMIT = 64 * 1024;
/**
 * A header of many values each under BULK_LIMIT is bounded too: once this much of it is held, values over
 * SMALL_VALUE bytes are skipped like big ones; and a header whose held part passes HEADER_LIMIT (no real one comes
 * near) is not read further: a PARSE_ERROR.
 */
export const HEADER_BUDGET = 8 * 1024 * 1024;
const SMALL_VALUE = 256;
export const HEADER_LIMIT = 64 * 1024 * 1024;

/**
 * A value over BULK_LIMIT, at `at` in the stream held, that is not held whole: the reader leaves its `length` bytes
 * out of the stream (a hole) and reads on after it, so a header never holds a big value in memory.
 */
export class SkipValue {
  constructor(public at: number, public length: number) {}
}

/** A value left out of the stream: at `at` (in stream offsets) the file had `length` more bytes. */
export interface Hole {
  at: number;
  length: number;
}

export class ParseFailure {
  constructor(public code: 'PARSE_ERROR' | 'TRUNCATED', public message: string) {}
}
/** The head we hold ends before the header does: read at least `bytes` bytes and try again. */
export class NeedMore {
  constructor(public bytes: number) {}
}

export interface Syntax {
  littleEndian: boolean;
  explicitVr: boolean;
}

export const PIXEL_DATA_TAGS = new Set([0x7fe00010, 0x7fe00008, 0x7fe00009]);
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQ_END = 0xfffee0dd;
const MAX_DEPTH = 32;
export const KNOWN_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UR', 'UT', 'UN', 'SV', 'UV']);

/**
 * Explicit VRs by their two bytes, both 'A'..'Z': index (b0 - 65) * 26 + (b1 - 65). Reading the VR is then a table
 * lookup giving the same (interned) string every time, instead of a new string and a Set lookup per element.
 */
const VR_TABLE: string[] = new Array(26 * 26).fill('');
for (const vr of KNOWN_VRS) VR_TABLE[(vr.charCodeAt(0) - 65) * 26 + (vr.charCodeAt(1) - 65)] = vr;

/** The known VR whose two characters are at buf[pos], buf[pos + 1], or '' (both bytes must be held). */
export function vrAt(buf: Uint8Array, pos: number): string {
  const a = buf[pos] - 65;
  const b = buf[pos + 1] - 65;
  if (a < 0 || a >= 26 || b < 0 || b >= 26) return '';
  return VR_TABLE[a * 26 + b];
}

export function tagText(tag: number): string {
  return `(${hex4(tag >>> 16)},${hex4(tag & 0xffff)})`;
}

interface Ctx extends Syntax {
  buf: Uint8Array;
  dv: DataView;
  /** Size of the whole stream (the file, or the inflated data set), holes left out. */
  size: number;
  /** Values left out of the stream, in stream order; undefined when none (the usual case). */
  holes: Hole[] | undefined;
}

export function makeCtx(buf: Uint8Array, size: number, syntax: Syntax, holes?: Hole[]): Ctx {
  // Fields listed (not spread from `syntax`): every context then has the same shape, and no spread per file.
  return {
    littleEndian: syntax.littleEndian,
    explicitVr: syntax.explicitVr,
    buf,
    size,
    dv: new DataView(buf.buffer, buf.byteOffset, buf.byteLength),
    holes: holes && holes.length > 0 ? holes : undefined,
  };
}

/** Where `length` bytes of the file from stream offset `start` end in the stream: holes inside them are left out. */
function endAfter(holes: Hole[], start: number, length: number): number {
  let end = start + length;
  for (const h of holes) {
    if (h.at < start) continue;
    if (h.at >= end) break;
    end -= h.length;
    if (end < h.at) throw new ParseFailure('PARSE_ERROR', `a value of ${h.length} bytes runs past the end of its item (offset ${end})`);
  }
  return end;
}

/** The file offset of stream offset `pos`. */
export function fileOffsetOf(holes: Hole[] | undefined, pos: number): number {
  let offset = pos;
  if (holes) for (const h of holes) if (h.at < pos) offset += h.length;
  return offset;
}

function isHole(holes: Hole[], at: number): boolean {
  for (const h of holes) if (h.at === at) return true;
  return false;
}

function need(c: Ctx, end: number): void {
  if (end > c.buf.length) throw new NeedMore(end);
}
function u16(c: Ctx, pos: number): number {
  return c.dv.getUint16(pos, c.littleEndian);
}
function u32(c: Ctx, pos: number): number {
  return c.dv.getUint32(pos, c.littleEndian);
}
function tagAt(c: Ctx, pos: number): number {
  return ((u16(c, pos) << 16) | u16(c, pos + 2)) >>> 0;
}

export interface DataSetResult {
  elements: Element[];
  /** Offset just after the data set (after the item delimiter for a delimited item). */
  end: number;
  /** Top level only: the Pixel Data element where reading stopped. */
  pixelData?: Element;
}

export interface DataSetOptions {
  /** Stop before the first element whose group is not this one (file meta group reading). */
  onlyGroup?: number;
  /** Stop at top-level Pixel Data without reading its value. */
  stopAtPixelData?: boolean;
}

/**
 * Reads elements from `pos` to `end`. A delimited item (undefined length) must end with an Item
 * Delimitation Item before `end`.
 */
export function parseDataSet(c: Ctx, pos: number, end: number, depth: number, delimited: boolean, opts: DataSetOptions = {}): DataSetResult {
  if (depth > MAX_DEPTH) throw new ParseFailure('PARSE_ERROR', `sequences nested deeper than ${MAX_DEPTH} levels at offset ${pos}`);
  const elements: Element[] = [];
  let creators: Map<number, string> | undefined; // (group << 8 | block) -> private creator, made at the first one
  for (;;) {
    if (pos === end) {
      if (!delimited) return { elements, end: pos };
      if (end >= c.size) throw new ParseFailure('TRUNCATED', `item of undefined length has no Item Delimitation Item before the end of the file (offset ${end})`);
      throw new ParseFailure('PARSE_ERROR', `item of undefined length has no Item Delimitation Item before the end of its sequence (offset ${end})`);
    }
    const headerEnd = pos + 8;
    if (headerEnd > end) {
      if (end >= c.size) throw new ParseFailure('TRUNCATED', `element header at offset ${pos} is cut by the end of the file (${c.size - pos} bytes left)`);
      throw new ParseFailure('PARSE_ERROR', `element header at offset ${pos} runs past the end of its item (offset ${end})`);
    }
    if (headerEnd > HEADER_LIMIT) throw new ParseFailure('PARSE_ERROR', `the header runs past ${HEADER_LIMIT / 2 ** 20} MiB of values before Pixel Data (offset ${pos}): not read further`);
    need(c, headerEnd);
    const tag = tagAt(c, pos);
    const group = tag >>> 16;
    if (group === 0xfffe) {
      if (tag === ITEM_END && delimited) return { elements, end: pos + 8 };
      throw new ParseFailure('PARSE_ERROR', `unexpected ${tagText(tag)} at offset ${pos} inside a data set`);
    }
    if (opts.onlyGroup !== undefined && group !== opts.onlyGroup) return { elements, end: pos };
    let vr: string;
    let length: number;
    let hdr: number;
    if (c.explicitVr) {
      vr = vrAt(c.buf, pos + 4);
      if (vr === '') throw new ParseFailure('PARSE_ERROR', `invalid VR '${printable(c.buf, pos + 4, 2)}' for ${tagText(tag)} at offset ${pos}`);
      if (LONG_VRS.has(vr)) {
        hdr = 12;
        if (pos + 12 > end) {
          if (end >= c.size) throw new ParseFailure('TRUNCATED', `element header of ${tagText(tag)} at offset ${pos} is cut by the end of the file`);
          throw new ParseFailure('PARSE_ERROR', `element header of ${tagText(tag)} at offset ${pos} runs past the end of its item (offset ${end})`);
        }
        need(c, pos + 12);
        length = u32(c, pos + 8);
      } else {
        hdr = 8;
        length = u16(c, pos + 6);
      }
    } else {
      hdr = 8;
      length = u32(c, pos + 4);
      const creator = group % 2 === 1 && (tag & 0xffff) > 0xff ? creators?.get((group << 8) | ((tag >>> 8) & 0xff)) : undefined;
      vr = vrOf(tag, creator);
    }
    const valueOffset = pos + hdr;
    const el: Element = { tag, vr, offset: pos, valueOffset, length, littleEndian: c.littleEndian };
    if (c.holes) el.fileOffset = fileOffsetOf(c.holes, valueOffset);
    const isPixelData = PIXEL_DATA_TAGS.has(tag);
    if (length === 0xffffffff) {
      el.length = -1;
      if (tag === 0x7fe00010) {
        el.encapsulated = true;
        if (!c.explicitVr) el.vr = 'OB';
        if (depth === 0 && opts.stopAtPixelData) return { elements, end: pos, pixelData: el };
        pos = walkFragments(c, valueOffset, end);
      } else if (vr === 'SQ' || vr === 'UN') {
        // An explicit UN of undefined length holds an implicit VR little endian sequence (PS3.5 6.2.2).
        const inner: Ctx = vr === 'UN' && c.explicitVr ? { littleEndian: true, explicitVr: false, buf: c.buf, size: c.size, dv: c.dv, holes: c.holes } : c;
        el.vr = 'SQ';
        const r = parseSequence(inner, valueOffset, end, depth, true);
        el.items = r.items;
        pos = r.end;
      } else {
        throw new ParseFailure('PARSE_ERROR', `${tagText(tag)} (VR ${vr}) at offset ${pos} has undefined length, allowed only for sequences and Pixel Data`);
      }
    } else {
      const valueEnd = c.holes ? endAfter(c.holes, valueOffset, length) : valueOffset + length;
      if (valueEnd > c.size) {
        throw new ParseFailure('TRUNCATED', `${tagText(tag)} at offset ${pos} declares ${length} bytes but only ${Math.max(0, c.size - valueOffset)} are left in the file`);
      }
      if (valueEnd > end) {
        throw new ParseFailure('PARSE_ERROR', `${tagText(tag)} at offset ${pos} declares ${length} bytes, past the end of its item (offset ${end})`);
      }
      if (isPixelData && depth === 0 && opts.stopAtPixelData) return { elements, end: pos, pixelData: el };
      if (vr === 'SQ' || (vr === 'UN' && !c.explicitVr && looksLikeSequence(c, valueOffset, length))) {
        el.vr = 'SQ';
        el.items = parseSequence(c, valueOffset, valueEnd, depth, false).items;
      } else if (length > BULK_LIMIT || (length > SMALL_VALUE && valueOffset > HEADER_BUDGET)) {
        // Too big to read: a BulkDataURI. Left out of the stream unless it is already held whole.
        el.bulk = true;
        if (valueEnd > c.buf.length && !(c.holes && isHole(c.holes, valueOffset))) throw new SkipValue(valueOffset, length);
      } else if (!isPixelData) {
        need(c, valueEnd);
      }
      pos = valueEnd;
    }
    if (group % 2 === 1 && (tag & 0xffff) >= 0x10 && (tag & 0xffff) <= 0xff && el.length > 0 && !el.bulk) {
      need(c, el.valueOffset + el.length);
      (creators ??= new Map()).set((group << 8) | (tag & 0xff), printable(c.buf, el.valueOffset, el.length).replace(/[\s\0]+$/, '').trim());
    }
    elements.push(el);
  }
}

/** An unknown implicit-VR element whose value starts with an Item tag is a (private) sequence. */
function looksLikeSequence(c: Ctx, pos: number, length: number): boolean {
  if (length < 8) return false;
  need(c, pos + 8);
  if (tagAt(c, pos) !== ITEM) return false;
  const itemLength = u32(c, pos + 4);
  return itemLength === 0xffffffff || itemLength <= length - 8;
}

function parseSequence(c: Ctx, pos: number, end: number, depth: number, delimited: boolean): { items: Element[][]; end: number } {
  const items: Element[][] = [];
  for (;;) {
    if (!delimited && pos === end) return { items, end: pos };
    if (pos + 8 > end) {
      if (end >= c.size) throw new ParseFailure('TRUNCATED', `sequence item header at offset ${pos} is cut by the end of the file`);
      throw new ParseFailure('PARSE_ERROR', `sequence item header at offset ${pos} runs past the end of its sequence (offset ${end})`);
    }
    need(c, pos + 8);
    const tag = tagAt(c, pos);
    const length = u32(c, pos + 4);
    if (tag === SEQ_END && delimited) return { items, end: pos + 8 };
    if (tag !== ITEM) throw new ParseFailure('PARSE_ERROR', `expected an Item (FFFE,E000) at offset ${pos}, found ${tagText(tag)}`);
    if (length === 0xffffffff) {
      const r = parseDataSet(c, pos + 8, end, depth + 1, true);
      items.push(r.elements);
      pos = r.end;
    } else {
      const itemEnd = c.holes ? endAfter(c.holes, pos + 8, length) : pos + 8 + length;
      if (itemEnd > c.size) throw new ParseFailure('TRUNCATED', `sequence item at offset ${pos} declares ${length} bytes but only ${Math.max(0, c.size - pos - 8)} are left in the file`);
      if (itemEnd > end) throw new ParseFailure('PARSE_ERROR', `sequence item at offset ${pos} declares ${length} bytes, past the end of its sequence (offset ${end})`);
      items.push(parseDataSet(c, pos + 8, itemEnd, depth + 1, false).elements);
      pos = itemEnd;
    }
  }
}

/**
 * One step over encapsulated Pixel Data: given the item header at `pos`, returns the offset of the
 * next header, or -(end offset) - 1 after the Sequence Delimitation Item. Throws ParseFailure.
 */
export function nextFragment(pos: number, tag: number, length: number, size: number, end: number): number {
  if (tag === SEQ_END) return -(pos + 8) - 1;
  if (tag !== ITEM) throw new ParseFailure('PARSE_ERROR', `expected a Pixel Data fragment (FFFE,E000) at offset ${pos}, found ${tagText(tag)}`);
  if (length === 0xffffffff) throw new ParseFailure('PARSE_ERROR', `Pixel Data fragment at offset ${pos} has undefined length`);
  const next = pos + 8 + length;
  if (next > size) throw new ParseFailure('TRUNCATED', `Pixel Data fragment at offset ${pos} declares ${length} bytes but only ${Math.max(0, size - pos - 8)} are left in the file`);
  if (next > end) throw new ParseFailure('PARSE_ERROR', `Pixel Data fragment at offset ${pos} runs past the end of its item (offset ${end})`);
  return next;
}

export function fragmentHeaderMissing(pos: number, size: number, end: number): ParseFailure {
  if (end >= size) return new ParseFailure('TRUNCATED', `encapsulated Pixel Data has no Sequence Delimitation Item before the end of the file (fragment header expected at offset ${pos}, file size ${size})`);
  return new ParseFailure('PARSE_ERROR', `encapsulated Pixel Data runs past the end of its item (offset ${end})`);
}

/** Walks encapsulated Pixel Data held in the buffer; returns the offset after its delimiter. */
export function walkFragments(c: Ctx, pos: number, end: number): number {
  for (;;) {
    if (pos + 8 > Math.min(end, c.size)) throw fragmentHeaderMissing(pos, c.size, end);
    need(c, pos + 8);
    const next = nextFragment(pos, tagAt(c, pos), u32(c, pos + 4), c.size, end);
    if (next < 0) return -next - 1;
    pos = next;
  }
}

export function printable(buf: Uint8Array, pos: number, n: number): string {
  let s = '';
  for (let i = pos; i < Math.min(buf.length, pos + n); i++) s += buf[i] >= 0x20 && buf[i] < 0x7f ? String.fromCharCode(buf[i]) : `\\x${buf[i].toString(16).padStart(2, '0')}`;
  return s;
}
