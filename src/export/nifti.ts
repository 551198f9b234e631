/**
 * One series as a NIfTI-1 volume (.nii.gz), the way dcm2niix writes it:
 *
 * - slices are ordered along the slice normal (row direction x column direction of ImageOrientationPatient) by
 *   the projection of ImagePositionPatient on it, never by InstanceNumber;
 * - voxel i runs along a row (columns), j along a column (rows), k along the normal; like dcm2niix the rows are
 *   stored bottom-up (j flipped) and the affine says so;
 * - the affine maps voxels to RAS+ millimetres (DICOM's LPS with x and y negated), written as sform and qform
 *   (code 1, scanner); pixdim holds the spacing (the 3rd the distance between slice centres);
 * - voxel values are the stored values with RescaleSlope/Intercept applied: int16 for CT (and whenever every value
 *   is a whole number in int16's range), float32 otherwise; scl_slope 1, scl_inter 0.
 *
 * A series that cannot form one volume (compressed Pixel Data, several frames, colour, mixed sizes or orientations,
 * slices not evenly spaced, duplicate positions) is refused with a reason.
 */
import { gzip } from 'zlib';
import { promisify } from 'util';

const gzipAsync = promisify(gzip);
/** Lets timers (the activity's heartbeats) run between slices. */
const tick = () => new Promise<void>((r) => setImmediate(r));
import type { El } from '../dicom/writer';
import { find, textOf, type FileDataset } from './dataset';

/** series_issues codes that mean the series is not one regular volume. */
export const UNFIT_ISSUES = new Set(['INSTANCE_NUMBER_GAP', 'DUPLICATE_POSITION', 'MIXED_PIXEL_SPACING', 'MIXED_DIMENSIONS', 'MIXED_MODALITY', 'UNEVEN_SLICE_SPACING']);

export class Unfit extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

type V3 = [number, number, number];

function numbers(el: El | undefined): number[] {
  const t = textOf(el);
  if (!t) return [];
  return t.split('\\').map((s) => Number(s.trim()));
}

function uint(el: El | undefined): number | undefined {
  if (!el || !(el.value instanceof Uint8Array) || el.value.length < 2) return undefined;
  return Buffer.from(el.value).readUInt16LE(0);
}

const dot = (a: V3, b: V3) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: V3, b: V3): V3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];

interface Geometry {
  rows: number;
  columns: number;
  rowDir: V3;
  colDir: V3;
  /** (row spacing, column spacing): PixelSpacing's two values. */
  spacing: [number, number];
  position: V3;
  bits: number;
  signed: boolean;
  slope: number;
  intercept: number;
  pixels: Uint8Array;
}

function geometryOf(ds: FileDataset, index: number): Geometry {
  const els = ds.elements;
  if (ds.encapsulated) throw new Unfit('COMPRESSED', `compressed Pixel Data (transfer syntax ${ds.transferSyntaxUid}) is not converted`);
  const frames = Number(textOf(find(els, '00280008')) ?? '1');
  if (frames > 1) throw new Unfit('MULTI_FRAME', `an instance holds ${frames} frames`);
  if ((uint(find(els, '00280002')) ?? 1) !== 1) throw new Unfit('NOT_GRAYSCALE', 'SamplesPerPixel is not 1');
  const iop = numbers(find(els, '00200037'));
  const ipp = numbers(find(els, '00200032'));
  const ps = numbers(find(els, '00280030'));
  if (iop.length !== 6 || ipp.length !== 3 || ps.length !== 2 || [...iop, ...ipp, ...ps].some((n) => !Number.isFinite(n))) {
    throw new Unfit('NO_GEOMETRY', `instance ${index + 1} lacks ImagePositionPatient, ImageOrientationPatient or PixelSpacing`);
  }
  const rows = uint(find(els, '00280010'));
  const columns = uint(find(els, '00280011'));
  const bits = uint(find(els, '00280100'));
  const pixel = find(els, '7FE00010');
  if (!rows || !columns || (bits !== 8 && bits !== 16) || !pixel || !(pixel.value instanceof Uint8Array)) throw new Unfit('NO_PIXELS', `instance ${index + 1} has no 8- or 16-bit Pixel Data`);
  if (pixel.value.length < rows * columns * (bits / 8)) throw new Unfit('NO_PIXELS', `instance ${index + 1}: Pixel Data shorter than Rows x Columns`);
  const slope = Number(textOf(find(els, '00281053')) ?? '1') || 1;
  const intercept = Number(textOf(find(els, '00281052')) ?? '0') || 0;
  return {
    rows,
    columns,
    rowDir: iop.slice(0, 3) as V3,
    colDir: iop.slice(3, 6) as V3,
    spacing: [ps[0], ps[1]],
    position: ipp as V3,
    bits,
    signed: uint(find(els, '00280103')) === 1,
    slope,
    intercept,
    pixels: pixel.value,
  };
}

