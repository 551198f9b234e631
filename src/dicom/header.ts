/** The catalog fields (InstanceFields) picked from a header in the DICOM JSON model. */
import type { InstanceFields } from '../records';
import type { DicomJson } from './types';

export { parseDecimalString, parseIntegerString } from './json';

export const TAGS = {
  transferSyntaxUid: '00020010',
  specificCharacterSet: '00080005',
  sopInstanceUid: '00080018',
  studyDate: '00080020',
  acquisitionDate: '00080022',
  modality: '00080060',
  patientId: '00100020',
  sliceThickness: '00180050',
  studyInstanceUid: '0020000D',
  seriesInstanceUid: '0020000E',
  instanceNumber: '00200013',
  imagePositionPatient: '00200032',
  imageOrientationPatient: '00200037',
  rows: '00280010',
  columns: '00280011',
  pixelSpacing: '00280030',
} as const;

function values(meta: DicomJson, tag: string): unknown[] {
  return meta[tag]?.Value ?? [];
}

export function firstString(meta: DicomJson, tag: string): string | null {
  const v = values(meta, tag)[0];
  return typeof v === 'string' && v !== '' ? v : null;
}

export function firstNumber(meta: DicomJson, tag: string): number | null {
  const v = values(meta, tag)[0];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** All values as numbers, or null when absent or any value is not a number. */
export function numberArray(meta: DicomJson, tag: string, count?: number): number[] | null {
  const vs = values(meta, tag);
  if (vs.length === 0 || (count !== undefined && vs.length !== count)) return null;
  return vs.every((v) => typeof v === 'number' && Number.isFinite(v)) ? (vs as number[]) : null;
}

/** DICOM DA ('YYYYMMDD', or the old 'YYYY.MM.DD') → ISO 'YYYY-MM-DD'; null when not a real date. */
export function dicomDateToIso(da: string | null): string | null {
  if (!da) return null;
  const m = /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(da.trim());
  if (!m) return null;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return `${m[1]}-${m[2]}-${m[3]}`;
}

export function instanceFields(meta: DicomJson, fileSize: number): InstanceFields {
  const spacing = numberArray(meta, TAGS.pixelSpacing);
  return {
    patientId: firstString(meta, TAGS.patientId),
    studyInstanceUid: firstString(meta, TAGS.studyInstanceUid) ?? '',
    seriesInstanceUid: firstString(meta, TAGS.seriesInstanceUid) ?? '',
    sopInstanceUid: firstString(meta, TAGS.sopInstanceUid) ?? '',
    sliceThickness: firstNumber(meta, TAGS.sliceThickness),
    pixelSpacingRow: spacing && spacing.length >= 2 ? spacing[0] : null,
    pixelSpacingCol: spacing && spacing.length >= 2 ? spacing[1] : null,
    studyDate: dicomDateToIso(firstString(meta, TAGS.studyDate)),
    acquisitionDate: dicomDateToIso(firstString(meta, TAGS.acquisitionDate)),
    instanceNumber: firstNumber(meta, TAGS.instanceNumber),
    modality: firstString(meta, TAGS.modality),
    rows: firstNumber(meta, TAGS.rows),
    columns: firstNumber(meta, TAGS.columns),
    transferSyntaxUid: firstString(meta, TAGS.transferSyntaxUid),
    fileSize,
    imagePositionPatient: numberArray(meta, TAGS.imagePositionPatient, 3),
    imageOrientationPatient: numberArray(meta, TAGS.imageOrientationPatient, 6),
  };
}

/** The first missing identifying UID, as a code and message, or null when all three are there. */
export function missingUid(fields: InstanceFields): { code: string; message: string } | null {
  if (!fields.sopInstanceUid) return { code: 'MISSING_SOP_INSTANCE_UID', message: 'SOP Instance UID (0008,0018) is missing or empty' };
  if (!fields.studyInstanceUid) return { code: 'MISSING_STUDY_INSTANCE_UID', message: 'Study Instance UID (0020,000D) is missing or empty' };
  if (!fields.seriesInstanceUid) return { code: 'MISSING_SERIES_INSTANCE_UID', message: 'Series Instance UID (0020,000E) is missing or empty' };
  return null;
}
