/**
 * Cheap deterministic images: enough structure (body, lungs, spine, a nodule, a gradient) that the
 * pixel bytes are non-trivial, simple enough that a 512x512 slice takes a few milliseconds.
 * Returned as little-endian 16-bit bytes, the writer's convention for OW.
 */
import * as os from 'os';

export interface Nodule {
  /** Centre in pixels. */
  x: number;
  y: number;
  /** Radius in pixels at its widest slice. */
  radius: number;
  /** Slice index of the widest slice, and half its extent in slices. */
  slice: number;
  halfExtent: number;
}

/** Radius of the nodule's cross-section on a slice, 0 when the slice misses it. */
export function noduleRadiusAt(n: Nodule, slice: number): number {
  const dz = (slice - n.slice) / (n.halfExtent + 0.5);
  return Math.abs(dz) >= 1 ? 0 : n.radius * Math.sqrt(1 - dz * dz);
}

/**
 * Deterministic noise of a CT pixel, in HU: a triangular distribution on -31..31 (standard deviation ~13 HU, the
 * order of real CT noise in soft tissue), from an integer hash of (x, y, slice, seed). Without it the slices are so
 * smooth that deflate shrinks them to ~1 %; with it a 512x512 slice deflates to ~43 %, as real CT does (40-50 %).
 */
export function ctNoise(x: number, y: number, slice: number, seed: number): number {
  let h = Math.imul(x, 0x9e3779b1) ^ Math.imul(y, 0x85ebca77) ^ Math.imul(slice, 0xc2b2ae3d) ^ seed;
  h ^= h >>> 16; // murmur3's finalizer: every input bit reaches every output bit
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h & 31) + ((h >>> 8) & 31) - 31;
}

/**
 * A CT slice as stored values for PixelRepresentation 1 with RescaleIntercept -1024:
 * 0 = air (-1024 HU), ~200 = lung, ~1064 = soft tissue, ~1700 = bone, each with a few HU of noise (ctNoise) inside
 * the scanner's circular field of view; outside it (the corners) the value is exactly 0, as a padded scan is
 * constant there.
 */
export function ctSlice(size: number, slice: number, nodule: Nodule | null, noiseSeed = 0): Uint8Array {
  const px = new Int16Array(size * size);
  const c = size / 2;
  const nr = nodule ? noduleRadiusAt(nodule, slice) : 0;
  for (let y = 0; y < size; y++) {
    const v = (y - c) / c;
    for (let x = 0; x < size; x++) {
      const u = (x - c) / c;
      let value = 0;
      if ((u * u) / 0.72 + (v * v) / 0.5 <= 1) {
        value = 1064 + ((x + y + slice * 3) & 31); // soft tissue with a gentle gradient
        const lu = Math.abs(u) - 0.38;
        const lv = v + 0.05;
        if ((lu * lu) / 0.06 + (lv * lv) / 0.16 <= 1) value = 200 + ((x ^ y) & 15); // lungs
        const su = u;
        const sv = v - 0.5;
        if (su * su + sv * sv <= 0.012) value = 1700; // spine
      }
      if (nr > 0) {
        const dx = x - nodule!.x;
        const dy = y - nodule!.y;
        if (dx * dx + dy * dy <= nr * nr) value = 1100;
      }
      const fu = (x + 0.5 - c) / c;
      const fv = (y + 0.5 - c) / c;
      if (fu * fu + fv * fv <= 1) value += ctNoise(x, y, slice, noiseSeed);
      px[y * size + x] = value;
    }
  }
  return littleEndianBytes(px);
}

/** A radiograph as 12-bit unsigned stored values (PixelRepresentation 0). */
export function radiograph(rows: number, cols: number): Uint8Array {
  const px = new Uint16Array(rows * cols);
  for (let y = 0; y < rows; y++) {
    const v = (y - rows / 2) / (rows / 2);
    for (let x = 0; x < cols; x++) {
      const u = (x - cols / 2) / (cols / 2);
      const inChest = u * u + v * v * 0.8 <= 0.8;
      const ribs = (y >> 4) & 1 ? 300 : 0;
      px[y * cols + x] = inChest ? 1200 + ribs + ((x * 3 + y) & 255) : 3800;
    }
  }
  return littleEndianBytes(px);
}

function littleEndianBytes(px: Int16Array | Uint16Array): Uint8Array {
  const bytes = Buffer.from(px.buffer, px.byteOffset, px.byteLength);
  return os.endianness() === 'LE' ? bytes : Buffer.from(bytes).swap16();
}
