/**
 * The DICOM writer: every transfer syntax round-trips through dicom-parser (an independent reader)
 * with the right values, lengths, padding and group length, and dcmtk's dcmdump reads every written
 * file without a warning.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { spawnSync } from 'child_process';
import * as zlib from 'zlib';
import * as dicomParser from 'dicom-parser';
import { El, TransferSyntax, TRANSFER_SYNTAX_UID, writeDicom, formatDS } from '../../src/dicom/writer';
import { DCMDUMP, requireTool } from '../helpers/tools';

const SYNTAXES: TransferSyntax[] = ['implicit-le', 'explicit-le', 'explicit-be', 'deflated-le'];
const SOP_CLASS = '1.2.840.10008.5.1.4.1.1.2';
const SOP_INSTANCE = '1.2.826.0.1.3680043.8.498.12345'; // odd length: 31 characters
const PIXELS = [0, 1, 0x0102, 0x7fff, 0x8000, 0xfffe, 1000, 4095, 3, 4, 5, 6, 7, 8, 9, 10];

function dataset(): El[] {
  return [
    { tag: '00080005', vr: 'CS', value: 'ISO_IR 100' },
    { tag: '00080008', vr: 'CS', value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
    { tag: '00080016', vr: 'UI', value: SOP_CLASS },
    { tag: '00080018', vr: 'UI', value: SOP_INSTANCE },
    { tag: '00080020', vr: 'DA', value: '20000101' },
    { tag: '00080060', vr: 'CS', value: 'CT' },
    { tag: '00080070', vr: 'LO', value: 'SIEMENS' }, // odd length: padded with a space
    { tag: '00100010', vr: 'PN', value: 'Müller^Jürgen' },
    { tag: '00100020', vr: 'LO', value: 'LIDC-IDRI-0001' },
    { tag: '00180050', vr: 'DS', value: 1.25 },
    { tag: '00180060', vr: 'DS', value: 120 },
    // An SQ with two items, one holding a nested SQ.
    {
      tag: '00081140',
      vr: 'SQ',
      value: [
        [
          { tag: '00081150', vr: 'UI', value: '1.2.3' },
          { tag: '00081155', vr: 'UI', value: '1.2.3.4' },
        ],
        [
          { tag: '00081150', vr: 'UI', value: '1.2.3' },
          { tag: '00081155', vr: 'UI', value: '1.2.3.5' },
          { tag: '00089215', vr: 'SQ', value: [[{ tag: '00080100', vr: 'SH', value: '121311' }]] },
        ],
      ],
    },
    { tag: '0020000D', vr: 'UI', value: '1.2.3.100' },
    { tag: '0020000E', vr: 'UI', value: '1.2.3.100.1' },
    { tag: '00200013', vr: 'IS', value: 7 },
    { tag: '00200032', vr: 'DS', value: [-180.5, -180.5, -12.625] },
    { tag: '00201041', vr: 'DS', value: 0.1 + 0.2 },
    { tag: '00209165', vr: 'AT', value: '00200032' },
    { tag: '00280002', vr: 'US', value: 1 },
    { tag: '00280004', vr: 'CS', value: 'MONOCHROME2' },
    { tag: '00280010', vr: 'US', value: 4 },
    { tag: '00280011', vr: 'US', value: 4 },
    { tag: '00280030', vr: 'DS', value: [0.703125, 0.703125] },
    { tag: '00280100', vr: 'US', value: 16 },
    { tag: '00280101', vr: 'US', value: 16 },
    { tag: '00280102', vr: 'US', value: 15 },
    { tag: '00280103', vr: 'US', value: 0 },
    { tag: '00280106', vr: 'US', value: 0 }, // binary US, written as 2 bytes
    { tag: '00281052', vr: 'DS', value: -1024 },
    { tag: '00281053', vr: 'DS', value: 1 },
    { tag: '00189306', vr: 'FD', value: 0.5 },
    { tag: '00189310', vr: 'FD', value: [1.5, -2.25] },
    { tag: '00189311', vr: 'FD', value: 42.125 },
    { tag: '00189305', vr: 'FD', value: 3.5 },
    { tag: '00189219', vr: 'FD', value: 7.75 },
    { tag: '00189307', vr: 'FD', value: 9 },
    { tag: '00189334', vr: 'CS', value: 'NO' },
    { tag: '0018A001', vr: 'SQ', value: [] },
    { tag: '00211010', vr: 'SL', value: -5 }, // private-ish group, binary
    { tag: '00211012', vr: 'SS', value: -3 },
    { tag: '00211014', vr: 'UL', value: 0xdeadbeef },
    { tag: '00211016', vr: 'FL', value: 2.5 },
    { tag: '00211018', vr: 'OB', value: Uint8Array.from([1, 2, 3]) }, // odd: padded with NUL
    { tag: '7FE00010', vr: 'OW', value: PIXELS },
  ];
}

function parse(buf: Buffer): dicomParser.DataSet {
  try {
    // dicom-parser's own deflate path expects a Node Buffer; give it an inflater instead.
    const inflater = (bytes: Uint8Array, position: number) => {
      const inflated = zlib.inflateRawSync(bytes.subarray(position));
      return new Uint8Array(Buffer.concat([Buffer.from(bytes.subarray(0, position)), inflated]));
    };
    return dicomParser.parseDicom(new Uint8Array(buf), { inflater } as dicomParser.ParseDicomOptions);
  } catch (e) {
    throw new Error(`dicom-parser failed: ${e instanceof Error ? e.message : JSON.stringify(e)}`);
  }
}

const dcmdump = requireTool(DCMDUMP);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'writer-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe.each(SYNTAXES)('transfer syntax %s', (ts) => {
  describe.each([false, true])('undefined-length sequences: %s', (undefinedLengthSequences) => {
    const buf = writeDicom(dataset(), { transferSyntax: ts, undefinedLengthSequences });
    const ds = parse(buf);
    const be = ts === 'explicit-be';

    test('file meta: preamble, DICM, group length, transfer syntax, SOP class/instance', () => {
      expect(buf.subarray(0, 128).every((b) => b === 0)).toBe(true);
      expect(buf.toString('latin1', 128, 132)).toBe('DICM');
      // (0002,0000) UL, explicit VR little endian whatever the data set's syntax.
      expect(buf.readUInt16LE(132)).toBe(0x0002);
      expect(buf.readUInt16LE(134)).toBe(0x0000);
      expect(buf.toString('latin1', 136, 138)).toBe('UL');
      expect(buf.readUInt16LE(138)).toBe(4);
      const groupLength = buf.readUInt32LE(140);
      const metaEnd = 144 + groupLength;
      // The group length ends exactly where group 0002 ends.
      let lastMetaEnd = 0;
      for (const [key, el] of Object.entries(ds.elements)) {
        if (key.startsWith('x0002')) lastMetaEnd = Math.max(lastMetaEnd, el.dataOffset + el.length);
      }
      expect(lastMetaEnd).toBe(metaEnd);
      expect(ds.string('x00020010')).toBe(TRANSFER_SYNTAX_UID[ts]);
      expect(ds.string('x00020002')).toBe(SOP_CLASS);
      expect(ds.string('x00020003')).toBe(SOP_INSTANCE);
      expect(Array.from(ds.byteArray.subarray(ds.elements.x00020001.dataOffset, ds.elements.x00020001.dataOffset + 2))).toEqual([0, 1]);
      if (ts === 'deflated-le') {
        // What follows the meta group is raw deflate of the explicit-LE data set.
        const inflated = zlib.inflateRawSync(buf.subarray(metaEnd));
        expect(inflated.readUInt16LE(0)).toBe(0x0008);
        expect(inflated.readUInt16LE(2)).toBe(0x0005);
        expect(inflated.toString('latin1', 4, 6)).toBe('CS');
      } else {
        // The first data set element starts right after the meta group, in the data set's byte order.
        expect(be ? buf.readUInt16BE(metaEnd) : buf.readUInt16LE(metaEnd)).toBe(0x0008);
        expect(be ? buf.readUInt16BE(metaEnd + 2) : buf.readUInt16LE(metaEnd + 2)).toBe(0x0005);
      }
    });

    test('values round-trip', () => {
      expect(ds.string('x00080018')).toBe(SOP_INSTANCE);
      expect(ds.string('x00080060')).toBe('CT');
      expect(ds.string('x00080070')).toBe('SIEMENS');
      expect(ds.string('x00080008', 2)).toBe('AXIAL');
      // Latin-1 bytes for a JS string: ü is 0xFC.
      const pn = ds.elements.x00100010;
      expect(Buffer.from(ds.byteArray.subarray(pn.dataOffset, pn.dataOffset + pn.length)).toString('latin1')).toBe('Müller^Jürgen ');
      expect(ds.floatString('x00180050')).toBe(1.25);
      expect(ds.string('x00201041')).toBe('0.3');
      expect(ds.floatString('x00200032', 2)).toBe(-12.625);
      expect(ds.intString('x00200013')).toBe(7);
      expect(ds.attributeTag('x00209165')).toBe('x00200032');
      expect(ds.uint16('x00280010')).toBe(4);
      expect(ds.int16('x00211012')).toBe(-3);
      expect(ds.int32('x00211010')).toBe(-5);
      expect(ds.uint32('x00211014')).toBe(0xdeadbeef);
      expect(ds.float('x00211016')).toBe(2.5);
      expect(ds.double('x00189310', 1)).toBe(-2.25);
      const seq = ds.elements.x00081140;
      expect(seq.items).toHaveLength(2);
      expect(seq.items![1].dataSet!.string('x00081155')).toBe('1.2.3.5');
      expect(seq.items![1].dataSet!.elements.x00089215.items![0].dataSet!.string('x00080100')).toBe('121311');
      expect(ds.elements.x0018a001.items ?? []).toHaveLength(0);
      if (undefinedLengthSequences) expect(seq.hadUndefinedLength).toBe(true);
      else expect(seq.hadUndefinedLength).toBeFalsy();
    });

    test('pixel data: 16-bit words in the data set byte order', () => {
      const px = ds.elements.x7fe00010;
      expect(px.length).toBe(PIXELS.length * 2);
      const bytes = Buffer.from(ds.byteArray.buffer, ds.byteArray.byteOffset + px.dataOffset, px.length);
      const words = PIXELS.map((_, i) => (be ? bytes.readUInt16BE(i * 2) : bytes.readUInt16LE(i * 2)));
      expect(words).toEqual(PIXELS);
    });

    test('even lengths and padding: NUL for UI, space for text, NUL for OB', () => {
      for (const el of Object.values(ds.elements)) expect(el.length % 2).toBe(0);
      const uid = ds.elements.x00080018;
      expect(uid.length).toBe(SOP_INSTANCE.length + 1);
      expect(ds.byteArray[uid.dataOffset + uid.length - 1]).toBe(0);
      const lo = ds.elements.x00080070;
      expect(lo.length).toBe(8);
      expect(ds.byteArray[lo.dataOffset + 7]).toBe(0x20);
      const ob = ds.elements.x00211018;
      expect(ob.length).toBe(4);
      expect(Array.from(ds.byteArray.subarray(ob.dataOffset, ob.dataOffset + 4))).toEqual([1, 2, 3, 0]);
    });

    if (ts === 'explicit-le' || ts === 'explicit-be') {
      test('explicit VR: 2-byte length for short VRs, reserved + 4-byte length for OB/OW/SQ', () => {
        const u16 = (o: number) => (be ? buf.readUInt16BE(o) : buf.readUInt16LE(o));
        const u32 = (o: number) => (be ? buf.readUInt32BE(o) : buf.readUInt32LE(o));
        const rows = ds.elements.x00280010;
        expect(buf.toString('latin1', rows.dataOffset - 4, rows.dataOffset - 2)).toBe('US');
        expect(u16(rows.dataOffset - 2)).toBe(2);
        for (const [key, vr] of [['x00211018', 'OB'], ['x7fe00010', 'OW'], ['x00081140', 'SQ']] as const) {
          const el = ds.elements[key];
          expect(buf.toString('latin1', el.dataOffset - 8, el.dataOffset - 6)).toBe(vr);
          expect(u16(el.dataOffset - 6)).toBe(0);
          expect(u32(el.dataOffset - 4)).toBe(undefinedLengthSequences && vr === 'SQ' ? 0xffffffff : el.length);
        }
      });
    }

    if (ts === 'implicit-le') {
      test('implicit VR: tag then a 4-byte length, no VR', () => {
        const rows = ds.elements.x00280010;
        expect(buf.readUInt16LE(rows.dataOffset - 8)).toBe(0x0028);
        expect(buf.readUInt16LE(rows.dataOffset - 6)).toBe(0x0010);
        expect(buf.readUInt32LE(rows.dataOffset - 4)).toBe(2);
      });
    }

    dcmdump.test('dcmdump reads the file without warnings', () => {
      const file = path.join(tmp, `${ts}-${undefinedLengthSequences}.dcm`);
      fs.writeFileSync(file, buf);
      const r = spawnSync(dcmdump.path(), ['-M', '+L', file], { encoding: 'latin1' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain(`(0008,0018) UI [${SOP_INSTANCE}]`);
      expect(r.stdout).toContain('(0010,0010) PN [Müller^Jürgen]');
      expect(r.stdout).toContain('(0028,0010) US 4');
      expect(r.stdout).toContain('(0020,0032) DS [-180.5\\-180.5\\-12.625]');
      expect(r.stdout).toMatch(/\(0002,0000\) UL (\d+)/);
      expect(r.stdout).toContain(`(0002,0010) UI =`);
      expect(r.stdout).toContain('(0008,1155) UI [1.2.3.5]');
    });
  });
});

test('preamble: false writes the bare data set (no preamble, DICM or meta group)', () => {
  const buf = writeDicom(dataset(), { transferSyntax: 'implicit-le', preamble: false });
  expect(buf.readUInt16LE(0)).toBe(0x0008);
  expect(buf.readUInt16LE(2)).toBe(0x0005);
  const ds = dicomParser.parseDicom(new Uint8Array(buf), { TransferSyntaxUID: '1.2.840.10008.1.2' });
  expect(ds.string('x00080018')).toBe(SOP_INSTANCE);
  expect(ds.elements.x00020000).toBeUndefined();
  expect(buf.includes(Buffer.from('DICM'))).toBe(false);
});

dcmdump.test('dcmdump reads the bare data set', () => {
  const buf = writeDicom(dataset(), { transferSyntax: 'implicit-le', preamble: false });
  const file = path.join(tmp, 'bare.dcm');
  fs.writeFileSync(file, buf);
  const r = spawnSync(dcmdump.path(), ['-M', file], { encoding: 'latin1' });
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain(`(0008,0018) UI [${SOP_INSTANCE}]`);
});

test('elements are written in tag order whatever the input order; caller meta elements override defaults', () => {
  const els = dataset().reverse();
  els.push({ tag: '00020013', vr: 'SH', value: 'OTHER_IMPL' });
  const ds = parse(writeDicom(els, { transferSyntax: 'explicit-le', sopClassUid: '1.2.840.10008.5.1.4.1.1.1' }));
  const offsets = Object.entries(ds.elements).map(([k, el]) => [parseInt(k.slice(1), 16), el.dataOffset] as const);
  const byOffset = [...offsets].sort((a, b) => a[1] - b[1]).map(([t]) => t);
  expect(byOffset).toEqual([...byOffset].sort((a, b) => a - b));
  expect(ds.string('x00020013')).toBe('OTHER_IMPL');
  expect(ds.string('x00020002')).toBe('1.2.840.10008.5.1.4.1.1.1');
});

test('a missing SOP Instance UID leaves (0002,0003) out instead of writing an empty one', () => {
  const ds = parse(writeDicom(dataset().filter((e) => e.tag !== '00080018'), { transferSyntax: 'explicit-le' }));
  expect(ds.elements.x00020003).toBeUndefined();
  expect(ds.elements.x00080018).toBeUndefined();
});

test('pre-encoded bytes are written as given (character-set fixtures)', () => {
  const utf8 = Buffer.from('山田^太郎', 'utf8');
  const ds = parse(
    writeDicom(
      [
        { tag: '00080005', vr: 'CS', value: 'ISO_IR 192' },
        { tag: '00080018', vr: 'UI', value: '1.2.3' },
        { tag: '00100010', vr: 'PN', value: utf8 },
      ],
      { transferSyntax: 'explicit-le' },
    ),
  );
  const pn = ds.elements.x00100010;
  const raw = Buffer.from(ds.byteArray.subarray(pn.dataOffset, pn.dataOffset + pn.length));
  expect(raw.toString('utf8').trimEnd()).toBe('山田^太郎');
  expect(pn.length % 2).toBe(0);
});

test('a short-VR value too long for a 2-byte length is an error in explicit VR, fine in implicit VR', () => {
  const long: El[] = [{ tag: '00204000', vr: 'LT', value: 'x'.repeat(70000) }];
  expect(() => writeDicom(long, { transferSyntax: 'explicit-le' })).toThrow(/2-byte length/);
  expect(writeDicom(long, { transferSyntax: 'implicit-le' }).length).toBeGreaterThan(70000);
});

test('formatDS keeps DS within 16 characters and free of float noise', () => {
  expect(formatDS(0.1 + 0.2)).toBe('0.3');
  expect(formatDS(-180.5)).toBe('-180.5');
  expect(formatDS(1 / 3).length).toBeLessThanOrEqual(16);
  expect(Number(formatDS(-123456.789012345))).toBeCloseTo(-123456.789, 2);
  expect(formatDS(-123456.789012345).length).toBeLessThanOrEqual(16);
});
