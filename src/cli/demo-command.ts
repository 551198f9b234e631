/** `dicomflow demo` (what `npm start` runs): a small synthetic LIDC-like dataset, broken cases included, ingested end to end. */
import * as fs from 'fs';
import * as path from 'path';
import { synthesize } from '../synth';
import { runIngest } from '../client/ingest';

export async function runDemo(outDir: string): Promise<number> {
  const zip = path.resolve(outDir, 'demo-source', 'lidc-demo.zip');
  if (!fs.existsSync(zip)) {
    fs.mkdirSync(path.dirname(zip), { recursive: true });
    process.stdout.write(`Synthesizing a demo dataset (4 patients, CT + CR, with broken files) at ${zip}\n`);
    await synthesize({ patients: 4, slices: 24, size: 256, broken: true, seed: 1, out: zip });
  }
  return runIngest({ source: zip, outDir });
}