export interface Volume {
  /** The .nii.gz file's bytes. */
  bytes: Buffer;
  dims: [number, number, number];
  pixdim: [number, number, number];
  /** srow_x, srow_y, srow_z. */
  affine: number[][];
  datatype: 'int16' | 'float32';
}

/**
 * Builds the volume of one series from its instances (any order): `read(i)` gives instance i's data set. Each file is
 * read twice (geometry and value range, then the voxels in slice order) so only the output volume is held whole.
 * Throws Unfit.
 */
export async function buildVolume(count: number, read: (i: number) => FileDataset, modality: string | null): Promise<Volume> {
  if (count < 2) throw new Unfit('TOO_FEW_SLICES', `${count} slice: a volume needs at least 2`);
  let whole = true;
  let min = Infinity;
  let max = -Infinity;
  const g: Geometry[] = [];
  for (let i = 0; i < count; i++) {
    await tick();
    const s = geometryOf(read(i), i);
    const n = s.rows * s.columns;
    const px = Buffer.from(s.pixels.buffer, s.pixels.byteOffset, s.pixels.byteLength);
    for (let p = 0; p < n; p++) {
      const v = rawAt(px, p, s) * s.slope + s.intercept;
      if (!Number.isInteger(v)) whole = false;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    s.pixels = new Uint8Array(0); // held again in the second pass only
    g.push(s);
  }
  const first = g[0];
  const normal = cross(first.rowDir, first.colDir);
  for (const s of g) {
    if (s.rows !== first.rows || s.columns !== first.columns) throw new Unfit('MIXED_DIMENSIONS', 'Rows x Columns differ within the series');
    if (Math.abs(s.spacing[0] - first.spacing[0]) > 1e-4 || Math.abs(s.spacing[1] - first.spacing[1]) > 1e-4) throw new Unfit('MIXED_PIXEL_SPACING', 'PixelSpacing differs within the series');
    if (Math.abs(dot(s.rowDir, first.rowDir) - 1) > 1e-4 || Math.abs(dot(s.colDir, first.colDir) - 1) > 1e-4) throw new Unfit('NON_PARALLEL', 'ImageOrientationPatient differs within the series (slices not parallel)');
    if (s.bits !== first.bits || s.signed !== first.signed) throw new Unfit('MIXED_PIXELS', 'BitsAllocated or PixelRepresentation differ within the series');
  }
  const order = g.map((s, i) => ({ s, d: dot(s.position, normal), i })).sort((a, b) => a.d - b.d || a.i - b.i);
  const gaps = order.slice(1).map((o, k) => o.d - order[k].d);
  const step = (order[order.length - 1].d - order[0].d) / (order.length - 1);
  if (gaps.some((gap) => gap < 1e-3)) throw new Unfit('DUPLICATE_POSITION', 'two slices share a position along the normal');
  if (gaps.some((gap) => Math.abs(gap - step) > Math.max(0.01, 0.02 * step))) throw new Unfit('UNEVEN_SLICE_SPACING', `slices are not evenly spaced along the normal (${Math.min(...gaps).toFixed(3)}-${Math.max(...gaps).toFixed(3)} mm)`);
  // The third axis: from the first slice's position to the last's, per slice (dcm2niix does the same).
  const p0 = order[0].s.position;
  const lastPos = order[order.length - 1].s.position;
  const sliceVec = [0, 1, 2].map((k) => (lastPos[k] - p0[k]) / (order.length - 1)) as V3;

  const nx = first.columns;
  const ny = first.rows;
  const nz = order.length;
  const int16 = (modality ?? '').toUpperCase() === 'CT' || (whole && min >= -32768 && max <= 32767);
  const size = int16 ? 2 : 4;
  const data = Buffer.alloc(nx * ny * nz * size);
  for (const [k, { i }] of order.entries()) {
    await tick();
    const s = geometryOf(read(i), i);
    const px = Buffer.from(s.pixels.buffer, s.pixels.byteOffset, s.pixels.byteLength);
    for (let j = 0; j < ny; j++) {
      const row = ny - 1 - j; // rows bottom-up, as dcm2niix stores them
      for (let x = 0; x < nx; x++) {
        const v = rawAt(px, row * nx + x, s) * s.slope + s.intercept;
        const at = ((k * ny + j) * nx + x) * size;
        if (int16) data.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), at);
        else data.writeFloatLE(v, at);
      }
    }
  }
  const dc = first.spacing[1]; // column spacing: between neighbours along a row
  const dr = first.spacing[0];
  // LPS affine of voxel (i, j, k) with j flipped, then RAS (x and y negated).
  const cx = first.rowDir.map((v) => v * dc);
  const cy = first.colDir.map((v) => -v * dr);
  const origin = p0.map((v, k) => v + first.colDir[k] * dr * (ny - 1));
  const lps = [0, 1, 2].map((r) => [cx[r], cy[r], sliceVec[r], origin[r]]);
  const affine = lps.map((row, r) => (r < 2 ? row.map((v) => -v) : row));
  const dz = Math.hypot(...sliceVec);
  const header = niftiHeader([nx, ny, nz], [dc, dr, dz], affine, int16 ? 'int16' : 'float32');
  return { bytes: await gzipAsync(Buffer.concat([header, data]), { level: 6 }), dims: [nx, ny, nz], pixdim: [dc, dr, dz], affine, datatype: int16 ? 'int16' : 'float32' };
}

