/** Seeded mutations of valid DICOM files (bit flips, cuts, wrong length fields, ...): the fuzz test and the RSS test. */
const VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);

export function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Offsets of length fields: after explicit VRs, and every 4th byte (implicit headers are 8-byte aligned often). */
function lengthFieldOffsets(b: Buffer): number[] {
  const out: number[] = [];
  for (let i = 132; i + 8 < b.length; i++) {
    if (VRS.has(b.toString('latin1', i, i + 2))) out.push(i + 2);
  }
  return out;
}

export function mutate(base: Buffer, rnd: () => number): { kind: string; bytes: Buffer } {
  const b = Buffer.from(base);
  const at = (n = b.length) => Math.floor(rnd() * n);
  const big = () => [0xffffffff, 0xfffffffe, 0x7fffffff, b.length, b.length + 1, at(1 << 16), 0x10000][at(7)];
  switch (at(7)) {
    case 0: { for (let k = 1 + at(8); k > 0; k--) b[at()] ^= 1 << at(8); return { kind: 'bit flips', bytes: b }; }
    case 1: return { kind: 'cut', bytes: b.subarray(0, at()) };
    case 2: {
      const offs = lengthFieldOffsets(b);
      const o = offs.length ? offs[at(offs.length)] : at(b.length - 4);
      if (rnd() < 0.5) b.writeUInt16LE(big() & 0xffff, o); else if (o + 6 <= b.length) b.writeUInt32LE(big() >>> 0, o + 2);
      return { kind: 'wrong length field', bytes: b };
    }
    case 3: { const o = at(b.length - 4); b.writeUInt32LE(big() >>> 0, o); return { kind: 'length past end', bytes: b }; }
    case 4: { const o = at(); return { kind: 'insert', bytes: Buffer.concat([b.subarray(0, o), Buffer.from(Array.from({ length: 1 + at(9) }, () => at(256))), b.subarray(o)]) }; }
    case 5: { const o = at(); return { kind: 'delete', bytes: Buffer.concat([b.subarray(0, o), b.subarray(o + 1 + at(16))]) }; }
    default: { // undefined lengths sprinkled around
      for (let k = 1 + at(4); k > 0; k--) { const o = at(b.length - 4); b.writeUInt32LE(0xffffffff, o - (o % 2)); }
      return { kind: 'undefined lengths', bytes: b };
    }
  }
}

