// Reads a .nii(.gz) with nifti-reader-js (an ES module, so run by node apart from jest) and prints its header, the
// qform's matrix and the voxels (scaled by scl_slope/scl_inter when set) as JSON. Usage: node nifti-read.mjs FILE
import { readFileSync } from 'fs';
import * as nifti from 'nifti-reader-js';

const bytes = readFileSync(process.argv[2]);
let data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
if (nifti.isCompressed(data)) data = nifti.decompress(data);
if (!nifti.isNIFTI(data)) throw new Error(`${process.argv[2]} is not NIfTI`);
const h = nifti.readHeader(data);
const image = nifti.readImage(h, data);
const typed = { 2: Uint8Array, 4: Int16Array, 8: Int32Array, 16: Float32Array, 64: Float64Array, 256: Int8Array, 512: Uint16Array }[h.datatypeCode];
const raw = new typed(image);
const slope = h.scl_slope || 1;
const inter = h.scl_inter || 0;
const values = Array.from(raw, (v) => v * slope + inter);
const qform = h.convertNiftiQFormToNiftiSForm(h.quatern_b, h.quatern_c, h.quatern_d, h.qoffset_x, h.qoffset_y, h.qoffset_z, h.pixDims[1], h.pixDims[2], h.pixDims[3], h.pixDims[0]);
process.stdout.write(
  JSON.stringify({ dims: h.dims, pixDims: h.pixDims, datatypeCode: h.datatypeCode, sform_code: h.sform_code, qform_code: h.qform_code, affine: h.affine, qform, values }),
);
