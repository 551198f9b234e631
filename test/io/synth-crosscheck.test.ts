import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { extractSource } from '../../src/io/extract';
import type { EntryRecord } from '../../src/records';
import { synthesize } from '../../src/synth/synthesize';
import { workspace } from '../../src/workspace';
import { listFiles, readAll } from './zip-fixtures';

test('on a synth --broken zip, extract lists every entry in the ground-truth order with its skipped/refused verdict', async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-x-'));
  try {
    const zipPath = path.join(root, 'broken.zip');
    const truth = await synthesize({ patients: 2, slices: 3, size: 32, broken: true, out: zipPath });
    const outDir = path.join(root, 'a', 'out');
    const summary = await extractSource({ source: zipPath, outDir, batchSize: 4 });
    const records = await readAll<EntryRecord>(workspace(outDir).entriesManifest);

    expect(records.map((r) => r.source)).toEqual(truth.entries.map((e) => e.path));
    const decided = (status: string) => (status === 'skipped' || status === 'refused' ? status : null);
    expect(records.map((r) => [r.source, r.status, r.code ?? null])).toEqual(
      truth.entries.map((e) => [e.path, decided(e.status), decided(e.status) ? e.code : null]),
    );
    expect(summary.entries).toBe(truth.entries.length);
    // Nothing lands outside the output folder.
    expect(listFiles(root).filter((f) => !f.startsWith('a/out/'))).toEqual(['broken.zip']);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});
