/** The benchmark's datasets, made by synth (deflated, as real CT zips are), optionally kept between runs. */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as yauzl from 'yauzl';
import { synthesize, writeSynthFolder, type SynthManifest } from '../src/synth';

export interface DatasetSpec {
  name: string;
  patients: number;
  slices: number;
  size: number;
}

/** What the bench needs of a dataset's manifest (the whole manifest of the scale set is ~200 MB of JSON). */
interface Facts {
  /** zip entries (files in the source) */
  entries: number;
  /** unique valid instances: the rows a catalog must end with */
  instances: number;
  /** the top two levels of the entries' paths, 'LIDC-IDRI/LIDC-IDRI-0001', in order */
  patientFolders: string[];
}

export interface Dataset extends DatasetSpec, Facts {
  zip: string;
  /** bytes of the entries, and of the zip */
  bytes: number;
  zipBytes: number;
}

/** The synth code's own bytes: a kept dataset is reused only when synth did not change since it was made. */
function synthFingerprint(): string {
  const dir = path.dirname(require.resolve('../src/synth'));
  const h = createHash('sha256');
  for (const f of fs.readdirSync(dir).filter((n) => n.endsWith('.js')).sort()) h.update(f).update(fs.readFileSync(path.join(dir, f)));
  return h.digest('hex').slice(0, 16);
}

const describe = (s: DatasetSpec) => `${s.patients} patients x ${s.slices} slices of ${s.size}x${s.size}`;

/**
 * `synth --patients P --slices S --size N --deflate` into `dir` (seed 1). With `keep`, a zip made earlier with the
 * same options and the same synth code is reused.
 */
export async function dataset(spec: DatasetSpec, dir: string, log: (line: string) => void): Promise<Dataset> {
  const stem = `${spec.name}-p${spec.patients}-s${spec.slices}-px${spec.size}-deflate-${synthFingerprint()}`;
  const zip = path.join(dir, `${stem}.zip`);
  const factsFile = path.join(dir, `${stem}.json`);
  let facts: Facts;
  if (fs.existsSync(zip) && fs.existsSync(factsFile)) {
    facts = JSON.parse(fs.readFileSync(factsFile, 'utf8')) as Facts;
    log(`${spec.name}: reusing ${zip}`);
  } else {
    const t0 = performance.now();
    log(`${spec.name}: synthesizing ${describe(spec)} (deflated) ...`);
    facts = factsOf(await synthesize({ patients: spec.patients, slices: spec.slices, size: spec.size, deflate: true, out: zip }));
    fs.writeFileSync(factsFile, JSON.stringify(facts));
    log(`${spec.name}: made in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  return { ...spec, ...facts, zip, bytes: await uncompressedBytes(zip), zipBytes: fs.statSync(zip).size };
}

function factsOf(m: SynthManifest): Facts {
  const folders = m.entries.map((e) => e.path.split('/').slice(0, 2).join('/'));
  return { entries: m.entries.length, instances: m.instances.length, patientFolders: [...new Set(folders)] };
}

/** Sum of the entries' sizes, from the zip's central directory (zip64 included: the scale set has 250k entries). */
function uncompressedBytes(zip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    yauzl.open(zip, { lazyEntries: true, autoClose: true }, (err, z) => {
      if (err || !z) return reject(err);
      let bytes = 0;
      z.on('entry', (e: yauzl.Entry) => {
        bytes += e.uncompressedSize;
        z.readEntry();
      });
      z.on('end', () => resolve(bytes));
      z.on('error', reject);
      z.readEntry();
    });
  });
}

/** The same dataset's entries as loose files under `dir` (what extracting the zip gives), for the header row. */
export async function datasetFolder(spec: DatasetSpec, dir: string): Promise<void> {
  await writeSynthFolder({ patients: spec.patients, slices: spec.slices, size: spec.size, outDir: dir });
}

export { describe };
