/**
 * A whole DICOM file as the writer's element list (src/dicom/writer.ts), for the export: every element of the data
 * set with its value as raw little-endian bytes (text as the bytes the file holds, so no character set is re-encoded),
 * sequences as item lists, Pixel Data byte for byte (encapsulated Pixel Data as its fragments). Read with the
 * ingest's own walker (src/dicom/parse.ts); implicit VR takes the dictionary's VRs, big endian values are swapped.
 */
import * as fs from 'fs';
import { inflateRawSync } from 'zlib';
import { TRANSFER_SYNTAX } from '../dicom/read';
import { makeCtx, parseDataSet, type Element } from '../dicom/parse';
import type { El } from '../dicom/writer';
import { hex4 } from '../dicom/dictionary';

export interface FileDataset {
  /** The data set, group 0002 left out. */
  elements: El[];
  /** The source's Transfer Syntax UID. */
  transferSyntaxUid: string;
  /** Pixel Data is encapsulated (compressed): the output keeps the transfer syntax. */
  encapsulated: boolean;
}

const WORD: Record<string, number> = { US: 2, SS: 2, OW: 2, UL: 4, SL: 4, FL: 4, OF: 4, OL: 4, FD: 8, OD: 8, SV: 8, UV: 8, OV: 8, AT: 2 };

export const tagHex = (tag: number): string => hex4(tag >>> 16) + hex4(tag & 0xffff);

export class UnreadableFile extends Error {}

/** Reads a whole file (as ingest placed it: a valid DICOM file). */
export function readFileDataset(file: string): FileDataset {
  return readDatasetBytes(fs.readFileSync(file), file);
}

export function readDatasetBytes(buf: Buffer, name = 'file'): FileDataset {
  const hasDicm = buf.length >= 132 && buf.toString('latin1', 128, 132) === 'DICM';
  let ts: string;
  let metaEnd: number;
  if (hasDicm || (buf.length >= 8 && buf[0] === 0x02 && buf[1] === 0x00)) {
    const meta = parseDataSet(makeCtx(buf, buf.length, { littleEndian: true, explicitVr: true }), hasDicm ? 132 : 0, buf.length, 0, false, { onlyGroup: 2 });
    const tsEl = meta.elements.find((e) => e.tag === 0x00020010);
    ts = tsEl ? buf.toString('latin1', tsEl.valueOffset, tsEl.valueOffset + tsEl.length).replace(/[\0\s]+$/, '') : TRANSFER_SYNTAX.implicitLittle;
    metaEnd = meta.end;
  } else if (buf.length >= 8 && buf[0] === 0x08 && buf[1] === 0x00) {
    // A bare data set (no preamble, no file meta), as ingest accepts it: explicit VR when a VR follows the tag.
    ts = /^[A-Z]{2}$/.test(buf.toString('latin1', 4, 6)) ? TRANSFER_SYNTAX.explicitLittle : TRANSFER_SYNTAX.implicitLittle;
    metaEnd = 0;
  } else throw new UnreadableFile(`${name}: not a DICOM file`);
  let data: Buffer = buf;
  let start = metaEnd;
  let syntax = { littleEndian: true, explicitVr: true };
  if (ts === TRANSFER_SYNTAX.implicitLittle) syntax = { littleEndian: true, explicitVr: false };
  else if (ts === TRANSFER_SYNTAX.explicitBig) syntax = { littleEndian: false, explicitVr: true };
  else if (ts === TRANSFER_SYNTAX.deflated) {
    data = inflateRawSync(buf.subarray(metaEnd));
    start = 0;
  }
  const ds = parseDataSet(makeCtx(data, data.length, syntax), start, data.length, 0, false);
  let encapsulated = false;
  const convert = (els: Element[]): El[] =>
    els.map((e) => {
      const tag = tagHex(e.tag);
      if (e.items) return { tag, vr: 'SQ', value: e.items.map(convert) };
      if (e.encapsulated) {
        encapsulated = true;
        // The fragments up to and with the Sequence Delimitation Item: from the value to the next element (or the end).
        return { tag, vr: 'OB', value: fragmentsOf(data, e.valueOffset), encapsulated: true };
      }
      let bytes: Uint8Array = data.subarray(e.valueOffset, e.valueOffset + e.length);
      const vr = e.vr;
      if (!e.littleEndian && WORD[vr]) bytes = swap(Buffer.from(bytes), WORD[vr]);
      if (vr === 'AT') {
        const b = Buffer.from(bytes);
        const tags: number[] = [];
        for (let o = 0; o + 4 <= b.length; o += 4) tags.push(((b.readUInt16LE(o) << 16) | b.readUInt16LE(o + 2)) >>> 0);
        return { tag, vr, value: tags };
      }
      return { tag, vr, value: Buffer.from(bytes) };
    });
  const elements = convert(ds.elements);
  return { elements, transferSyntaxUid: ts, encapsulated };
}

function fragmentsOf(data: Buffer, pos: number): Buffer {
  const start = pos;
  for (;;) {
    const tag = ((data.readUInt16LE(pos) << 16) | data.readUInt16LE(pos + 2)) >>> 0;
    const length = data.readUInt32LE(pos + 4);
    pos += 8;
    if (tag === 0xfffee0dd) return data.subarray(start, pos);
    pos += length;
  }
}

function swap(b: Buffer, size: number): Buffer {
  if (b.length % size !== 0) return b;
  return size === 2 ? b.swap16() : size === 4 ? b.swap32() : b.swap64();
}

/** A text value of an element as a string (trailing padding removed), or undefined. */
export function textOf(el: El | undefined): string | undefined {
  if (!el) return undefined;
  if (typeof el.value === 'string') return el.value;
  if (el.value instanceof Uint8Array) return Buffer.from(el.value).toString('latin1').replace(/[\0 ]+$/, '');
  return undefined;
}

export function find(els: El[], tag: string): El | undefined {
  return els.find((e) => e.tag === tag);
}