function rawAt(px: Buffer, p: number, s: Geometry): number {
  if (s.bits === 16) return s.signed ? px.readInt16LE(p * 2) : px.readUInt16LE(p * 2);
  return s.signed ? px.readInt8(p) : px[p];
}

/** NIfTI-1 header (348 bytes) and an empty extension flag: vox_offset 352. */
export function niftiHeader(dims: number[], pixdim: number[], affine: number[][], datatype: 'int16' | 'float32'): Buffer {
  const h = Buffer.alloc(352);
  h.writeInt32LE(348, 0);
  h.write('r', 38, 'latin1'); // regular
  h.writeInt16LE(3, 40);
  for (let k = 0; k < 7; k++) h.writeInt16LE(k < 3 ? dims[k] : 1, 42 + k * 2);
  h.writeInt16LE(datatype === 'int16' ? 4 : 16, 70);
  h.writeInt16LE(datatype === 'int16' ? 16 : 32, 72);
  const q = quaternion(affine);
  h.writeFloatLE(q.qfac, 76);
  for (let k = 0; k < 3; k++) h.writeFloatLE(pixdim[k], 80 + k * 4);
  for (let k = 3; k < 7; k++) h.writeFloatLE(k === 3 ? 1 : 0, 80 + k * 4);
  h.writeFloatLE(352, 108);
  h.writeFloatLE(1, 112);
  h.writeFloatLE(0, 116);
  h.writeUInt8(2 | 8, 123); // mm, s
  h.write('dicomflow export', 148, 'latin1');
  h.writeInt16LE(1, 252); // qform: scanner
  h.writeInt16LE(1, 254); // sform: scanner
  h.writeFloatLE(q.b, 256);
  h.writeFloatLE(q.c, 260);
  h.writeFloatLE(q.d, 264);
  for (let k = 0; k < 3; k++) h.writeFloatLE(affine[k][3], 268 + k * 4);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) h.writeFloatLE(affine[r][c], 280 + r * 16 + c * 4);
  h.write('n+1\0', 344, 'latin1');
  return h;
}

