#!/usr/bin/env node
/**
 * Records what the header pass outputs for every file under some folders, to prove a change to the reader leaves
 * every output byte as it was: run it on the build before and after, then `cmp` the two files.
 *
 *   node bench/reader-golden.js OUT.jsonl DIR... [--dist DIST]     (DIST: a build's dist/ folder, default ../dist)
 *
 * Per entry (every path under each DIR, sorted, folders included, plus one missing path per DIR): the headerLines
 * result, then readDicomBytes on the whole file and on its first 300 bytes. It also checks that the read pool gives
 * the same lines as the in-thread pass. Good inputs: `dicomflow synth` sets (plain, --broken, 512x512) and seeded
 * mutations of them (cuts, bit flips, wrong lengths).
 */
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const distAt = args.indexOf('--dist');
const dist = path.resolve(distAt >= 0 ? args.splice(distAt, 2)[1] : path.join(__dirname, '../dist'));
const [out, ...dirs] = args;
if (!out || dirs.length === 0) {
  console.error('usage: node bench/reader-golden.js OUT.jsonl DIR... [--dist DIST]');
  process.exit(2);
}
const { headerLines } = require(path.join(dist, 'dicom/header-lines.js'));
const { readHeaders } = require(path.join(dist, 'dicom/read-pool.js'));
const { readDicomBytes } = require(path.join(dist, 'dicom/read.js'));

const listed = (dir) => fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).sort();

(async () => {
  const lines = [];
  let i = 0;
  for (const dir of dirs) {
    const files = [...listed(dir), path.join(dir, 'does-not-exist.dcm')];
    const entries = files.map((file) => ({ i: i++, source: path.relative(dir, file), file, status: null }));
    const inThread = entries.map((e) => JSON.stringify(headerLines(e)));
    const pooled = (await readHeaders(entries)).map((r) => JSON.stringify(r));
    if (pooled.some((l, k) => l !== inThread[k])) throw new Error(`${dir}: the read pool and the in-thread pass disagree`);
    entries.forEach((e, k) => {
      lines.push(inThread[k]);
      let bytes;
      try {
        bytes = fs.readFileSync(e.file);
      } catch {
        return; // a folder or the missing path
      }
      lines.push(JSON.stringify(readDicomBytes(bytes, bytes.length, { withMeta: true })));
      lines.push(JSON.stringify(readDicomBytes(bytes.subarray(0, 300), bytes.length)));
    });
    console.log(`${dir}: ${entries.length} entries`);
  }
  fs.writeFileSync(out, lines.join('\n') + '\n');
  process.exit(0); // the pool's threads
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
