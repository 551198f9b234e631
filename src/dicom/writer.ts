/**
 * Writes DICOM Part 10 files from a plain list of elements. Used by the synthetic dataset generator
 * and by tests that need fixtures in every transfer syntax; it is not used on the ingest path.
 *
 * Conventions for values:
 * - text VRs take a string, a number (DS/IS), an array (joined with '\') or pre-encoded bytes
 *   (Uint8Array, e.g. for character-set fixtures); strings are encoded Latin-1;
 * - US/SS/UL/SL/FL/FD/SV/UV take a number or number[]; AT takes 'GGGGEEEE' or a number;
 * - OB/OW/OF/OL/OD/OV/UN take bytes in little-endian order (OW may also be number[] of 16-bit words);
 *   big endian output swaps the words of OW/OF/OL/OD/OV, never OB/UN;
 * - SQ takes El[][] (one element list per item).
 */
import * as zlib from 'zlib';

export type TransferSyntax = 'implicit-le' | 'explicit-le' | 'explicit-be' | 'deflated-le';

export const TRANSFER_SYNTAX_UID: Record<TransferSyntax, string> = {
  'implicit-le': '1.2.840.10008.1.2',
  'explicit-le': '1.2.840.10008.1.2.1',
  'explicit-be': '1.2.840.10008.1.2.2',
  'deflated-le': '1.2.840.10008.1.2.1.99',
};

export interface El {
  /** 'GGGGEEEE' hex */
  tag: string;
  vr: string;
  /** El[][] for SQ items */
  value: string | number | number[] | string[] | Uint8Array | El[][];
  /**
   * Encapsulated Pixel Data: `value` holds the fragment items and the Sequence Delimitation Item as they are
   * (little endian), written after a header of undefined length.
   */
  encapsulated?: boolean;
}

export interface WriteOptions {
  transferSyntax: TransferSyntax;
  /** Default true: 128 zero bytes + 'DICM' + file meta group. False: the bare data set only. */
  preamble?: boolean;
  /** Write sequences and items with undefined length and delimitation items. */
  undefinedLengthSequences?: boolean;
  /** Media Storage SOP Class UID; defaults to the data set's SOP Class UID (0008,0016). */
  sopClassUid?: string;
  /**
   * The Transfer Syntax UID the file meta group names, when it is not the one of `transferSyntax`: an encapsulated
   * (compressed) syntax, whose data set is explicit VR little endian with encapsulated Pixel Data.
   */
  transferSyntaxUid?: string;
}

/** Our implementation identity in the file meta group (2.25 = UUID-derived root, no registration needed). */
export const IMPLEMENTATION_CLASS_UID = '2.25.180305792541498124457361532410541846911';
export const IMPLEMENTATION_VERSION_NAME = 'DICOMFLOW_01';

const TEXT_VRS = new Set(['AE', 'AS', 'CS', 'DA', 'DS', 'DT', 'IS', 'LO', 'LT', 'PN', 'SH', 'ST', 'TM', 'UC', 'UI', 'UR', 'UT']);
/** Explicit VR with 2 reserved bytes and a 4-byte length (PS3.5 7.1.2). */
const LONG_LENGTH_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
/** Word size of binary VRs, for byte swapping in big endian. */
const WORD_SIZE: Record<string, number> = { US: 2, SS: 2, OW: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, AT: 2, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8 };

const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;

interface Encoding {
  explicit: boolean;
  bigEndian: boolean;
  undefinedLengthSequences: boolean;
}

export function writeDicom(dataset: El[], opts: WriteOptions): Buffer {
  const enc: Encoding = {
    explicit: opts.transferSyntax !== 'implicit-le',
    bigEndian: opts.transferSyntax === 'explicit-be',
    undefinedLengthSequences: !!opts.undefinedLengthSequences,
  };
  const meta = dataset.filter((el) => tagNumber(el.tag) >>> 16 === 0x0002);
  const body = dataset.filter((el) => tagNumber(el.tag) >>> 16 !== 0x0002);
  let bodyBytes = encodeDataset(body, enc);
  if (opts.transferSyntax === 'deflated-le') bodyBytes = zlib.deflateRawSync(bodyBytes);
  if (opts.preamble === false) return bodyBytes;
  const metaBytes = encodeFileMeta(meta, body, opts);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), metaBytes, bodyBytes]);
}

