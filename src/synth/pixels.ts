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
 * A CT slice as stored values for PixelRepresentation 1 with RescaleIntercept -1024:
 * 0 = air (-1024 HU), ~200 = lung, ~1064 = soft tissue, ~1700 = bone.
 */
export function ctSlice(size: number, slice: number, nodule: Nodule | null): Uint8Array {
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
