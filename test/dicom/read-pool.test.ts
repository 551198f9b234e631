/**
 * The read pool gives the same lines as reading in this thread, in entry order, however the entries are cut into
 * slices (more files than one slice per thread, fewer, one). Uses the compiled worker (dist/, after `npm run build`).
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headerLines, readEncodedHeaders } from '../../src/dicom/header-lines';
import { readHeaderBytes, readHeaders, startReadPool } from '../../src/dicom/read-pool';
import type { EntryRecord } from '../../src/records';
import { crossCheckFiles } from './fixtures';
import { BIG_RUN_FILES, retireIdleThreadsOfBigRun } from '../../src/io/thread-pool';

process.env.DICOMFLOW_READ_THREADS ??= '2'; // a pool even on one core

const dir = mkdtempSync(join(tmpdir(), 'dicom-pool-'));
const bases = crossCheckFiles();
const paths: string[] = [];
for (let n = 0; n < 700; n++) {
  const { name, bytes } = bases[n % bases.length];
  const p = join(dir, `${n}-${name}`);
  // every 50th file cut short, so invalid results travel too. Not the deflated one: under jest, zlib's error is not
  // an `instanceof Error` of the test's realm, so its message reads "Error: ..." in this thread only.
  const cut = n % 50 === 7 && !name.includes('1.2.840.10008.1.2.1.99');
  writeFileSync(p, cut ? bytes.subarray(0, bytes.length >> 1) : bytes);
  paths.push(p);
}
mkdirSync(join(dir, 'a-directory'));
paths.push(join(dir, 'a-directory'), join(dir, 'missing.dcm'));
const entries: EntryRecord[] = paths.map((file, i) => ({ i, source: `src/${i}`, file, status: null }));

test('pool lines equal in-thread lines, in order, for any number of entries', async () => {
  const expected = entries.map(headerLines);
  expect(expected.filter((l) => l.invalid).length).toBeGreaterThan(10);
  for (const n of [entries.length, 300, 3, 1, 0]) {
    expect(await readHeaders(entries.slice(0, n))).toEqual(expected.slice(0, n));
  }
});

test('concurrent calls each get their own lines', async () => {
  const a = entries.slice(0, 400);
  const b = entries.slice(300);
  const [ra, rb] = await Promise.all([readHeaders(a), readHeaders(b)]);
  expect(ra).toEqual(a.map(headerLines));
  expect(rb).toEqual(b.map(headerLines));
});

test('encoded answers (what the validate stage uses) hold the same lines, joined in order, with counts', async () => {
  const expected = entries.map(headerLines);
  for (const n of [entries.length, 300, 1, 0]) {
    const slices = await readHeaderBytes(entries.slice(0, n));
    const text = (kind: 'validate' | 'metadata') => slices.map((e) => Buffer.from(e[kind]).toString('utf8')).join('');
    const want = expected.slice(0, n);
    expect(text('validate')).toBe(want.map((l) => `${l.validate}\n`).join(''));
    expect(text('metadata')).toBe(want.flatMap((l) => (l.metadata === null ? [] : [`${l.metadata}\n`])).join(''));
    expect(slices.reduce((k, e) => k + e.files, 0)).toBe(n);
    expect(slices.reduce((k, e) => k + e.valid, 0)).toBe(want.filter((l) => !l.invalid).length);
  }
});

test('encoded lines survive their buffers growing (a first guess of 1 byte a file)', () => {
  const some = entries.slice(0, 120);
  const grown = readEncodedHeaders(some, { validate: 1, metadata: 1 });
  const plain = readEncodedHeaders(some);
  expect(Buffer.from(grown.validate).equals(Buffer.from(plain.validate))).toBe(true);
  expect(Buffer.from(grown.metadata).equals(Buffer.from(plain.metadata))).toBe(true);
  expect(Buffer.from(grown.metadata).toString('utf8').split('\n').length - 1).toBe(grown.valid);
});

test('after a big run let its idle threads go, the next read starts them again instead of reading in this thread', async () => {
  await readHeaderBytes(entries.slice(0, 100));
  const pool = startReadPool()!;
  expect(pool).not.toBeNull();
  retireIdleThreadsOfBigRun(BIG_RUN_FILES - 1); // a smaller run keeps them for the next one
  expect(pool.size).toBe(2);
  retireIdleThreadsOfBigRun(BIG_RUN_FILES);
  expect(pool.size).toBe(0); // the idle threads went
  const reading = readHeaderBytes(entries.slice(0, 100));
  expect(pool.size).toBe(2); // started again for this read (before: 0, and the read ran in this thread)
  expect((await reading).reduce((k, e) => k + e.files, 0)).toBe(100);
});
