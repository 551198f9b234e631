#!/usr/bin/env node
/**
 * A/B of the header pass between two builds, single thread: both builds loaded in one process and their passes
 * alternated (A B, B A, ...) so both see the same machine state, which matters on a shared 2-core machine.
 * Rates are files per CPU-second (this process's user + system time) and wall files/s.
 *
 *   node bench/reader-ab.js DIST_A DIST_B DIR [ROUNDS]       (DIST_*: copies of a build's dist/ folder)
 *
 * DIR: files to read (every regular file under it; repeated so that a pass reads at least 5,000).
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const [a, b, dir, roundsArg] = process.argv.slice(2);
if (!a || !b || !dir) {
  console.error('usage: node bench/reader-ab.js DIST_A DIST_B DIR [ROUNDS]');
  process.exit(2);
}
const rounds = Number(roundsArg) || 6;
const listed = fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).filter((p) => fs.statSync(p).isFile()).sort();
const files = Array.from({ length: Math.ceil(5000 / listed.length) }, () => listed).flat();
const entries = files.map((file, i) => ({ i, source: file, file, status: null }));
const headerLinesOf = (dist) => require(path.join(path.resolve(dist), 'dicom/header-lines.js')).headerLines;
const runs = [{ name: a, headerLines: headerLinesOf(a), passes: [] }, { name: b, headerLines: headerLinesOf(b), passes: [] }];

function pass(headerLines) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const e of entries) headerLines(e);
  const c = process.cpuUsage(c0);
  return { wall: entries.length / ((performance.now() - t0) / 1000), cpu: entries.length / ((c.user + c.system) / 1e6) };
}

const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1];
for (const r of runs) pass(r.headerLines); // warm-up: JIT, page cache, dictionary
for (let n = 0; n < rounds; n++) for (const r of n % 2 ? [...runs].reverse() : runs) r.passes.push(pass(r.headerLines));
for (const r of runs) {
  console.log(`${r.name}: per CPU-s median ${median(r.passes.map((p) => p.cpu)).toFixed(0)}, wall median ${median(r.passes.map((p) => p.wall)).toFixed(0)} files/s`);
}
const ratios = runs[0].passes.map((p, k) => runs[1].passes[k].cpu / p.cpu);
console.log(`B/A per CPU-s: median ${median(ratios).toFixed(3)} (pairs ${ratios.map((x) => x.toFixed(2)).join(' ')}); ${entries.length} reads a pass; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
