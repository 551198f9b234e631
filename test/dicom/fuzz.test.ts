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
import { mulberry32, mutate } from './mutate';

const PER_FILE_MS = 200;

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
