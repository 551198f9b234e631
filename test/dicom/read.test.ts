import { mkdirSync, mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomBytes, readDicomFile, HEAD_BYTES } from '../../src/dicom/read';
import { CODES } from '../../src/dicom/codes';
import { ctElements, dicomFile, encodeDataSet, DEFLATED, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, JPEG_BASELINE, El } from './bytes';

const dir = mkdtempSync(join(tmpdir(), 'dicom-read-'));
function file(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

const SYNTAXES = [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE, DEFLATED];

describe('header parsing on each transfer syntax', () => {
  for (const ts of SYNTAXES) {
    test(ts, async () => {
      const r = await readDicomFile(file(`ts-${ts}.dcm`, dicomFile(ctElements(), { ts })), { withMeta: true });
      expect(r).toMatchObject({ status: 'valid', code: 'OK' });
      expect(r.fields).toEqual({
        patientId: 'LIDC-IDRI-0001',
        studyInstanceUid: '1.2.826.0.1.3680043.9.7777.1',
        seriesInstanceUid: '1.2.826.0.1.3680043.9.7777.2',
        sopInstanceUid: '1.2.826.0.1.3680043.9.7777.3.1',
        sliceThickness: 2.5,
        pixelSpacingRow: 0.703125,
        pixelSpacingCol: 0.69,
        studyDate: '2020-01-31',
        acquisitionDate: '2020-02-01',
        instanceNumber: 7,
        modality: 'CT',
        rows: 4,
        columns: 4,
        transferSyntaxUid: ts,
        fileSize: expect.any(Number),
        imagePositionPatient: [-125.5, -130, -17.5],
        imageOrientationPatient: [1, 0, 0, 0, 1, 0],
      });
      expect(r.meta!['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Doe^John' }] });
      expect(r.meta!['00020010']).toEqual({ vr: 'UI', Value: [ts] });
      expect(r.meta!['00280010']).toEqual({ vr: 'US', Value: [4] });
      expect(r.meta!['7FE00010'].BulkDataURI).toMatch(/^bulk:7FE00010\?offset=\d+&length=32$/);
      expect(r.meta!['7FE00010'].InlineBinary).toBeUndefined();
    });
  }

  test('encapsulated (JPEG baseline) header, fragments within the file', async () => {
    const els = ctElements({ pixels: { tag: 0x7fe00010, vr: 'OB', fragments: [new Uint8Array(100).fill(0xff), new Uint8Array(50)] } });
    const r = await readDicomFile(file('jpeg.dcm', dicomFile(els, { ts: JPEG_BASELINE })), { withMeta: true });
    expect(r).toMatchObject({ status: 'valid', code: 'OK' });
    expect(r.fields!.transferSyntaxUid).toBe(JPEG_BASELINE);
    expect(r.meta!['7FE00010'].vr).toBe('OB');
  });

  test('encapsulated fragments beyond the first read are checked by header reads', async () => {
    const big = Array.from({ length: 5 }, () => new Uint8Array(HEAD_BYTES));
    const good = dicomFile(ctElements({ pixels: { tag: 0x7fe00010, vr: 'OB', fragments: big } }), { ts: JPEG_BASELINE });
    expect((await readDicomFile(file('jpeg-big.dcm', good))).code).toBe('OK');
    const cut = good.subarray(0, good.length - 9); // delimiter and a byte of the last fragment gone
    const r = await readDicomFile(file('jpeg-cut.dcm', cut));
    expect(r.code).toBe('TRUNCATED');
    expect(r.message).toMatch(/fragment at offset \d+ declares 65536 bytes but only 65535/);
    const noDelimiter = good.subarray(0, good.length - 8);
    expect((await readDicomFile(file('jpeg-nodelim.dcm', noDelimiter))).code).toBe('TRUNCATED');
    // readDicomBytes on the whole file agrees
    expect(readDicomBytes(cut, cut.length).code).toBe('TRUNCATED');
  });

  test('unknown transfer syntax: read as explicit VR LE when it parses, else UNSUPPORTED_TRANSFER_SYNTAX', async () => {
    const explicitBytes = dicomFile(ctElements(), { ts: EXPLICIT_LE });
    const asUnknown = Buffer.from(explicitBytes.toString('latin1').replace(EXPLICIT_LE + '\0', '1.2.3.999.1\0'.padEnd(EXPLICIT_LE.length + 1, '\0')), 'latin1');
    const r1 = await readDicomFile(file('unknown-ts-ok.dcm', asUnknown));
    expect(r1.code).toBe('OK');
    expect(r1.warnings!.join()).toMatch(/unknown transfer syntax/);
    // implicit VR body under an unknown UID does not read as explicit
    const implicitBody = encodeDataSet(ctElements(), { explicit: false, littleEndian: true });
    const meta = dicomFile([], { ts: '1.2.3.999.2' });
    const r2 = await readDicomFile(file('unknown-ts-bad.dcm', Buffer.concat([meta, implicitBody])));
    expect(r2.code).toBe('UNSUPPORTED_TRANSFER_SYNTAX');
    expect(r2.message).toContain('1.2.3.999.2');
  });

  test('the file size: from the first read when the file ends inside it, from fstat beyond it; a folder is no file', async () => {
    for (const pixels of [1024, HEAD_BYTES, 3 * HEAD_BYTES]) {
      const bytes = dicomFile(ctElements({ pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(pixels) } }), { ts: EXPLICIT_LE });
      const r = await readDicomFile(file(`size-${pixels}.dcm`, bytes));
      expect(r.code).toBe('OK');
      expect(r.fields!.fileSize).toBe(bytes.length);
    }
    const exact = dicomFile(ctElements({ pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(8) } }), { ts: EXPLICIT_LE });
    const padded = Buffer.concat([exact, Buffer.alloc(HEAD_BYTES - exact.length)]); // exactly the head: fstat says so
    const r = await readDicomFile(file('size-exact.dcm', padded));
    expect(r.fields?.fileSize).toBe(HEAD_BYTES);
    const folder = join(dir, 'a-folder.dcm');
    mkdirSync(folder);
    expect(await readDicomFile(folder)).toMatchObject({ status: 'invalid', code: 'READ_ERROR', message: `${folder} is not a regular file` });
  });

  test('reads only the head of a large file (whole-file read would need the pixels)', async () => {
    const els = ctElements({ pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(8 * 1024 * 1024) } });
    const bytes = dicomFile(els, { ts: EXPLICIT_LE });
    const r = readDicomBytes(bytes.subarray(0, 4096), bytes.length);
    expect(r.code).toBe('OK');
    expect(r.fields!.fileSize).toBe(bytes.length);
    // a header larger than the first read is followed (values under the bulk limit are read)
    const longText = 'x'.repeat(40_000);
    const otherText = 'y'.repeat(40_000);
    expect(longText.length + otherText.length).toBeGreaterThan(HEAD_BYTES);
    const extra = [{ tag: 0x00204000, vr: 'LT', value: longText }, { tag: 0x00324000, vr: 'LT', value: otherText }];
    const r2 = await readDicomFile(file('long-header.dcm', dicomFile(ctElements({}, extra), { ts: IMPLICIT_LE })), { withMeta: true });
    expect(r2.code).toBe('OK');
    expect((r2.meta!['00204000'].Value![0] as string).length).toBe(longText.length);
    expect((r2.meta!['00324000'].Value![0] as string).length).toBe(otherText.length);
  });
});

