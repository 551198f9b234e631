/** The catalog fields (InstanceFields) picked from a header in the DICOM JSON model. */
import type { InstanceFields } from '../records';
import type { DicomJson } from './types';

export { parseDecimalString, parseIntegerString } from './json';

export const TAGS = {
  transferSyntaxUid: '00020010',
  specificCharacterSet: '00080005',
  sopClassUid: '00080016',
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

/**
 * Image Storage SOP classes (PS3.4 B.5): their IODs require Rows, Columns and Pixel Data (or Float / Double Float
 * Pixel Data). Non-image objects (SR, presentation states, RT structure sets and plans, waveforms, encapsulated
 * documents, raw data, RT Dose whose pixels are conditional, MR spectroscopy) are not listed, so they are not checked.
 */
export const IMAGE_STORAGE_SOP_CLASSES: ReadonlyMap<string, string> = new Map([
  ['1.2.840.10008.5.1.4.1.1.1', 'Computed Radiography Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.1.1', 'Digital X-Ray Image Storage - For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.1.1.1', 'Digital X-Ray Image Storage - For Processing'],
  ['1.2.840.10008.5.1.4.1.1.1.2', 'Digital Mammography X-Ray Image Storage - For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.1.2.1', 'Digital Mammography X-Ray Image Storage - For Processing'],
  ['1.2.840.10008.5.1.4.1.1.1.3', 'Digital Intra-Oral X-Ray Image Storage - For Presentation'],
  ['1.2.840.10008.5.1.4.1.1.1.3.1', 'Digital Intra-Oral X-Ray Image Storage - For Processing'],
  ['1.2.840.10008.5.1.4.1.1.2', 'CT Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.2.1', 'Enhanced CT Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.2.2', 'Legacy Converted Enhanced CT Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.3.1', 'Ultrasound Multi-frame Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.4', 'MR Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.4.1', 'Enhanced MR Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.4.3', 'Enhanced MR Color Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.4.4', 'Legacy Converted Enhanced MR Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.6.1', 'Ultrasound Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.6.2', 'Enhanced US Volume Storage'],
  ['1.2.840.10008.5.1.4.1.1.7', 'Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.1', 'Multi-frame Single Bit Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.2', 'Multi-frame Grayscale Byte Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.3', 'Multi-frame Grayscale Word Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.7.4', 'Multi-frame True Color Secondary Capture Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.1', 'X-Ray Angiographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.1.1', 'Enhanced XA Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.2', 'X-Ray Radiofluoroscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.12.2.1', 'Enhanced XRF Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.13.1.1', 'X-Ray 3D Angiographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.13.1.2', 'X-Ray 3D Craniofacial Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.13.1.3', 'Breast Tomosynthesis Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.20', 'Nuclear Medicine Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.30', 'Parametric Map Storage'],
  ['1.2.840.10008.5.1.4.1.1.66.4', 'Segmentation Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.1', 'VL Endoscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.2', 'VL Microscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.3', 'VL Slide-Coordinates Microscopic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.4', 'VL Photographic Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.1', 'Ophthalmic Photography 8 Bit Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.5.2', 'Ophthalmic Photography 16 Bit Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.77.1.6', 'VL Whole Slide Microscopy Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.128', 'Positron Emission Tomography Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.128.1', 'Legacy Converted Enhanced PET Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.130', 'Enhanced PET Image Storage'],
  ['1.2.840.10008.5.1.4.1.1.481.1', 'RT Image Storage'],
]);

/**
 * For an image SOP class: the missing image data as a code and message (Pixel Data first, then Rows / Columns), or
 * null. `hasPixelData`: the reader found a top-level (7FE0,0010), (7FE0,0008) or (7FE0,0009) element header.
 */
export function missingImageData(meta: DicomJson, fields: InstanceFields, hasPixelData: boolean): { code: string; message: string } | null {
  const sopClass = firstString(meta, TAGS.sopClassUid);
  const name = sopClass ? IMAGE_STORAGE_SOP_CLASSES.get(sopClass) : undefined;
  if (!name) return null;
  if (!hasPixelData) return { code: 'MISSING_PIXEL_DATA', message: `${name} without Pixel Data (7FE0,0010), Float Pixel Data (7FE0,0008) or Double Float Pixel Data (7FE0,0009)` };
  const absent = [fields.rows === null ? 'Rows (0028,0010)' : '', fields.columns === null ? 'Columns (0028,0011)' : ''].filter(Boolean);
  if (absent.length) return { code: 'MISSING_IMAGE_SIZE', message: `${name} without ${absent.join(' and ')}` };
  return null;
}
