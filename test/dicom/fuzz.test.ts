/**
 * Seeded mutations of valid files (bit flips, cuts, wrong length fields, lengths past the end,
 * inserted/deleted bytes): each read ends valid or invalid with a known code, fast, never throws.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CODES } from '../../src/dicom/codes';
import { readDicomBytes, readDicomFile } from '../../src/dicom/read';
import { crossCheckFiles } from './fixtures';

const PER_FILE_MS = 200;
const VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'PN', 'SH', 'SL', 'SQ', 'SS', 'ST', 'SV', 'TM', 'UC', 'UI', 'UL', 'UN', 'UR', 'US', 'UT', 'UV']);

function mulberry32(seed: number) {
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

function mutate(base: Buffer, rnd: () => number): { kind: string; bytes: Buffer } {
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

function checkResult(r: ReturnType<typeof readDicomBytes>, what: string, allowReadError = false) {
  expect(CODES).toHaveProperty(r.code);
  if (!allowReadError) expect([what, r.code]).not.toEqual([what, 'READ_ERROR']);
  expect([what, r.message]).not.toEqual([what, expect.stringMatching(/internal error/)]);
  expect(r.message.length).toBeGreaterThan(0);
  if (r.status === 'valid') {
    expect(r.code).toBe('OK');
    expect(r.fields!.sopInstanceUid).not.toBe('');
    expect(r.fields!.studyInstanceUid).not.toBe('');
    expect(r.fields!.seriesInstanceUid).not.toBe('');
    expect(() => JSON.stringify(r.meta)).not.toThrow();
  } else {
    expect(r.code).not.toBe('OK');
  }
}

test('a few thousand seeded mutations end valid or invalid-with-code, quickly', async () => {
  const bases = crossCheckFiles().map((f) => f.bytes);
  const rnd = mulberry32(20261122);
  const counts: Record<string, number> = {};
  let slowest = 0;
  const started = Date.now();
  for (let n = 0; n < 4000; n++) {
    const base = bases[n % bases.length];
    const { kind, bytes } = mutate(base, rnd);
    const what = `mutation #${n} (${kind})`;
    const t0 = performance.now();
    let r;
    try {
      r = readDicomBytes(bytes, bytes.length, { withMeta: true });
    } catch (e) {
      throw new Error(`${what} threw: ${String(e)}`);
    }
    const ms = performance.now() - t0;
    slowest = Math.max(slowest, ms);
    expect([what, ms < PER_FILE_MS]).toEqual([what, true]);
    checkResult(r, what);
    counts[r.code] = (counts[r.code] ?? 0) + 1;
    // the head-only path must agree (or ask for more bytes than it was given)
    if (n % 10 === 0 && bytes.length > 300) {
      const head = readDicomBytes(bytes.subarray(0, 300), bytes.length);
      checkResult(head, `${what} head`, true);
      if (head.code !== 'READ_ERROR' && !(head.warnings ?? []).some((w) => /not checked past/.test(w))) expect([what, head.code]).toEqual([what, r.code]);
    }
  }
  // the mutations really exercise the classifier
  expect(counts.OK).toBeGreaterThan(50);
  expect(counts.TRUNCATED).toBeGreaterThan(50);
  expect(counts.PARSE_ERROR).toBeGreaterThan(50);
  expect(Date.now() - started).toBeLessThan(30000);
  console.log(`fuzz: ${JSON.stringify(counts)}, slowest ${slowest.toFixed(1)} ms`);
});

test('mutated files read from disk (head-only reads) never throw', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'dicom-fuzz-'));
  const bases = crossCheckFiles().map((f) => f.bytes);
  const rnd = mulberry32(7);
  for (let n = 0; n < 300; n++) {
    const { kind, bytes } = mutate(bases[n % bases.length], rnd);
    const path = join(dir, `m${n}`);
    writeFileSync(path, bytes);
    const r = await readDicomFile(path, { withMeta: true });
    checkResult(r, `file mutation #${n} (${kind})`);
    expect(r.code).toBe(readDicomBytes(bytes, bytes.length).code);
  }
});
