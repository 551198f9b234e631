/**
 * The report streams: 250,000 entries (the size the workflow is built for) go through without holding
 * the records, and every one of them ends up in the CSVs.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import { writeReport } from '../../src/activities/report';
import { writeJsonLines } from '../../src/io/jsonl';
import { workspace } from '../../src/workspace';
import type { InstanceRecord, OutcomeRecord } from '../../src/records';

const ENTRIES = 250_000;
const SLICES_PER_SERIES = 250;

function* outcomes(): Generator<OutcomeRecord> {
  for (let i = 0; i < ENTRIES; i++) {
    const invalid = i % 1000 === 999;
    yield { i, path: `LIDC-IDRI/${i}.dcm`, status: invalid ? 'invalid' : 'valid', code: invalid ? 'TRUNCATED' : 'OK', message: invalid ? `cut at ${i}` : '' };
  }
}

function* instances(): Generator<InstanceRecord> {
  for (let i = 0; i < ENTRIES; i++) {
    if (i % 1000 === 999) continue;
    const series = Math.floor(i / SLICES_PER_SERIES);
    yield {
      i, source: `LIDC-IDRI/${i}.dcm`, organizedPath: `organized/P${series % 100}/1.2.${series % 400}/1.2.3.${series}/1.2.3.${series}.${i}.dcm`,
      meta: { '00080060': { vr: 'CS', Value: ['CT'] } },
      fields: {
        patientId: `P${series % 100}`, studyInstanceUid: `1.2.${series % 400}`, seriesInstanceUid: `1.2.3.${series}`, sopInstanceUid: `1.2.3.${series}.${i}`,
        sliceThickness: [0.625, 1.25, 2.5][series % 3], pixelSpacingRow: 0.7, pixelSpacingCol: 0.7, studyDate: '2001-02-03', acquisitionDate: null,
        instanceNumber: (i % SLICES_PER_SERIES) + 1, modality: 'CT', rows: 512, columns: 512, transferSyntaxUid: '1.2.840.10008.1.2',
        fileSize: 525_000, imagePositionPatient: null, imageOrientationPatient: null,
      },
    };
  }
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })) n++;
  return n;
}

it(`reports ${ENTRIES} entries`, async () => {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-report-scale-'));
  try {
    const ws = workspace(outDir);
    await writeJsonLines(ws.outcomes, outcomes());
    const valid = await writeJsonLines(ws.instances, instances());
    const r = await writeReport({ outDir, runId: 'scale', source: 'big.zip' });
    expect(r.counts).toMatchObject({ entries: ENTRIES, valid, invalid: ENTRIES - valid, series: ENTRIES / SLICES_PER_SERIES, studies: 400, patients: 100 });
    // Every record is a one-line CSV row here (no quoted newlines): header + rows.
    expect(await countLines(r.files.validationCsv)).toBe(ENTRIES + 1);
    expect(await countLines(r.files.metadataCsv)).toBe(valid + 1);
    const html = fs.readFileSync(r.files.html, 'utf8');
    expect(html).toContain(`The 50 series with the most slices, of ${ENTRIES / SLICES_PER_SERIES}.`);
    expect(html).toContain(`The first 200 of ${ENTRIES - valid}.`);
    expect(html.length).toBeLessThan(1_000_000);
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
});
