/** DICOM JSON model (DICOM PS3.18 Annex F): keys are 8 upper-case hex digits, e.g. "0020000D". */
export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  BulkDataURI?: string;
  InlineBinary?: string;
}
export type DicomJson = Record<string, DicomJsonElement>;