describe('classification codes', () => {
  const seen = new Set<string>();
  afterAll(() => {
    // every file-level invalid/valid code of the reader is triggered by a fixture here
    const expected = ['OK', 'EMPTY_FILE', 'NOT_DICOM', 'BAD_FILE_META', 'UNSUPPORTED_TRANSFER_SYNTAX', 'PARSE_ERROR', 'TRUNCATED', 'MISSING_SOP_INSTANCE_UID', 'MISSING_STUDY_INSTANCE_UID', 'MISSING_SERIES_INSTANCE_UID', 'MISSING_PIXEL_DATA', 'MISSING_IMAGE_SIZE', 'READ_ERROR'];
    for (const code of expected) expect(CODES).toHaveProperty(code);
    expect([...seen].sort()).toEqual([...expected].sort());
  });
  async function classify(name: string, bytes: Uint8Array) {
    const r = await readDicomFile(file(name, bytes));
    seen.add(r.code);
    expect(r.message.length).toBeGreaterThan(0);
    return r;
  }

  test('empty file', async () => {
    expect((await classify('empty.dcm', new Uint8Array(0))).code).toBe('EMPTY_FILE');
  });
  test('text named .dcm is NOT_DICOM; DICOM without extension is valid', async () => {
    const r = await classify('notes.dcm', Buffer.from('This is a text file, not an image.\n'.repeat(10)));
    expect(r).toMatchObject({ status: 'invalid', code: 'NOT_DICOM' });
    expect((await classify('IM00006', dicomFile(ctElements(), { ts: IMPLICIT_LE }))).code).toBe('OK');
    expect((await classify('tiny.txt', Buffer.from('hi'))).code).toBe('NOT_DICOM');
  });
  test('random bytes after DICM', async () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let k = 0; k < 20; k++) {
      const bytes = Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from(Array.from({ length: 2000 }, rnd))]);
      expect(['BAD_FILE_META', 'PARSE_ERROR']).toContain((await classify(`random-${k}.dcm`, bytes)).code);
    }
  });
  test('unknown transfer syntax whose data set is not explicit VR LE', async () => {
    const body = encodeDataSet(ctElements(), { explicit: false, littleEndian: true });
    expect((await classify('unsupported.dcm', Buffer.concat([dicomFile([], { ts: '1.2.3.4.5.6' }), body]))).code).toBe('UNSUPPORTED_TRANSFER_SYNTAX');
  });
  test('meta says explicit VR LE but the data set is implicit: read as implicit with a warning', async () => {
    const body = encodeDataSet(ctElements(), { explicit: false, littleEndian: true });
    const r = await classify('mislabelled.dcm', Buffer.concat([dicomFile([], { ts: EXPLICIT_LE }), body]));
    expect(r.code).toBe('OK');
    expect(r.fields!.patientId).toBe('LIDC-IDRI-0001');
    expect(r.warnings!.join()).toMatch(/says explicit VR but the data set starts in implicit VR/);
  });
  test('file meta without transfer syntax is BAD_FILE_META', async () => {
    const meta = encodeDataSet([{ tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) }, { tag: 0x00020003, vr: 'UI', value: '1.2.3' }], { explicit: true, littleEndian: true });
    const r = await classify('no-ts.dcm', Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), meta, encodeDataSet(ctElements(), { explicit: true, littleEndian: true })]));
    expect(r.code).toBe('BAD_FILE_META');
  });
  for (const ts of [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE]) {
    test(`truncated inside Pixel Data (${ts})`, async () => {
      const bytes = dicomFile(ctElements({ pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(1000) } }), { ts });
      const r = await classify(`trunc-pixels-${ts}.dcm`, bytes.subarray(0, bytes.length - 10));
      expect(r.code).toBe('TRUNCATED');
      expect(r.message).toMatch(/\(7FE0,0010\) at offset \d+ declares 1000 bytes but only 990 are left/);
    });
    test(`truncated inside the header (${ts})`, async () => {
      const bytes = dicomFile(ctElements(), { ts });
      const cut = bytes.indexOf(Buffer.from('LIDC-IDRI')) + 3;
      expect((await classify(`trunc-header-${ts}.dcm`, bytes.subarray(0, cut))).code).toBe('TRUNCATED');
    });
  }
  test('element declared longer than the file, in the middle of the header', async () => {
    const els = ctElements({ patientId: { tag: 0x00100020, vr: 'LO', value: 'ABC', declaredLength: 60000 } });
    for (const ts of [IMPLICIT_LE, EXPLICIT_LE]) {
      const r = await classify(`long-${ts}.dcm`, dicomFile(els, { ts }));
      expect(r.code).toBe('TRUNCATED');
      expect(r.message).toContain('(0010,0020)');
    }
  });
  test('corrupt element header is PARSE_ERROR', async () => {
    const bytes = Buffer.from(dicomFile(ctElements(), { ts: EXPLICIT_LE }));
    const at = bytes.indexOf(Buffer.from('CS', 'latin1'), 200); // the VR of Modality or charset
    bytes[at] = 0x01;
    expect((await classify('bad-vr.dcm', bytes)).code).toBe('PARSE_ERROR');
  });
  test('missing or empty UIDs', async () => {
    expect((await classify('no-sop.dcm', dicomFile(ctElements({ sop: null })))).code).toBe('MISSING_SOP_INSTANCE_UID');
    expect((await classify('empty-sop.dcm', dicomFile(ctElements({ sop: { tag: 0x00080018, vr: 'UI', value: '' } })))).code).toBe('MISSING_SOP_INSTANCE_UID');
    expect((await classify('no-study.dcm', dicomFile(ctElements({ study: null }), { ts: IMPLICIT_LE }))).code).toBe('MISSING_STUDY_INSTANCE_UID');
    expect((await classify('no-series.dcm', dicomFile(ctElements({ series: { tag: 0x0020000e, vr: 'UI', value: '\0\0' } })))).code).toBe('MISSING_SERIES_INSTANCE_UID');
  });
  test('an image file cut cleanly after Series Number (no Rows, Columns or Pixel Data) is MISSING_PIXEL_DATA', async () => {
    const seriesNumber: El = { tag: 0x00200011, vr: 'IS', value: '1' };
    const cutAfterSeriesNumber = ctElements({}, [seriesNumber]).filter((e) => e.tag >>> 0 <= 0x00200011);
    expect(cutAfterSeriesNumber[cutAfterSeriesNumber.length - 1].tag).toBe(0x00200011);
    for (const ts of SYNTAXES) {
      const r = await classify(`cut-after-series-number-${ts}.dcm`, dicomFile(cutAfterSeriesNumber, { ts }));
      expect(r).toMatchObject({ status: 'invalid', code: 'MISSING_PIXEL_DATA' });
      expect(r.message).toBe('CT Image Storage without Pixel Data (7FE0,0010), Float Pixel Data (7FE0,0008) or Double Float Pixel Data (7FE0,0009)');
    }
    // the same file from a head that ends right where Pixel Data would start: still judged on the whole file
    const whole = dicomFile(cutAfterSeriesNumber, { ts: EXPLICIT_LE });
    expect(readDicomBytes(whole, whole.length).code).toBe('MISSING_PIXEL_DATA');
    // Pixel Data alone is not enough: Rows and Columns are required too
    const noRows = await classify('no-rows.dcm', dicomFile(ctElements({ rows: null })));
    expect(noRows).toMatchObject({ status: 'invalid', code: 'MISSING_IMAGE_SIZE', message: 'CT Image Storage without Rows (0028,0010)' });
    expect((await classify('no-size.dcm', dicomFile(ctElements({ rows: null, columns: null }), { ts: IMPLICIT_LE }))).message).toBe(
      'CT Image Storage without Rows (0028,0010) and Columns (0028,0011)',
    );
  });
  test('Pixel Data is found by its element header alone, and only image SOP classes need it', async () => {
    // a huge declared Pixel Data is never read: the header of (7FE0,0010) is enough
    const big = dicomFile(ctElements({ pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(4 * HEAD_BYTES) } }), { ts: EXPLICIT_LE });
    expect(readDicomBytes(big.subarray(0, 2048), big.length).code).toBe('OK');
    // Float Pixel Data (a parametric map) counts as pixel data
    const floatPixels = ctElements({ sopClass: { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.30' }, pixels: { tag: 0x7fe00008, vr: 'OF', value: new Uint8Array(64) } });
    expect((await classify('float-pixels.dcm', dicomFile(floatPixels))).code).toBe('OK');
    // not an image SOP class (Basic Text SR, a Raw Data object): no Pixel Data is fine
    for (const [name, uid] of [['sr', '1.2.840.10008.5.1.4.1.1.88.11'], ['raw', '1.2.840.10008.5.1.4.1.1.66']]) {
      const els = ctElements({ sopClass: { tag: 0x00080016, vr: 'UI', value: uid }, rows: null, columns: null, pixels: null });
      expect((await classify(`${name}-no-pixels.dcm`, dicomFile(els))).code).toBe('OK');
    }
    // no SOP Class UID at all: nothing to judge it by
    expect((await classify('no-class-no-pixels.dcm', dicomFile(ctElements({ sopClass: null, pixels: null })))).code).toBe('OK');
  });
  test('missing file and unreadable file are READ_ERROR', async () => {
    expect((await readDicomFile(join(dir, 'does-not-exist'))).code).toBe('READ_ERROR');
    expect((await readDicomFile(dir)).code).toBe('READ_ERROR');
    seen.add('READ_ERROR');
  });
  test('no preamble and no file meta, implicit and explicit', async () => {
    for (const ts of [IMPLICIT_LE, EXPLICIT_LE]) {
      const r = await readDicomFile(file(`raw-${ts}`, dicomFile(ctElements(), { ts, meta: false })), { withMeta: true });
      expect(r.code).toBe('OK');
      expect(r.fields!.transferSyntaxUid).toBeNull();
      expect(r.fields!.sopInstanceUid).toBe('1.2.826.0.1.3680043.9.7777.3.1');
      expect(r.warnings!.join()).toMatch(/no preamble and no file meta/);
    }
    // file meta group without the 128-byte preamble
    const r = await readDicomFile(file('meta-no-preamble', dicomFile(ctElements(), { ts: IMPLICIT_LE, preamble: false })));
    expect(r.code).toBe('OK');
    expect(r.fields!.transferSyntaxUid).toBe(IMPLICIT_LE);
  });
  test('deflated stream cut short', async () => {
    const bytes = dicomFile(ctElements(), { ts: DEFLATED });
    expect((await classify('deflate-cut.dcm', bytes.subarray(0, bytes.length - 20))).code).toBe('TRUNCATED');
  });
});

