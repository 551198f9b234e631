/**
 * NIfTI volumes of synthesized CT series of known geometry (a tilted orientation, Instance Numbers shuffled): every
 * voxel is found again through the written affine at the DICOM pixel it came from, with its rescaled value; the
 * affine (sform and the qform's matrix) equals the one dcm2niix writes for the same files within 1e-3, and so do its
 * voxels. Read back with nifti-reader-js.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ctSeriesFiles, pixelValue, slicePosition, type CtSeriesOptions } from '../../src/synth/series';
import { readDatasetBytes } from '../../src/export/dataset';
import { buildVolume, Unfit } from '../../src/export/nifti';
import { DCM2NIIX, requireTool } from '../helpers/tools';

const dcm2niix = requireTool(DCM2NIIX);

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-nifti-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const c = Math.cos(0.3);
const s = Math.sin(0.3);
const TILTED: CtSeriesOptions = {
  rows: 24,
  columns: 32,
  slices: 9,
  pixelSpacing: [0.8, 0.6],
  sliceSpacing: 1.25,
  // Rows along x, columns tilted 0.3 rad about x (a gantry tilt), as a real tilted acquisition.
  orientation: [1, 0, 0, 0, c, s],
  origin: [-10.5, 20.25, -30],
  slope: 2,
  intercept: -1024,
  seed: 3,
};

interface Read {
  header: { dims: number[]; pixDims: number[]; datatypeCode: number; sform_code: number; qform_code: number; affine: number[][] };
  qform: number[][];
  at: (i: number, j: number, k: number) => number;
}

let reads = 0;
/** Reads NIfTI bytes with nifti-reader-js (an ES module: run by node in a child process, see test/helpers/nifti-read.mjs). */
function read(bytes: Buffer): Read {
  const file = path.join(tmp, `read-${reads++}.nii.gz`);
  fs.writeFileSync(file, bytes);
  const out = JSON.parse(execFileSync(process.execPath, [path.join(__dirname, '..', 'helpers', 'nifti-read.mjs'), file], { encoding: 'utf8', maxBuffer: 1 << 28 }));
  const { values, qform, ...header } = out as Read['header'] & { values: number[]; qform: number[][] };
  return { header, qform, at: (i, j, k) => values[(k * header.dims[2] + j) * header.dims[1] + i] };
}

async function volumeOf(o: CtSeriesOptions) {
  const files = ctSeriesFiles(o);
  const shuffled = [...files].sort((a, b) => (a.name < b.name ? -1 : 1)); // Instance Number order, not slice order
  return { files, volume: await buildVolume(shuffled.length, (i) => readDatasetBytes(shuffled[i].bytes), 'CT') };
}

test('a tilted series with shuffled Instance Numbers: each voxel sits, through the affine, on the DICOM pixel it holds', async () => {
  const { volume } = await volumeOf(TILTED);
  const { header, qform, at } = read(volume.bytes);
  expect(header.dims.slice(0, 4)).toEqual([3, 32, 24, 9]);
  expect(header.datatypeCode).toBe(4); // int16 for CT
  expect(header.sform_code).toBe(1);
  expect(header.qform_code).toBe(1);
  for (let r = 0; r < 3; r++) for (let k = 0; k < 4; k++) expect(Math.abs(qform[r][k] - header.affine[r][k])).toBeLessThan(1e-3);
  const a = header.affine;
  const row = TILTED.orientation.slice(0, 3);
  const col = TILTED.orientation.slice(3);
  let checked = 0;
  for (let k = 0; k < 9; k++)
    for (let j = 0; j < 24; j += 5)
      for (let i = 0; i < 32; i += 3) {
        // RAS of the voxel, to LPS.
        const ras = [0, 1, 2].map((r) => a[r][0] * i + a[r][1] * j + a[r][2] * k + a[r][3]);
        const lps = [-ras[0], -ras[1], ras[2]];
        // The slice whose position is that point's along the normal, and the pixel in it.
        const slice = [...Array(9).keys()].find((n) => {
          const p = slicePosition(TILTED, n);
          const d = lps.map((v, q) => v - p[q]);
          const normal = [row[1] * col[2] - row[2] * col[1], row[2] * col[0] - row[0] * col[2], row[0] * col[1] - row[1] * col[0]];
          return Math.abs(d[0] * normal[0] + d[1] * normal[1] + d[2] * normal[2]) < 1e-3;
        });
        expect(slice).toBeDefined();
        const p = slicePosition(TILTED, slice!);
        const d = lps.map((v, q) => v - p[q]);
        const x = Math.round((d[0] * row[0] + d[1] * row[1] + d[2] * row[2]) / TILTED.pixelSpacing[1]);
        const y = Math.round((d[0] * col[0] + d[1] * col[1] + d[2] * col[2]) / TILTED.pixelSpacing[0]);
        expect(at(i, j, k)).toBe(pixelValue(x, y, slice!, 3) * 2 - 1024);
        checked++;
      }
  expect(checked).toBeGreaterThan(300);
});

