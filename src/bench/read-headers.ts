/**
 * Performance sanity for the DICOM reader (not a test): header-only reads vs reading whole files.
 *   node dist/bench/read-headers.js [DIR] [--files N]
 * Without DIR it writes N synthetic 512x512 16-bit CT files (~512 KiB each) to a temp folder.
 * Note: after the first pass the files sit in the page cache, so this measures CPU and syscalls.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomBytes, readDicomFile } from '../dicom/read';
import { writeDicom } from '../dicom/writer';

function syntheticFiles(dir: string, n: number): string[] {
  const pixels = new Uint8Array(512 * 512 * 2);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = writeDicom([
      { tag: '00080016', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
      { tag: '00080018', vr: 'UI', value: `1.2.826.0.1.3680043.9.7777.99.${i}` },
      { tag: '00080060', vr: 'CS', value: 'CT' },
      { tag: '00100020', vr: 'LO', value: 'BENCH' },
      { tag: '00180050', vr: 'DS', value: 1.25 },
      { tag: '0020000D', vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.99' },
      { tag: '0020000E', vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.99.1' },
      { tag: '00200013', vr: 'IS', value: i + 1 },
      { tag: '00280010', vr: 'US', value: 512 },
      { tag: '00280011', vr: 'US', value: 512 },
      { tag: '00280030', vr: 'DS', value: [0.7, 0.7] },
      { tag: '7FE00010', vr: 'OW', value: pixels },
    ], { transferSyntax: i % 2 ? 'implicit-le' : 'explicit-le' });
    const p = join(dir, `${i}.dcm`);
    writeFileSync(p, bytes);
    paths.push(p);
  }
  return paths;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const nIdx = args.indexOf('--files');
  const n = nIdx >= 0 ? Number(args[nIdx + 1]) : 500;
  const dirArg = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--files');
  const temp = dirArg ? null : mkdtempSync(join(tmpdir(), 'bench-read-'));
  const paths = dirArg
    ? readdirSync(dirArg).map((f) => join(dirArg, f)).filter((p) => statSync(p).isFile()).slice(0, n)
    : syntheticFiles(temp!, n);
  const totalBytes = paths.reduce((s, p) => s + statSync(p).size, 0);

  let t0 = performance.now();
  let valid = 0;
  for (const p of paths) if ((await readDicomFile(p, { withMeta: true })).status === 'valid') valid++;
  const headerMs = performance.now() - t0;

  t0 = performance.now();
  for (const p of paths) {
    const b = readFileSync(p);
    readDicomBytes(b, b.length, { withMeta: true });
  }
  const wholeMs = performance.now() - t0;

  const rate = (ms: number) => ((paths.length / ms) * 1000).toFixed(0);
  console.log(`${paths.length} files, ${(totalBytes / 1048576).toFixed(1)} MiB, ${valid} valid`);
  console.log(`header-only reads (readDicomFile): ${rate(headerMs)} files/s (${headerMs.toFixed(0)} ms)`);
  console.log(`whole-file reads (readFileSync + readDicomBytes): ${rate(wholeMs)} files/s (${wholeMs.toFixed(0)} ms)`);
  if (temp) rmSync(temp, { recursive: true, force: true });
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