/** File meta group: always explicit VR little endian, (0002,0000) = byte length of what follows it. */
function encodeFileMeta(callerMeta: El[], body: El[], opts: WriteOptions): Buffer {
  const sopClass = opts.sopClassUid ?? stringValue(body, '00080016');
  const sopInstance = stringValue(body, '00080018');
  const defaults: El[] = [
    { tag: '00020001', vr: 'OB', value: Uint8Array.from([0, 1]) },
    { tag: '00020010', vr: 'UI', value: opts.transferSyntaxUid ?? TRANSFER_SYNTAX_UID[opts.transferSyntax] },
    { tag: '00020012', vr: 'UI', value: IMPLEMENTATION_CLASS_UID },
    { tag: '00020013', vr: 'SH', value: IMPLEMENTATION_VERSION_NAME },
  ];
  if (sopClass) defaults.push({ tag: '00020002', vr: 'UI', value: sopClass });
  if (sopInstance) defaults.push({ tag: '00020003', vr: 'UI', value: sopInstance });
  // Caller-given meta elements win over the defaults; the group length is always computed.
  const byTag = new Map<number, El>();
  for (const el of [...defaults, ...callerMeta]) byTag.set(tagNumber(el.tag), el);
  byTag.delete(0x00020000);
  const le: Encoding = { explicit: true, bigEndian: false, undefinedLengthSequences: false };
  const rest = encodeDataset([...byTag.values()], le);
  const groupLength = encodeElement({ tag: '00020000', vr: 'UL', value: rest.length }, le);
  return Buffer.concat([groupLength, rest]);
}

function encodeDataset(elements: El[], enc: Encoding): Buffer {
  const sorted = [...elements].sort((a, b) => tagNumber(a.tag) - tagNumber(b.tag));
  return Buffer.concat(sorted.map((el) => encodeElement(el, enc)));
}

function encodeElement(el: El, enc: Encoding): Buffer {
  const tag = tagNumber(el.tag);
  const vr = el.vr.toUpperCase();
  if (vr === 'SQ') return encodeSequence(tag, el.value as El[][], enc);
  if (el.encapsulated) {
    if (!(el.value instanceof Uint8Array) || !enc.explicit || enc.bigEndian) throw new Error(`${hex8(tag)}: encapsulated Pixel Data needs raw bytes and explicit VR little endian`);
    return Buffer.concat([elementHeader(tag, vr, UNDEFINED_LENGTH, enc), Buffer.from(el.value)]);
  }
  const value = valueBytes(el, vr, enc);
  return Buffer.concat([elementHeader(tag, vr, value.length, enc), value]);
}

function encodeSequence(tag: number, items: El[][], enc: Encoding): Buffer {
  if (!Array.isArray(items)) throw new Error(`SQ ${hex8(tag)}: value must be El[][]`);
  const undef = enc.undefinedLengthSequences;
  const parts: Buffer[] = [];
  for (const item of items) {
    const content = encodeDataset(item, enc);
    parts.push(tagAndLength(ITEM, undef ? UNDEFINED_LENGTH : content.length, enc), content);
    if (undef) parts.push(tagAndLength(ITEM_DELIMITATION, 0, enc));
  }
  if (undef) parts.push(tagAndLength(SEQUENCE_DELIMITATION, 0, enc));
  const content = Buffer.concat(parts);
  return Buffer.concat([elementHeader(tag, 'SQ', undef ? UNDEFINED_LENGTH : content.length, enc), content]);
}

/** Item and delimitation tags: tag + 4-byte length, never a VR. */
function tagAndLength(tag: number, length: number, enc: Encoding): Buffer {
  const b = Buffer.alloc(8);
  writeTag(b, tag, enc);
  if (enc.bigEndian) b.writeUInt32BE(length, 4);
  else b.writeUInt32LE(length, 4);
  return b;
}

function elementHeader(tag: number, vr: string, length: number, enc: Encoding): Buffer {
  if (!enc.explicit) return tagAndLength(tag, length, enc);
  if (!/^[A-Z]{2}$/.test(vr)) throw new Error(`${hex8(tag)}: bad VR '${vr}'`);
  if (LONG_LENGTH_VRS.has(vr)) {
    const b = Buffer.alloc(12);
    writeTag(b, tag, enc);
    b.write(vr, 4, 'latin1');
    if (enc.bigEndian) b.writeUInt32BE(length, 8);
    else b.writeUInt32LE(length, 8);
    return b;
  }
  if (length > 0xffff) throw new Error(`${hex8(tag)} ${vr}: value of ${length} bytes does not fit a 2-byte length`);
  const b = Buffer.alloc(8);
  writeTag(b, tag, enc);
  b.write(vr, 4, 'latin1');
  if (enc.bigEndian) b.writeUInt16BE(length, 6);
  else b.writeUInt16LE(length, 6);
  return b;
}

function writeTag(b: Buffer, tag: number, enc: Encoding): void {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (enc.bigEndian) {
    b.writeUInt16BE(group, 0);
    b.writeUInt16BE(element, 2);
  } else {
    b.writeUInt16LE(group, 0);
    b.writeUInt16LE(element, 2);
  }
}

