/**
 * One synthetic CT series of known geometry, for the export's NIfTI tests (and anyone who needs a volume whose
 * voxels and affine are known): any orientation (a tilted gantry), any spacing, Rescale Slope/Intercept, and the
 * files written in a shuffled Instance Number order, so a reader that sorts by Instance Number gets it wrong.
 * Pixel values are a deterministic function of (column, row, slice): pixelValue() gives them.
 */
import { writeDicom, type El, type TransferSyntax } from '../dicom/writer';

export interface CtSeriesOptions {
  rows: number;
  columns: number;
  slices: number;
  /** (row spacing, column spacing) in mm: PixelSpacing. */
  pixelSpacing: [number, number];
  /** Distance between slice centres along the normal, mm. */
  sliceSpacing: number;
  /** ImageOrientationPatient: row direction, column direction (unit, orthogonal). */
  orientation: [number, number, number, number, number, number];
  /** ImagePositionPatient of the slice with index 0. */
  origin: [number, number, number];
  slope?: number;
  intercept?: number;
  /** Instance Number of slice index k: a permutation of 1..slices (default: a fixed shuffle). */
  instanceNumbers?: number[];
  seed?: number;
  patientId?: string;
  studyUid?: string;
  seriesUid?: string;
  frameOfReferenceUid?: string;
  transferSyntax?: TransferSyntax;
}

/** The stored (raw) value at column x, row y of slice k: a signed 16-bit pattern. */
export function pixelValue(x: number, y: number, k: number, seed = 1): number {
  return ((x * 7 + y * 13 + k * 101 + seed * 17) % 2000) - 900;
}

const cross = (a: number[], b: number[]) => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

/** Slice k's ImagePositionPatient: origin + k * sliceSpacing along the normal. */
export function slicePosition(o: CtSeriesOptions, k: number): [number, number, number] {
  const n = cross(o.orientation.slice(0, 3), o.orientation.slice(3));
  return [0, 1, 2].map((i) => o.origin[i] + k * o.sliceSpacing * n[i]) as [number, number, number];
}

/** A shuffle of 1..n fixed by the seed (never the identity for n > 2). */
export function shuffledNumbers(n: number, seed = 1): number[] {
  const a = Array.from({ length: n }, (_, i) => i + 1);
  let s = seed * 2654435761;
  for (let i = n - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  if (n > 2 && a.every((v, i) => v === i + 1)) a.reverse();
  return a;
}

/** The series' files: [file name, bytes], in slice order k = 0..slices-1 (names follow Instance Number). */
export function ctSeriesFiles(o: CtSeriesOptions): { name: string; bytes: Buffer; k: number; sop: string }[] {
  const seed = o.seed ?? 1;
  const numbers = o.instanceNumbers ?? shuffledNumbers(o.slices, seed);
  const study = o.studyUid ?? `1.2.826.0.1.3680043.10.1234.${seed}.1`;
  const series = o.seriesUid ?? `${study}.2`;
  const frame = o.frameOfReferenceUid ?? `${study}.3`;
  return Array.from({ length: o.slices }, (_, k) => {
    const pixels = Buffer.alloc(o.rows * o.columns * 2);
    for (let y = 0; y < o.rows; y++) for (let x = 0; x < o.columns; x++) pixels.writeInt16LE(pixelValue(x, y, k, seed), (y * o.columns + x) * 2);
    const sop = `${series}.${k + 1}`;
    const els: El[] = [
      { tag: '00080008', vr: 'CS', value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] },
      { tag: '00080016', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { tag: '00080018', vr: 'UI', value: sop },
      { tag: '00080020', vr: 'DA', value: '20200102' },
      { tag: '00080030', vr: 'TM', value: '101010' },
      { tag: '00080060', vr: 'CS', value: 'CT' },
      { tag: '00080070', vr: 'LO', value: 'SYNTH' },
      { tag: '00100010', vr: 'PN', value: 'Volume^Test' },
      { tag: '00100020', vr: 'LO', value: o.patientId ?? 'VOL-1' },
      { tag: '00180050', vr: 'DS', value: o.sliceSpacing },
      { tag: '0020000D', vr: 'UI', value: study },
      { tag: '0020000E', vr: 'UI', value: series },
      { tag: '00200011', vr: 'IS', value: 1 },
      { tag: '00200013', vr: 'IS', value: numbers[k] },
      { tag: '00200032', vr: 'DS', value: slicePosition(o, k) },
      { tag: '00200037', vr: 'DS', value: o.orientation },
      { tag: '00200052', vr: 'UI', value: frame },
      { tag: '00280002', vr: 'US', value: 1 },
      { tag: '00280004', vr: 'CS', value: 'MONOCHROME2' },
      { tag: '00280010', vr: 'US', value: o.rows },
      { tag: '00280011', vr: 'US', value: o.columns },
      { tag: '00280030', vr: 'DS', value: o.pixelSpacing },
      { tag: '00280100', vr: 'US', value: 16 },
      { tag: '00280101', vr: 'US', value: 16 },
      { tag: '00280102', vr: 'US', value: 15 },
      { tag: '00280103', vr: 'US', value: 1 },
      { tag: '00281052', vr: 'DS', value: o.intercept ?? -1024 },
      { tag: '00281053', vr: 'DS', value: o.slope ?? 1 },
      { tag: '7FE00010', vr: 'OW', value: pixels },
    ];
    return { name: `${String(numbers[k]).padStart(4, '0')}.dcm`, bytes: writeDicom(els, { transferSyntax: o.transferSyntax ?? 'explicit-le' }), k, sop };
  });
}
