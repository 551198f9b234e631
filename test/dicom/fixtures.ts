/**
 * Fixture files shared by the charset test and the dcmdump cross-check: one per character set
 * (with the Unicode answer, PS3.5 Annexes H, I, J and similar names for the single-byte sets),
 * one per transfer syntax, sequences, private tags.
 */
import iconv from 'iconv-lite';
import { ctElements, dicomFile, El, DEFLATED, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, JPEG_BASELINE } from './bytes';

const ESC = 0x1b;
const bytes = (...parts: (string | number[] | Uint8Array)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));
/** JIS X 0208 / GB 2312 / KS X 1001 as 7-bit bytes (EUC bytes without the high bit). */
const sevenBit = (s: string, enc: string) => Buffer.from(iconv.encode(s, enc)).map((b) => b & 0x7f);
/** JIS X 0212 as 7-bit bytes: EUC-JP writes it as 0x8F + two bytes. */
const jisX0212 = (s: string) => Buffer.from(iconv.encode(s, 'euc-jp')).filter((b) => b !== 0x8f).map((b) => b & 0x7f);

const JIS_IN = [ESC, 0x24, 0x42]; // ESC $ B  : JIS X 0208 in G0
const JIS0212_IN = [ESC, 0x24, 0x28, 0x44]; // ESC $ ( D : JIS X 0212 in G0
const ASCII_IN = [ESC, 0x28, 0x42]; // ESC ( B
const ROMAN_IN = [ESC, 0x28, 0x4a]; // ESC ( J  : JIS X 0201 romaji
const KSC_IN = [ESC, 0x24, 0x29, 0x43]; // ESC $ ) C : KS X 1001 in G1
const GB_IN = [ESC, 0x24, 0x29, 0x41]; // ESC $ ) A : GB 2312 in G1

export interface CharsetFixture {
  name: string;
  charset: string;
  /** Encoded PatientName bytes. */
  pn: Uint8Array;
  expected: string;
  /** Also stored in InstitutionName (LO) when set. */
  lo?: { bytes: Uint8Array; expected: string };
}

