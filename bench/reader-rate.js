#!/usr/bin/env node
/**
 * Files/s of one build's header pass on a folder: in this thread (single), through the read pool with all files in
 * one readHeaders call (pool), or 64 files per call with the next call started before awaiting, as
 * src/activities/batch-runner.ts does (chunked). Prints wall files/s and files per CPU-second (all threads).
 *
 *   node bench/reader-rate.js DIST single|pool|chunked DIR [PASSES]
 *
 * For an A/B, alternate runs of the two builds (A B A B ...): the machine's load changes from minute to minute.
 */
const fs = require('fs');
const os = require('os');
const path = require('path');

const [distArg, mode, dir, passesArg] = process.argv.slice(2);
if (!distArg || !['single', 'pool', 'chunked'].includes(mode) || !dir) {
  console.error('usage: node bench/reader-rate.js DIST single|pool|chunked DIR [PASSES]');
  process.exit(2);
}
const dist = path.resolve(distArg);
const listed = fs.readdirSync(dir, { recursive: true }).map((f) => path.join(dir, String(f))).filter((p) => fs.statSync(p).isFile()).sort();
const files = Array.from({ length: Math.ceil(5000 / listed.length) }, () => listed).flat();
const entries = files.map((file, i) => ({ i, source: file, file, status: null }));
const passes = Number(passesArg) || 3;
const CHUNK = 64;

function runner() {
  if (mode === 'single') {
    const { headerLines } = require(path.join(dist, 'dicom/header-lines.js'));
    return async () => {
      for (const e of entries) headerLines(e); // lines dropped at once, as the batch runner writes them
    };
  }
  const { readHeaders } = require(path.join(dist, 'dicom/read-pool.js'));
  if (mode === 'pool') return () => readHeaders(entries);
  return async () => {
    const start = (at) => (at < entries.length ? readHeaders(entries.slice(at, at + CHUNK)) : null);
    let next = start(0);
    for (let at = 0; at < entries.length; at += CHUNK) {
      await next;
      next = start(at + CHUNK);
    }
  };
}

(async () => {
  const run = runner();
  await run(); // warm-up: JIT in every thread, page cache
  const wall = [];
  const cpu = [];
  for (let p = 0; p < passes; p++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await run();
    const c = process.cpuUsage(c0);
    wall.push(entries.length / ((performance.now() - t0) / 1000));
    cpu.push(entries.length / ((c.user + c.system) / 1e6));
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[xs.length >> 1].toFixed(0);
  console.log(`${distArg} ${mode}: wall median ${median(wall)} files/s, per CPU-s median ${median(cpu)} (${entries.length} reads a pass; load ${os.loadavg().map((x) => x.toFixed(1)).join(' ')})`);
  process.exit(0);
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
