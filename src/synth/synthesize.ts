/**
 * `synthesize()`: writes a synthetic LIDC-IDRI-like zip and returns its ground truth.
 * `writeSynthFolder()`: the same dataset as a folder (for folder-source ingest).
 */
import * as fs from 'fs';
import * as path from 'path';
import { manifestOf } from './manifest';
import { PlannedEntry, PlanOptions, planDataset } from './plan';
import type { SynthManifest, SynthOptions } from './types';
import { writeZipFile } from './zip';

export const DEFAULT_SLICES = 8;
export const DEFAULT_SIZE = 512;
export const DEFAULT_SEED = 1;

/** Checks and completes the options; throws an Error with a one-line reason when they are unusable. */
export function planOptions(opts: Omit<SynthOptions, 'out'>): PlanOptions {
  const o: PlanOptions = {
    patients: opts.patients,
    slices: opts.slices ?? DEFAULT_SLICES,
    size: opts.size ?? DEFAULT_SIZE,
    broken: !!opts.broken,
    seed: opts.seed ?? DEFAULT_SEED,
  };
  const int = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got ${v}`);
  };
  int('patients', o.patients, 1, 9999);
  int('slices', o.slices, 1, 9999);
  int('size', o.size, 16, 4096);
  int('seed', o.seed, 0, Number.MAX_SAFE_INTEGER);
  return o;
}

export async function synthesize(opts: SynthOptions): Promise<SynthManifest> {
  const entries = await planDataset(planOptions(opts));
  fs.mkdirSync(path.dirname(path.resolve(opts.out)), { recursive: true });
  await writeZipFile(flatSources(entries, !!opts.deflate), opts.out);
  return manifestOf(entries);
}

function flatSources(entries: PlannedEntry[], deflate: boolean) {
  return entries.map((e) => ({ name: e.path, data: e.data, compress: deflate || e.compress }));
}

/**
 * The same dataset as files under outDir, in sorted path order (the order ingest reads a folder in).
 * Entries with unsafe names cannot exist in a folder and are left out, of the files and of the manifest.
 */
export async function writeSynthFolder(opts: Omit<SynthOptions, 'out'> & { outDir: string }): Promise<SynthManifest> {
  const entries = (await planDataset(planOptions(opts)))
    .filter((e) => e.outcome?.status !== 'refused')
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const e of entries) {
    const file = path.join(opts.outDir, ...e.path.split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, e.data());
  }
  return manifestOf(entries);
}