dcm2niix.test('the affine and the voxels equal what dcm2niix writes for the same files', async () => {
  for (const [name, o] of [
    ['tilted', TILTED],
    ['axial', { ...TILTED, orientation: [1, 0, 0, 0, 1, 0], origin: [100, -50, 7], seed: 4 }],
    ['coronal', { ...TILTED, orientation: [1, 0, 0, 0, 0, -1], seed: 5, slope: 1, intercept: 0 }],
  ] as [string, CtSeriesOptions][]) {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, 'dicom'), { recursive: true });
    const { files, volume } = await volumeOf(o);
    for (const f of files) fs.writeFileSync(path.join(dir, 'dicom', f.name), f.bytes);
    execFileSync(dcm2niix.path(), ['-z', 'y', '-b', 'n', '-f', 'ref', '-o', dir, path.join(dir, 'dicom')], { stdio: 'pipe' });
    const written = fs.readdirSync(dir).filter((f) => f.startsWith('ref') && f.endsWith('.nii.gz'));
    expect(written).toContain('ref.nii.gz');
    const ref = read(fs.readFileSync(path.join(dir, 'ref.nii.gz')));
    const ours = read(volume.bytes);
    expect(ours.header.dims.slice(0, 4)).toEqual(ref.header.dims.slice(0, 4));
    for (let r = 0; r < 3; r++)
      for (let k = 0; k < 4; k++) {
        expect({ name, r, k, diff: Math.abs(ours.header.affine[r][k] - ref.header.affine[r][k]) < 1e-3 }).toEqual({ name, r, k, diff: true });
      }
    const [nx, ny, nz] = ours.header.dims.slice(1, 4);
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j += 3) for (let i = 0; i < nx; i += 2) expect(ours.at(i, j, k)).toBe(ref.at(i, j, k));
  }
});

test('series that are not one volume are refused with a reason', async () => {
  const files = ctSeriesFiles(TILTED);
  const bytes = files.map((f) => f.bytes);
  // A missing slice in the middle: uneven spacing.
  const gap = [...bytes.slice(0, 4), ...bytes.slice(5)];
  const err = await buildVolume(gap.length, (i) => readDatasetBytes(gap[i]), 'CT').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(Unfit);
  expect((err as Unfit).code).toBe('UNEVEN_SLICE_SPACING');
  // A slice of another orientation.
  const other = ctSeriesFiles({ ...TILTED, orientation: [1, 0, 0, 0, 1, 0] })[4].bytes;
  const mixed = [...bytes.slice(0, 4), other, ...bytes.slice(5)];
  await expect(buildVolume(mixed.length, (i) => readDatasetBytes(mixed[i]), 'CT')).rejects.toThrow(/not parallel/);
  // Mixed sizes.
  const small = ctSeriesFiles({ ...TILTED, rows: 16 })[4].bytes;
  const sizes = [...bytes.slice(0, 4), small, ...bytes.slice(5)];
  await expect(buildVolume(sizes.length, (i) => readDatasetBytes(sizes[i]), 'CT')).rejects.toThrow(/Rows x Columns/);
});
