import { readDicomBytes } from '../../src/dicom/read';
import { ctElements, dicomFile, EXPLICIT_LE, IMPLICIT_LE } from './bytes';
import { CHARSET_FIXTURES, charsetFile, PN_GROUPS } from './fixtures';
import iconv from 'iconv-lite';

describe('Specific Character Set decoding', () => {
  CHARSET_FIXTURES.forEach((f, i) => {
    test(f.name, () => {
      for (const ts of [EXPLICIT_LE, IMPLICIT_LE]) {
        const bytes = charsetFile(f, i, ts);
        const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
        expect(r.code).toBe('OK');
        expect(r.warnings ?? []).toEqual([]);
        expect(r.meta!['00100010']).toEqual({ vr: 'PN', Value: [PN_GROUPS(f.expected)] });
        if (f.lo) expect(r.meta!['00080080']).toEqual({ vr: 'LO', Value: [f.lo.expected] });
      }
    });
  });

  test('unknown charset falls back to Latin-1 with a warning', () => {
    const bytes = dicomFile(ctElements({ charset: { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 999' }, patientName: { tag: 0x00100010, vr: 'PN', value: iconv.encode('Buc^Jérôme', 'latin1') } }));
    const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
    expect(r.code).toBe('OK');
    expect(r.meta!['00100010'].Value).toEqual([{ Alphabetic: 'Buc^Jérôme' }]);
    expect(r.warnings!.join()).toMatch(/unknown Specific Character Set.*ISO_IR 999.*ISO_IR 100/);
  });

  test('broken ISO 2022 bytes fall back with a warning, never throw', () => {
    const bad = Buffer.from([0x41, 0x1b, 0x24, 0x28, 0x51, 0x30, 0x21, 0x42]); // unknown escape ESC $ ( Q
    const bytes = dicomFile(ctElements({ charset: { tag: 0x00080005, vr: 'CS', value: '\\ISO 2022 IR 87' }, patientName: { tag: 0x00100010, vr: 'PN', value: bad } }));
    const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
    expect(r.code).toBe('OK');
    expect(r.warnings!.join()).toMatch(/not decodable/);
  });

  test('spellings seen in the wild are normalised (ISO-IR 100, iso_ir 192)', () => {
    for (const [term, enc, text] of [['ISO-IR 100', 'latin1', 'Jérôme'], ['iso_ir 192', 'utf8', 'Jérôme 王']] as const) {
      const bytes = dicomFile(ctElements({ charset: { tag: 0x00080005, vr: 'CS', value: term }, patientName: { tag: 0x00100010, vr: 'PN', value: iconv.encode(text, enc) } }));
      const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
      expect(r.meta!['00100010'].Value).toEqual([{ Alphabetic: text }]);
      expect(r.warnings ?? []).toEqual([]);
    }
  });

  test('no charset: ASCII, UTF-8 or Latin-1 bytes, with a warning for non-ASCII', () => {
    const utf = dicomFile(ctElements({ charset: null, patientName: { tag: 0x00100010, vr: 'PN', value: Buffer.from('Zoë', 'utf8') } }));
    const r1 = readDicomBytes(utf, utf.length, { withMeta: true });
    expect(r1.meta!['00100010'].Value).toEqual([{ Alphabetic: 'Zoë' }]);
    expect(r1.warnings!.join()).toMatch(/without Specific Character Set: decoded as UTF-8/);
    const lat = dicomFile(ctElements({ charset: null, patientName: { tag: 0x00100010, vr: 'PN', value: iconv.encode('Zoë', 'latin1') } }));
    expect(readDicomBytes(lat, lat.length, { withMeta: true }).meta!['00100010'].Value).toEqual([{ Alphabetic: 'Zoë' }]);
  });

  test('a sequence item may carry its own Specific Character Set', () => {
    const item = [
      { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 126' },
      { tag: 0x00100010, vr: 'PN', value: iconv.encode('Διονυσιος', 'iso-8859-7') },
    ];
    const bytes = dicomFile(ctElements({ patientName: { tag: 0x00100010, vr: 'PN', value: iconv.encode('Jérôme', 'latin1') } }, [{ tag: 0x00081120, vr: 'SQ', items: [item] }]));
    const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
    expect(r.meta!['00100010'].Value).toEqual([{ Alphabetic: 'Jérôme' }]);
    expect((r.meta!['00081120'].Value![0] as any)['00100010'].Value).toEqual([{ Alphabetic: 'Διονυσιος' }]);
  });
});