export const CHARSET_FIXTURES: CharsetFixture[] = [
  {
    name: 'ISO 2022 IR 87 (PS3.5 H.3.1)', charset: '\\ISO 2022 IR 87', expected: 'Yamada^Tarou=山田^太郎=やまだ^たろう',
    pn: bytes('Yamada^Tarou=', JIS_IN, sevenBit('山田', 'euc-jp'), ASCII_IN, '^', JIS_IN, sevenBit('太郎', 'euc-jp'), ASCII_IN, '=',
      JIS_IN, sevenBit('やまだ', 'euc-jp'), ASCII_IN, '^', JIS_IN, sevenBit('たろう', 'euc-jp'), ASCII_IN),
  },
  {
    name: 'ISO 2022 IR 13 + IR 87 (PS3.5 H.3.2)', charset: 'ISO 2022 IR 13\\ISO 2022 IR 87', expected: 'ﾔﾏﾀﾞ^ﾀﾛｳ=山田^太郎=やまだ^たろう',
    pn: bytes([0xd4, 0xcf, 0xc0, 0xde], '^', [0xc0, 0xdb, 0xb3], '=', JIS_IN, sevenBit('山田', 'euc-jp'), ROMAN_IN, '^', JIS_IN, sevenBit('太郎', 'euc-jp'), ROMAN_IN, '=',
      JIS_IN, sevenBit('やまだ', 'euc-jp'), ROMAN_IN, '^', JIS_IN, sevenBit('たろう', 'euc-jp'), ROMAN_IN),
  },
  {
    name: 'ISO 2022 IR 87 + IR 159 (JIS X 0212)', charset: '\\ISO 2022 IR 87\\ISO 2022 IR 159', expected: 'Mori^Ogai=森^鷗外=もり^おうがい',
    pn: bytes('Mori^Ogai=', JIS_IN, sevenBit('森', 'euc-jp'), ASCII_IN, '^', JIS0212_IN, jisX0212('鷗'), JIS_IN, sevenBit('外', 'euc-jp'), ASCII_IN, '=',
      JIS_IN, sevenBit('もり', 'euc-jp'), ASCII_IN, '^', JIS_IN, sevenBit('おうがい', 'euc-jp'), ASCII_IN),
  },
  {
    name: 'ISO 2022 IR 149 Korean (PS3.5 I.2)', charset: '\\ISO 2022 IR 149', expected: 'Hong^Gildong=洪^吉洞=홍^길동',
    pn: bytes('Hong^Gildong=', KSC_IN, iconv.encode('洪', 'euc-kr'), '^', KSC_IN, iconv.encode('吉洞', 'euc-kr'), '=',
      KSC_IN, iconv.encode('홍', 'euc-kr'), '^', KSC_IN, iconv.encode('길동', 'euc-kr')),
  },
  { name: 'GB18030 (PS3.5 J.3)', charset: 'GB18030', expected: 'Wang^XiaoDong=王^小东=', pn: iconv.encode('Wang^XiaoDong=王^小东=', 'gb18030'),
    lo: { bytes: iconv.encode('北京协和医院', 'gb18030'), expected: '北京协和医院' } },
  { name: 'GBK', charset: 'GBK', expected: 'Wang^XiaoDong=王^小东=', pn: iconv.encode('Wang^XiaoDong=王^小东=', 'gbk') },
  {
    name: 'ISO 2022 IR 58 (PS3.5 K)', charset: '\\ISO 2022 IR 58', expected: 'Zhang^XiaoDong=张^小东=',
    pn: bytes('Zhang^XiaoDong=', GB_IN, iconv.encode('张', 'gb2312'), '^', GB_IN, iconv.encode('小东', 'gb2312'), '='),
  },
  { name: 'ISO_IR 192 UTF-8', charset: 'ISO_IR 192', expected: 'Wang^XiaoDong=王^小東=', pn: Buffer.from('Wang^XiaoDong=王^小東=', 'utf8'),
    lo: { bytes: Buffer.from('Hôpital Universitaire – Zürich', 'utf8'), expected: 'Hôpital Universitaire – Zürich' } },
  { name: 'ISO_IR 100 Latin-1', charset: 'ISO_IR 100', expected: 'Buc^Jérôme', pn: iconv.encode('Buc^Jérôme', 'latin1') },
  { name: 'ISO_IR 101 Latin-2', charset: 'ISO_IR 101', expected: 'Dvořák^Antonín', pn: iconv.encode('Dvořák^Antonín', 'iso-8859-2') },
  { name: 'ISO_IR 109 Latin-3', charset: 'ISO_IR 109', expected: 'Ġużeppi^Ħasan', pn: iconv.encode('Ġużeppi^Ħasan', 'iso-8859-3') },
  { name: 'ISO_IR 110 Latin-4', charset: 'ISO_IR 110', expected: 'Ģirts^Šķēle', pn: iconv.encode('Ģirts^Šķēle', 'iso-8859-4') },
  { name: 'ISO_IR 148 Latin-5', charset: 'ISO_IR 148', expected: 'Çavuşoğlu^Şükrü', pn: iconv.encode('Çavuşoğlu^Şükrü', 'iso-8859-9') },
  { name: 'ISO_IR 144 Cyrillic (PS3.5 example)', charset: 'ISO_IR 144', expected: 'Люкceмбypг', pn: iconv.encode('Люкceмбypг', 'iso-8859-5') },
  { name: 'ISO_IR 127 Arabic', charset: 'ISO_IR 127', expected: 'قباني^لنزار', pn: iconv.encode('قباني^لنزار', 'iso-8859-6') },
  { name: 'ISO_IR 126 Greek', charset: 'ISO_IR 126', expected: 'Διονυσιος', pn: iconv.encode('Διονυσιος', 'iso-8859-7') },
  { name: 'ISO_IR 138 Hebrew', charset: 'ISO_IR 138', expected: 'שרון^דבורה', pn: iconv.encode('שרון^דבורה', 'iso-8859-8') },
  { name: 'ISO_IR 166 Thai', charset: 'ISO_IR 166', expected: 'ประเทศไทย^สมชาย', pn: iconv.encode('ประเทศไทย^สมชาย', 'tis620') },
  { name: 'ISO 2022 IR 100 with code extensions', charset: 'ISO 2022 IR 100', expected: 'Müller^Jürgen', pn: bytes([ESC, 0x2d, 0x41], iconv.encode('Müller^Jürgen', 'latin1')) },
];

export const PN_GROUPS = (s: string) => {
  const [Alphabetic, Ideographic, Phonetic] = s.split('=');
  const o: Record<string, string> = {};
  if (Alphabetic) o.Alphabetic = Alphabetic;
  if (Ideographic) o.Ideographic = Ideographic;
  if (Phonetic) o.Phonetic = Phonetic;
  return o;
};

export function charsetFile(f: CharsetFixture, i: number, ts = EXPLICIT_LE): Buffer {
  const extra: El[] = [{ tag: 0x00080005, vr: 'CS', value: f.charset }, { tag: 0x00100010, vr: 'PN', value: f.pn }];
  if (f.lo) extra.push({ tag: 0x00080080, vr: 'LO', value: f.lo.bytes });
  const els = ctElements({ charset: null, patientName: null, sop: { tag: 0x00080018, vr: 'UI', value: `1.2.826.0.1.3680043.9.7777.5.${i}` } }, extra);
  return dicomFile(els, { ts });
}

