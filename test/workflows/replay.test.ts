/**
 * Replays committed workflow histories against today's workflow code: a change that is not deterministic
 * (without `patched()`) fails here. Record new ones with DICOMFLOW_RECORD_HISTORIES=1 npx jest test/workflows/ingest.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from '@temporalio/worker';

jest.setTimeout(120_000);

const dir = path.join(__dirname, '..', 'fixtures', 'histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are committed histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(3);
});

/** The patch ids a history's workflow code took (its core_patch markers). */
function patchesOf(file: string): string[] {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
    events: { markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> } }[];
  };
  return history.events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') return [];
    return Object.values(marker.details).flatMap((d) => d.payloads.map((p) => (JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as { id: string }).id));
  });
}

test('histories of runs before and after per-run scratch are both committed', () => {
  const marked = files.filter((f) => patchesOf(f).includes('per-run-scratch'));
  expect(marked.length).toBeGreaterThanOrEqual(1);
  expect(files.length - marked.length).toBeGreaterThanOrEqual(3);
});

test.each(files)('replays %s', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../../src/workflows') }, history, file.replace(/\.json$/, ''));
});