/** The value field, padded to even length. */
function valueBytes(el: El, vr: string, enc: Encoding): Buffer {
  const v = el.value;
  let bytes: Buffer;
  if (TEXT_VRS.has(vr)) {
    bytes = v instanceof Uint8Array ? Buffer.from(v) : Buffer.from(textValue(v, vr), 'latin1');
    return padEven(bytes, vr === 'UI' ? 0x00 : 0x20);
  }
  if (vr === 'AT') {
    const tags = (Array.isArray(v) ? v : [v]) as (string | number)[];
    bytes = Buffer.alloc(tags.length * 4);
    tags.forEach((t, i) => {
      const n = typeof t === 'string' ? tagNumber(t) : t;
      if (enc.bigEndian) {
        bytes.writeUInt16BE(n >>> 16, i * 4);
        bytes.writeUInt16BE(n & 0xffff, i * 4 + 2);
      } else {
        bytes.writeUInt16LE(n >>> 16, i * 4);
        bytes.writeUInt16LE(n & 0xffff, i * 4 + 2);
      }
    });
    return bytes;
  }
  if (v instanceof Uint8Array) {
    // Raw bytes in little-endian order; swap words for big endian.
    bytes = Buffer.from(v);
    const size = WORD_SIZE[vr];
    if (enc.bigEndian && size) bytes = swapWords(bytes, size);
    return padEven(bytes, 0x00);
  }
  const nums = (Array.isArray(v) ? v : [v]) as unknown[];
  if (!nums.every((n) => typeof n === 'number')) throw new Error(`${el.tag} ${vr}: expected number(s)`);
  const numberVr = vr === 'OW' ? 'US' : vr === 'OF' ? 'FL' : vr === 'OD' ? 'FD' : vr === 'OL' ? 'UL' : vr === 'OV' ? 'UV' : vr;
  return padEven(encodeNumbers(nums as number[], numberVr, enc.bigEndian, el.tag), 0x00);
}

function encodeNumbers(nums: number[], vr: string, be: boolean, tag: string): Buffer {
  const size = WORD_SIZE[vr];
  if (!size) throw new Error(`${tag}: VR ${vr} cannot hold numbers`);
  const b = Buffer.alloc(nums.length * size);
  nums.forEach((n, i) => {
    const o = i * size;
    switch (vr) {
      case 'US': be ? b.writeUInt16BE(n & 0xffff, o) : b.writeUInt16LE(n & 0xffff, o); break;
      case 'SS': be ? b.writeInt16BE(n, o) : b.writeInt16LE(n, o); break;
      case 'UL': be ? b.writeUInt32BE(n >>> 0, o) : b.writeUInt32LE(n >>> 0, o); break;
      case 'SL': be ? b.writeInt32BE(n, o) : b.writeInt32LE(n, o); break;
      case 'FL': be ? b.writeFloatBE(n, o) : b.writeFloatLE(n, o); break;
      case 'FD': be ? b.writeDoubleBE(n, o) : b.writeDoubleLE(n, o); break;
      case 'SV': be ? b.writeBigInt64BE(BigInt(n), o) : b.writeBigInt64LE(BigInt(n), o); break;
      case 'UV': be ? b.writeBigUInt64BE(BigInt(n), o) : b.writeBigUInt64LE(BigInt(n), o); break;
      default: throw new Error(`${tag}: VR ${vr} cannot hold numbers`);
    }
  });
  return b;
}

function textValue(v: El['value'], vr: string): string {
  const parts = (Array.isArray(v) ? v : [v]) as unknown[];
  return parts
    .map((p) => {
      if (typeof p === 'number') return vr === 'DS' ? formatDS(p) : String(Math.trunc(p));
      if (typeof p === 'string') return p;
      throw new Error(`text VR ${vr}: unsupported value ${typeof p}`);
    })
    .join('\\');
}

/** A decimal string of at most 16 characters (PS3.5 DS), without float noise like 0.30000000000000004. */
export function formatDS(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`DS cannot hold ${n}`);
  let s = String(Number(n.toPrecision(12)));
  for (let p = 11; s.length > 16 && p > 0; p--) s = String(Number(n.toPrecision(p)));
  return s;
}

function padEven(b: Buffer, pad: number): Buffer {
  return b.length % 2 === 0 ? b : Buffer.concat([b, Buffer.from([pad])]);
}

function swapWords(b: Buffer, size: number): Buffer {
  const out = Buffer.from(b);
  if (out.length % size !== 0) return out;
  if (size === 2) return out.swap16();
  if (size === 4) return out.swap32();
  return out.swap64();
}

function stringValue(els: El[], tag: string): string | undefined {
  const el = els.find((e) => e.tag.toUpperCase() === tag);
  if (!el) return undefined;
  if (typeof el.value === 'string') return el.value;
  if (el.value instanceof Uint8Array) return Buffer.from(el.value).toString('latin1').replace(/[\0 ]+$/, '');
  return undefined;
}

function tagNumber(tag: string): number {
  if (!/^[0-9a-fA-F]{8}$/.test(tag)) throw new Error(`bad tag '${tag}': expected 8 hex digits`);
  return parseInt(tag, 16) >>> 0;
}

function hex8(tag: number): string {
  return tag.toString(16).toUpperCase().padStart(8, '0');
}
