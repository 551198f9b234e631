/**
 * The one taxonomy of validation codes. File-level codes land in validation.csv / validation_results,
 * series-level codes in series_issues. Each code has a fixed meaning; messages add the specifics
 * (which tag, which offset, which file). README's "Validation codes" table is generated from this list
 * (`dicomflow codes`), so it cannot drift.
 */
export interface CodeInfo {
  code: string;
  level: 'file' | 'series';
  status: 'valid' | 'invalid' | 'duplicate' | 'conflict' | 'skipped' | 'refused' | 'series';
  meaning: string;
}

export const CODES = {
  // --- a valid file
  OK: { level: 'file', status: 'valid', meaning: 'Valid DICOM instance, catalogued and placed in the tree.' },
  // --- invalid files
  EMPTY_FILE: { level: 'file', status: 'invalid', meaning: 'The file has zero bytes.' },
  NOT_DICOM: { level: 'file', status: 'invalid', meaning: 'No DICM marker after the 128-byte preamble and the bytes do not parse as a DICOM data set.' },
  BAD_FILE_META: { level: 'file', status: 'invalid', meaning: 'DICM marker present but the file meta group (0002,xxxx) is unreadable.' },
  UNSUPPORTED_TRANSFER_SYNTAX: { level: 'file', status: 'invalid', meaning: 'Transfer syntax whose header encoding we cannot read (not implicit/explicit VR little endian, explicit big endian, deflated or an encapsulated pixel syntax).' },
  PARSE_ERROR: { level: 'file', status: 'invalid', meaning: 'The data set is malformed: an element or item header is corrupt.' },
  TRUNCATED: { level: 'file', status: 'invalid', meaning: 'An element (Pixel Data included) declares more bytes than the file has left.' },
  MISSING_SOP_INSTANCE_UID: { level: 'file', status: 'invalid', meaning: 'SOP Instance UID (0008,0018) is missing or empty.' },
  MISSING_STUDY_INSTANCE_UID: { level: 'file', status: 'invalid', meaning: 'Study Instance UID (0020,000D) is missing or empty.' },
  MISSING_SERIES_INSTANCE_UID: { level: 'file', status: 'invalid', meaning: 'Series Instance UID (0020,000E) is missing or empty.' },
  MISSING_PIXEL_DATA: { level: 'file', status: 'invalid', meaning: 'An image SOP class (CT, MR, CR, DX, PET, US, SC ... Image Storage) without Pixel Data, Float Pixel Data or Double Float Pixel Data (7FE0,0010 / 0008 / 0009): the file holds no image, e.g. it was cut after the header.' },
  MISSING_IMAGE_SIZE: { level: 'file', status: 'invalid', meaning: 'An image SOP class with Pixel Data but without Rows (0028,0010) or Columns (0028,0011).' },
  READ_ERROR: { level: 'file', status: 'invalid', meaning: 'The file could not be read from disk (permissions, I/O error).' },
  // --- placed elsewhere / not placed
  DUPLICATE_INSTANCE: { level: 'file', status: 'duplicate', meaning: 'Same SOP Instance UID and identical bytes as an earlier file: kept once.' },
  CONFLICTING_INSTANCE: { level: 'file', status: 'conflict', meaning: 'Same SOP Instance UID as an earlier file but different bytes: the later file is not placed.' },
  // --- extract decisions
  SKIPPED_MACOS_METADATA: { level: 'file', status: 'skipped', meaning: 'macOS metadata (__MACOSX/ folder or ._ AppleDouble file), not DICOM.' },
  SKIPPED_NESTED_ZIP: { level: 'file', status: 'skipped', meaning: 'A nested zip archive: its entries were extracted and are listed under its path.' },
  SKIPPED_NOT_A_FILE: { level: 'file', status: 'skipped', meaning: 'Symbolic link, device or other non-regular entry.' },
  REFUSED_UNSAFE_PATH: { level: 'file', status: 'refused', meaning: 'Zip entry with an absolute path, a drive letter or ".." that would escape the extraction folder: never written.' },
  REFUSED_BAD_ENTRY: { level: 'file', status: 'refused', meaning: 'Zip entry that could not be extracted (corrupt data, bad CRC, unsupported compression, or a nested zip that does not open).' },
  // --- series-level findings
  INSTANCE_NUMBER_GAP: { level: 'series', status: 'series', meaning: 'InstanceNumber values skip numbers: slices may be missing.' },
  DUPLICATE_INSTANCE_NUMBER: { level: 'series', status: 'series', meaning: 'Two instances of the series share an InstanceNumber.' },
  DUPLICATE_POSITION: { level: 'series', status: 'series', meaning: 'Two instances of the series share an ImagePositionPatient.' },
  MIXED_SLICE_THICKNESS: { level: 'series', status: 'series', meaning: 'SliceThickness differs within the series.' },
  MIXED_PIXEL_SPACING: { level: 'series', status: 'series', meaning: 'PixelSpacing differs within the series.' },
  MIXED_DIMENSIONS: { level: 'series', status: 'series', meaning: 'Rows/Columns differ within the series.' },
  MIXED_MODALITY: { level: 'series', status: 'series', meaning: 'Modality differs within the series.' },
  UNEVEN_SLICE_SPACING: { level: 'series', status: 'series', meaning: 'Slice positions along the slice normal are not evenly spaced (beyond tolerance).' },
  SPACING_THICKNESS_MISMATCH: { level: 'series', status: 'series', meaning: 'Slice spacing along the normal disagrees with SliceThickness beyond tolerance.' },
} as const satisfies Record<string, Omit<CodeInfo, 'code'>>;

export type Code = keyof typeof CODES;

export function codeList(): CodeInfo[] {
  return Object.entries(CODES).map(([code, info]) => ({ code, ...info }));
}
