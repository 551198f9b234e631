/**
 * Bounded memory: `dicomflow ingest` (embedded server, in-process worker and its thread pools) stays under 512 MB of
 * peak RSS on hostile inputs: 2,000 mutated files, and 5 files with one 50 MB header element each. The peak is the
 * CLI process's own (process.resourceUsage().maxRSS, written to DIR/logs/dicomflow.jsonl when the command ends).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { openCatalog } from '../../src/db/catalog';
import { runCli } from '../helpers/cli';
import { crossCheckFiles } from '../dicom/fixtures';
import { mulberry32, mutate } from '../dicom/mutate';
import { ctElements, dicomFile } from '../dicom/bytes';

jest.setTimeout(600_000);

const BOUND_MB = 512;
let tmp: string;
const outDirs: string[] = [];

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-memory-'));
});

afterAll(async () => {
  for (const dir of outDirs) await runCli(['server', 'stop', '--out', dir]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** The peak RSS the command logged when it ended. */
function peakRssMB(dir: string): number {
  const lines = fs.readFileSync(path.join(dir, 'logs', 'dicomflow.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const ended = lines.filter((l) => l.msg === 'command ended');
  expect(ended.length).toBeGreaterThan(0);
  return ended[ended.length - 1].maxRssMB as number;
}

async function ingestFolder(name: string, folder: string): Promise<string> {
  const dir = path.join(tmp, name);
  outDirs.push(dir);
  const r = await runCli(['ingest', folder, '--out', dir]);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  return dir;
}

test(`2,000 mutated files: peak RSS under ${BOUND_MB} MB`, async () => {
  const folder = path.join(tmp, 'mutated');
  fs.mkdirSync(folder);
  // The cross-check files (every transfer syntax, sequences, character sets) and a 512 x 512 CT slice.
  const slice = dicomFile(
    ctElements({
      rows: { tag: 0x00280010, vr: 'US', value: [512] },
      columns: { tag: 0x00280011, vr: 'US', value: [512] },
      pixels: { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(512 * 512 * 2).map((_, i) => i * 7) },
    }),
  );
  const bases = [...crossCheckFiles().map((f) => f.bytes), slice, slice, slice];
  const rnd = mulberry32(20261202);
  for (let n = 0; n < 2000; n++) fs.writeFileSync(path.join(folder, `m-${String(n).padStart(4, '0')}.dcm`), mutate(bases[n % bases.length], rnd).bytes);
  const dir = await ingestFolder('mutated-out', folder);
  const peak = peakRssMB(dir);
  console.log(`2,000 mutated files: peak RSS ${peak} MB`);
  expect(peak).toBeLessThan(BOUND_MB);
});

// On the code before header values were bounded this peaked at 683 MB (the text values were decoded into the header).
test(`5 files with a 50 MB header element each (text or binary): peak RSS under ${BOUND_MB} MB, the element kept as a BulkDataURI`, async () => {
  const folder = path.join(tmp, 'huge');
  fs.mkdirSync(folder);
  const SIZE = 50 * 2 ** 20;
  const value = new Uint8Array(SIZE).fill(0x41);
  for (let n = 0; n < 5; n++) {
    const els = ctElements(
      { sop: { tag: 0x00080018, vr: 'UI', value: `1.2.826.0.1.3680043.9.7777.3.${n + 1}` }, instance: { tag: 0x00200013, vr: 'IS', value: String(n + 1) } },
      [n % 2 ? { tag: 0x00420011, vr: 'OB', value } : { tag: 0x0040a160, vr: 'UT', value }],
    );
    fs.writeFileSync(path.join(folder, `huge-${n}.dcm`), dicomFile(els));
  }
  const dir = await ingestFolder('huge-out', folder);
  const peak = peakRssMB(dir);
  console.log(`5 files with a 50 MB element: peak RSS ${peak} MB`);
  expect(peak).toBeLessThan(BOUND_MB);
  const knex = await openCatalog({ outDir: dir });
  try {
    const rows = await knex('dicom_metadata').select('meta');
    expect(rows).toHaveLength(5);
    for (const { meta } of rows) {
      const header = JSON.parse(meta);
      const [key, vr] = header['00420011'] ? ['00420011', 'OB'] : ['0040A160', 'UT'];
      expect(header[key]).toEqual({ vr, BulkDataURI: expect.stringMatching(new RegExp(`^bulk:${key}\\?offset=\\d+&length=${SIZE}$`)) });
    }
  } finally {
    await knex.destroy();
  }
});
