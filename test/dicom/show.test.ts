import { keywordOf, vrOf } from '../../src/dicom/dictionary';
import { readDicomBytes } from '../../src/dicom/read';
import { formatHeader } from '../../src/dicom/show';
import iconv from 'iconv-lite';
import { ctElements, dicomFile, IMPLICIT_LE } from './bytes';

test('keywordOf: standard, retired, repeating-group, group length, private and unknown tags', () => {
  expect(keywordOf('0020000D')).toBe('StudyInstanceUID');
  expect(keywordOf('0020000d')).toBe('StudyInstanceUID');
  expect(keywordOf('00100010')).toBe('PatientName');
  expect(keywordOf('00080040')).toBe('DataSetType'); // retired, shown without dcmtk's RETIRED_ prefix
  expect(keywordOf('60023000')).toBe('OverlayData');
  expect(keywordOf('00180000')).toBe('GroupLength');
  expect(keywordOf('00090010')).toBe('PrivateCreator');
  expect(keywordOf('00091001')).toBeUndefined();
  expect(keywordOf('7FE00010')).toBe('PixelData');
  expect(vrOf(0x00280106)).toBe('US');
  expect(vrOf(0x00191001, 'GEMS_ACQU_01')).not.toBe('UN');
});

test('formatHeader prints keyword, tag, VR and value, sequences indented', () => {
  const bytes = dicomFile(ctElements({ charset: { tag: 0x00080005, vr: 'CS', value: 'ISO_IR 126' }, patientName: { tag: 0x00100010, vr: 'PN', value: iconv.encode('Διονυσιος', 'iso-8859-7') } }, [
    { tag: 0x00081140, vr: 'SQ', items: [[{ tag: 0x00081155, vr: 'UI', value: '1.2.3.4' }]] },
  ]), { ts: IMPLICIT_LE });
  const r = readDicomBytes(bytes, bytes.length, { withMeta: true });
  const text = formatHeader(r.meta!);
  const lines = text.split('\n');
  expect(lines).toContain('PatientName (0010,0010) PN Διονυσιος');
  expect(lines).toContain('SliceThickness (0018,0050) DS 2.5');
  expect(lines).toContain('ImagePositionPatient (0020,0032) DS -125.5\\-130\\-17.5');
  expect(lines).toContain('TransferSyntaxUID (0002,0010) UI 1.2.840.10008.1.2');
  expect(lines).toContain('ReferencedImageSequence (0008,1140) SQ (1 item)');
  expect(lines).toContain('    ReferencedSOPInstanceUID (0008,1155) UI 1.2.3.4');
  expect(text).toMatch(/^PixelData \(7FE0,0010\) OW <bulk data bulk:7FE00010\?offset=\d+&length=32>$/m);
  // sorted by tag
  expect(lines.findIndex((l) => l.startsWith('PatientName'))).toBeLessThan(lines.findIndex((l) => l.startsWith('SliceThickness')));
});