/** The qform quaternion of an affine (nifti1_io's mat44_to_quatern). */
export function quaternion(m: number[][]): { b: number; c: number; d: number; qfac: number } {
  let [r11, r12, r13] = [m[0][0], m[0][1], m[0][2]];
  let [r21, r22, r23] = [m[1][0], m[1][1], m[1][2]];
  let [r31, r32, r33] = [m[2][0], m[2][1], m[2][2]];
  const xd = Math.hypot(r11, r21, r31) || 1;
  const yd = Math.hypot(r12, r22, r32) || 1;
  const zd = Math.hypot(r13, r23, r33) || 1;
  r11 /= xd; r21 /= xd; r31 /= xd;
  r12 /= yd; r22 /= yd; r32 /= yd;
  r13 /= zd; r23 /= zd; r33 /= zd;
  const det = r11 * r22 * r33 - r11 * r32 * r23 - r21 * r12 * r33 + r21 * r32 * r13 + r31 * r12 * r23 - r31 * r22 * r13;
  let qfac = 1;
  if (det < 0) {
    qfac = -1;
    r13 = -r13; r23 = -r23; r33 = -r33;
  }
  let a = r11 + r22 + r33 + 1;
  let b: number, c: number, d: number;
  if (a > 0.5) {
    a = 0.5 * Math.sqrt(a);
    b = (0.25 * (r32 - r23)) / a;
    c = (0.25 * (r13 - r31)) / a;
    d = (0.25 * (r21 - r12)) / a;
  } else {
    const xx = 1 + r11 - (r22 + r33);
    const yy = 1 + r22 - (r11 + r33);
    const zz = 1 + r33 - (r11 + r22);
    if (xx > 1) {
      b = 0.5 * Math.sqrt(xx);
      a = (0.25 * (r32 - r23)) / b;
      c = (0.25 * (r12 + r21)) / b;
      d = (0.25 * (r13 + r31)) / b;
    } else if (yy > 1) {
      c = 0.5 * Math.sqrt(yy);
      a = (0.25 * (r13 - r31)) / c;
      b = (0.25 * (r12 + r21)) / c;
      d = (0.25 * (r23 + r32)) / c;
    } else {
      d = 0.5 * Math.sqrt(zz);
      a = (0.25 * (r21 - r12)) / d;
      b = (0.25 * (r13 + r31)) / d;
      c = (0.25 * (r23 + r32)) / d;
    }
    if (a < 0) {
      b = -b;
      c = -c;
      d = -d;
    }
  }
  return { b, c, d, qfac };
}

/** The sidecar's key metadata, read from the (de-identified when asked) first instance's elements. */
export function sidecar(elements: El[], volume: Volume, extra: Record<string, unknown>): Record<string, unknown> {
  const fields: [string, string][] = [
    ['Modality', '00080060'],
    ['Manufacturer', '00080070'],
    ['ManufacturersModelName', '00081090'],
    ['DeviceSerialNumber', '00181000'],
    ['StationName', '00081010'],
    ['InstitutionName', '00080080'],
    ['BodyPartExamined', '00180015'],
    ['ConvolutionKernel', '00181210'],
    ['KVP', '00180060'],
    ['SliceThickness', '00180050'],
    ['SeriesDescription', '0008103E'],
    ['StudyDescription', '00081030'],
    ['ProtocolName', '00181030'],
    ['StudyDate', '00080020'],
    ['SeriesDate', '00080021'],
    ['AcquisitionDate', '00080022'],
    ['PatientID', '00100020'],
    ['PatientName', '00100010'],
    ['PatientSex', '00100040'],
    ['PatientAge', '00101010'],
    ['PatientIdentityRemoved', '00120062'],
    ['DeidentificationMethod', '00120063'],
    ['StudyInstanceUID', '0020000D'],
    ['SeriesInstanceUID', '0020000E'],
    ['FrameOfReferenceUID', '00200052'],
  ];
  const out: Record<string, unknown> = {};
  for (const [name, tag] of fields) {
    const v = textOf(find(elements, tag));
    if (v === undefined || v.trim() === '') continue;
    const n = Number(v);
    out[name] = ['KVP', 'SliceThickness'].includes(name) && Number.isFinite(n) ? n : v.trim();
  }
  return {
    ...out,
    ImageOrientationPatientDICOM: numbers(find(elements, '00200037')),
    PixelSpacing: numbers(find(elements, '00280030')),
    SliceSpacing: volume.pixdim[2],
    Dimensions: volume.dims,
    DataType: volume.datatype,
    RescaleApplied: true,
    SliceOrder: 'along the slice normal (row x column direction of ImageOrientationPatient), by ImagePositionPatient',
    ...extra,
  };
}