/** Varied files for the dcmdump cross-check (names are file names, no extension on some). */
export function crossCheckFiles(): { name: string; bytes: Buffer }[] {
  const files: { name: string; bytes: Buffer }[] = [];
  const uid = (n: number) => `1.2.826.0.1.3680043.9.7777.6.${n}`;
  const seqs: El[] = [
    { tag: 0x00081140, vr: 'SQ', items: [[{ tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' }, { tag: 0x00081155, vr: 'UI', value: '1.2.3.4.5' }], [{ tag: 0x00081155, vr: 'UI', value: '1.2.3.4.6' }]] },
    { tag: 0x00082112, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.4' }, { tag: 0x00089215, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00080100, vr: 'SH', value: '121320' }, { tag: 0x00080104, vr: 'LO', value: 'Uncompressed predecessor' }]] }]] },
    { tag: 0x00180060, vr: 'DS', value: '120' },
    { tag: 0x00181150, vr: 'IS', value: '1000' },
    { tag: 0x00181152, vr: 'IS', value: ' +250 ' },
    { tag: 0x00200052, vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.9' },
    { tag: 0x00280030, vr: 'DS', value: '6.25E-01\\.625' },
    { tag: 0x00281050, vr: 'DS', value: '40\\-600' },
    { tag: 0x00281052, vr: 'DS', value: '-1024' },
    { tag: 0x00180088, vr: 'DS', value: '1.25' },
    { tag: 0x00280106, vr: 'SS', value: [-1024] },
    { tag: 0x00189305, vr: 'FD', value: [0.5, 1e-3] },
    { tag: 0x00189306, vr: 'FD', value: [0.25] },
    { tag: 0x00189307, vr: 'FD', value: [0.625] },
    { tag: 0x00181110, vr: 'DS', value: '1085.6' },
    { tag: 0x00189311, vr: 'FD', value: [1.375] },
    { tag: 0x00281041, vr: 'SS', value: [1] },
    { tag: 0x00280009, vr: 'AT', value: [0x00181063] },
  ];
  const all = (n: number) => ctElements({ sop: { tag: 0x00080018, vr: 'UI', value: uid(n) }, spacing: null }, seqs);
  [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED].forEach((ts, i) => files.push({ name: `ts-${ts}.dcm`, bytes: dicomFile(all(i), { ts }) }));
  files.push({ name: 'IM00006', bytes: dicomFile(ctElements({ sop: { tag: 0x00080018, vr: 'UI', value: uid(10) }, pixels: { tag: 0x7fe00010, vr: 'OB', fragments: [new Uint8Array(64).fill(0xee)] } }), { ts: JPEG_BASELINE }) });
  files.push({
    name: 'private-implicit.dcm',
    bytes: dicomFile(ctElements({ sop: { tag: 0x00080018, vr: 'UI', value: uid(11) } }, [
      { tag: 0x00090010, vr: 'LO', value: 'GEMS_IDEN_01' },
      { tag: 0x00091001, vr: 'LO', value: 'CT_SCANNER' },
      { tag: 0x00190010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00191002, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00100020, vr: 'LO', value: 'inner2' }, { tag: 0x00180050, vr: 'DS', value: '3.0' }]] },
    ]), { ts: IMPLICIT_LE }),
  });
  files.push({ name: 'raw-implicit-no-meta', bytes: dicomFile(ctElements({ sop: { tag: 0x00080018, vr: 'UI', value: uid(12) } }), { ts: IMPLICIT_LE, meta: false }) });
  files.push({
    name: 'edge-values.dcm',
    bytes: dicomFile(ctElements({
      sop: { tag: 0x00080018, vr: 'UI', value: uid(13) },
      thickness: { tag: 0x00180050, vr: 'DS', value: ' +1.25E+00 ' },
      instance: { tag: 0x00200013, vr: 'IS', value: ' -0012' },
    }, [
      { tag: 0x00080000, vr: 'UL', value: [999] }, // group length (value not checked by readers)
      { tag: 0x00080008, vr: 'CS', value: 'ORIGINAL\\\\PRIMARY\\AXIAL' }, // with an empty second value
      { tag: 0x00080040, vr: 'US', value: [3] }, // retired
      { tag: 0x00081030, vr: 'LO', value: 'ODD', noPad: true },
      { tag: 0x00081040, vr: 'LO', value: '' },
      { tag: 0x00101010, vr: 'AS', value: '061Y' },
      { tag: 0x00181000, vr: 'LO', value: 'SN-1\SN-2' },
      { tag: 0x00204000, vr: 'LT', value: 'line one\r\nline two \\ with backslash' },
      { tag: 0x00081250, vr: 'SQ', items: [[{ tag: 0x00400560, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00080100, vr: 'SH', value: 'A' }], [{ tag: 0x00080100, vr: 'SH', value: 'B' }]] }]] },
    ]), { ts: EXPLICIT_LE }),
  });
  CHARSET_FIXTURES.forEach((f, i) => files.push({ name: `charset-${i}.dcm`, bytes: charsetFile(f, i, i % 2 ? IMPLICIT_LE : EXPLICIT_LE) }));
  return files;
}