describe('values that survive real files', () => {
  async function meta(els: El[], ts = IMPLICIT_LE) {
    const r = await readDicomFile(file(`v-${Math.random()}.dcm`, dicomFile(els, { ts })), { withMeta: true });
    expect(r.code).toBe('OK');
    return r;
  }
  test('DS/IS edge values', async () => {
    const r = await meta(ctElements({
      thickness: { tag: 0x00180050, vr: 'DS', value: ' +1.25E+00 ' },
      instance: { tag: 0x00200013, vr: 'IS', value: ' -0012' },
      spacing: { tag: 0x00280030, vr: 'DS', value: '.5\\5.e-1\0' },
      position: { tag: 0x00200032, vr: 'DS', value: '-1e2\\ 2 \\3.000000000' },
    }, [{ tag: 0x00181150, vr: 'IS', value: 'abc' }]));
    expect(r.fields).toMatchObject({ sliceThickness: 1.25, instanceNumber: -12, pixelSpacingRow: 0.5, pixelSpacingCol: 0.5, imagePositionPatient: [-100, 2, 3] });
    expect(r.meta!['00181150']).toEqual({ vr: 'IS' });
    expect(r.warnings!.join()).toMatch(/'abc' is not a number/);
  });
  test('odd lengths, multi-valued strings, empty elements, retired tags, group lengths', async () => {
    const r = await meta(ctElements({ modality: { tag: 0x00080060, vr: 'CS', value: 'MR', noPad: false } }, [
      { tag: 0x00080008, vr: 'CS', value: 'ORIGINAL\\PRIMARY\\AXIAL' },
      { tag: 0x00081030, vr: 'LO', value: 'ODD', noPad: true },
      { tag: 0x00081040, vr: 'LO', value: '' },
      { tag: 0x00080040, vr: 'US', value: [3] }, // retired DataSetType
      { tag: 0x00180000, vr: 'UL', value: [1234] }, // group length
      { tag: 0x00200010, vr: 'SH', value: 'A\\\\B' },
    ].sort((a, b) => a.tag - b.tag)), IMPLICIT_LE);
    expect(r.meta!['00080008'].Value).toEqual(['ORIGINAL', 'PRIMARY', 'AXIAL']);
    expect(r.meta!['00081030']).toEqual({ vr: 'LO', Value: ['ODD'] });
    expect(r.meta!['00081040']).toEqual({ vr: 'LO' });
    expect(r.meta!['00080040']).toEqual({ vr: 'US', Value: [3] });
    expect(r.meta!['00180000']).toEqual({ vr: 'UL', Value: [1234] });
    expect(r.meta!['00200010'].Value).toEqual(['A', null, 'B']);
  });
  for (const ts of [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE]) {
    test(`sequences, defined and undefined lengths, nested (${ts})`, async () => {
      const inner: El = { tag: 0x00081155, vr: 'UI', value: '1.2.3.4' };
      const r = await meta(ctElements({}, [
        { tag: 0x00081140, vr: 'SQ', items: [[{ tag: 0x00081150, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' }, inner], [inner]] },
        { tag: 0x00082112, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00081150, vr: 'UI', value: '1.2' }, { tag: 0x00089215, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00080100, vr: 'SH', value: '121320' }]] }], []] },
        { tag: 0x00400275, vr: 'SQ', items: [] },
      ].sort((a, b) => a.tag - b.tag)), ts);
      expect(r.meta!['00081140'].Value).toEqual([
        { '00081150': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }, '00081155': { vr: 'UI', Value: ['1.2.3.4'] } },
        { '00081155': { vr: 'UI', Value: ['1.2.3.4'] } },
      ]);
      expect(r.meta!['00082112'].Value).toEqual([
        { '00081150': { vr: 'UI', Value: ['1.2'] }, '00089215': { vr: 'SQ', Value: [{ '00080100': { vr: 'SH', Value: ['121320'] } }] } },
        {},
      ]);
      expect(r.meta!['00400275']).toEqual({ vr: 'SQ' });
    });
  }
  test('private tags and private sequences in implicit VR', async () => {
    const r = await meta(ctElements({}, [
      { tag: 0x00090010, vr: 'LO', value: 'GEMS_IDEN_01' },
      { tag: 0x00091001, vr: 'LO', value: 'CT_SCANNER' }, // known to the private dictionary as LO
      { tag: 0x00190010, vr: 'LO', value: 'ACME 1.0' },
      { tag: 0x00191001, vr: 'SQ', items: [[{ tag: 0x00100020, vr: 'LO', value: 'inner' }]] }, // unknown, defined length
      { tag: 0x00191002, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00100020, vr: 'LO', value: 'inner2' }]] },
      { tag: 0x00191003, vr: 'UN', value: new Uint8Array([1, 2, 3, 4]) },
    ]), IMPLICIT_LE);
    expect(r.meta!['00090010']).toEqual({ vr: 'LO', Value: ['GEMS_IDEN_01'] });
    expect(r.meta!['00091001']).toEqual({ vr: 'LO', Value: ['CT_SCANNER'] });
    expect(r.meta!['00191001'].Value).toEqual([{ '00100020': { vr: 'LO', Value: ['inner'] } }]);
    expect(r.meta!['00191002'].Value).toEqual([{ '00100020': { vr: 'LO', Value: ['inner2'] } }]);
    expect(r.meta!['00191003']).toEqual({ vr: 'UN', InlineBinary: Buffer.from([1, 2, 3, 4]).toString('base64') });
  });
  test('explicit UN of undefined length holds an implicit VR sequence', async () => {
    const seq = encodeDataSet([{ tag: 0x00191001, vr: 'SQ', undefinedLength: true, items: [[{ tag: 0x00100020, vr: 'LO', value: 'X' }]] }], { explicit: false, littleEndian: true });
    // rewrite the implicit header (tag + FFFFFFFF) as an explicit UN header
    const un = Buffer.concat([seq.subarray(0, 4), Buffer.from('UN\0\0', 'latin1'), Buffer.from([0xff, 0xff, 0xff, 0xff]), seq.subarray(8)]);
    const els = ctElements({}, [{ tag: 0x00190010, vr: 'LO', value: 'ACME' }]);
    const before = encodeDataSet(els.filter((e) => e.tag < 0x00191001), { explicit: true, littleEndian: true });
    const after = encodeDataSet(els.filter((e) => e.tag > 0x00191001), { explicit: true, littleEndian: true });
    const bytes = Buffer.concat([dicomFile([], { ts: EXPLICIT_LE }), before, un, after]);
    const r = await readDicomFile(file('un-seq.dcm', bytes), { withMeta: true });
    expect(r.code).toBe('OK');
    expect(r.meta!['00191001']).toEqual({ vr: 'SQ', Value: [{ '00100020': { vr: 'LO', Value: ['X'] } }] });
  });
  test('binary values: small inline, large as BulkDataURI', async () => {
    const r = await meta(ctElements({}, [
      { tag: 0x00291010, vr: 'OB', value: new Uint8Array(64).fill(7) },
      { tag: 0x00291020, vr: 'OB', value: new Uint8Array(66).fill(7) },
      { tag: 0x00290010, vr: 'LO', value: 'SIEMENS CSA HEADER' },
    ].sort((a, b) => a.tag - b.tag)), EXPLICIT_LE);
    expect(r.meta!['00291010'].InlineBinary).toBe(Buffer.alloc(64, 7).toString('base64'));
    expect(r.meta!['00291020'].BulkDataURI).toMatch(/^bulk:00291020\?offset=\d+&length=66$/);
  });
  test('small OW values are inlined little endian, also from big endian files', async () => {
    for (const ts of [EXPLICIT_LE, EXPLICIT_BE]) {
      const r = await meta(ctElements({}, [{ tag: 0x00283006, vr: 'OW', value: ts === EXPLICIT_BE ? new Uint8Array([0x12, 0x34, 0x56, 0x78]) : new Uint8Array([0x34, 0x12, 0x78, 0x56]) }]), ts);
      expect(r.meta!['00283006']).toEqual({ vr: 'OW', InlineBinary: Buffer.from([0x34, 0x12, 0x78, 0x56]).toString('base64') });
    }
  });
  test('dates: invalid ones become null', async () => {
    const r = await meta(ctElements({ studyDate: { tag: 0x00080020, vr: 'DA', value: '20230230' }, acqDate: { tag: 0x00080022, vr: 'DA', value: '1999.12.31' } }));
    expect(r.fields!.studyDate).toBeNull();
    expect(r.fields!.acquisitionDate).toBe('1999-12-31');
  });
  test('hostile nesting is a PARSE_ERROR, not a stack overflow', async () => {
    let el: El = { tag: 0x00100020, vr: 'LO', value: 'deep' };
    for (let i = 0; i < 200; i++) el = { tag: 0x00081140, vr: 'SQ', undefinedLength: true, items: [[el]] };
    const r = await readDicomFile(file('deep.dcm', dicomFile(ctElements({}, [el]), { ts: EXPLICIT_LE })));
    expect(r.code).toBe('PARSE_ERROR');
    expect(r.message).toMatch(/nested deeper/);
  });
});
