/**
 * Replays committed workflow histories against today's workflow code: a change that is not deterministic
 * (without `patched()`) fails here. Record new ones with DICOMFLOW_RECORD_HISTORIES=1 npx jest test/workflows/ingest
 * (and test/cli/secrets.e2e for an encrypted one). A history with a `<name>.key` next to it has encrypted payloads:
 * it replays through the payload codec with that key. The others were written before encryption and replay through
 * the same codec (their payloads pass through it unchanged) and without it.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from '@temporalio/worker';
import { AesGcmCodec, parseCodecKeys } from '../../src/temporal/codec';

jest.setTimeout(120_000);

const dir = path.join(__dirname, '..', 'fixtures', 'histories');
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));

test('there are committed histories to replay', () => {
  expect(files.length).toBeGreaterThanOrEqual(3);
});

const keyOf = (file: string) => path.join(dir, file.replace(/\.json$/, '.key'));
const encrypted = files.filter((f) => fs.existsSync(keyOf(f)));

test('at least one committed history has encrypted payloads', () => {
  expect(encrypted.length).toBeGreaterThanOrEqual(1);
});

/** The patch ids a history's workflow code took (its core_patch markers). */
function patchesOf(file: string): string[] {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as {
    events: { markerRecordedEventAttributes?: { markerName: string; details: Record<string, { payloads: { data: string }[] }> } }[];
  };
  return history.events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') return [];
    return Object.values(marker.details).flatMap((d) => d.payloads.flatMap((p) => {
      try {
        return [(JSON.parse(Buffer.from(p.data, 'base64').toString('utf8')) as { id: string }).id];
      } catch {
        return []; // an encrypted marker payload
      }
    }));
  });
}

test('histories of runs before and after per-run scratch are both committed', () => {
  const marked = files.filter((f) => patchesOf(f).includes('per-run-scratch'));
  expect(marked.length).toBeGreaterThanOrEqual(1);
  expect(files.length - marked.length).toBeGreaterThanOrEqual(3);
});

test.each(files)('replays %s', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  const keys = fs.existsSync(keyOf(file)) ? parseCodecKeys(fs.readFileSync(keyOf(file), 'utf8'), keyOf(file)) : [];
  // Histories from before encryption replay through a codec with an unrelated key: their payloads pass through.
  const codec = new AesGcmCodec(keys.length ? keys : parseCodecKeys(Buffer.alloc(32, 7).toString('base64'), 'unrelated'));
  const dataConverter = { payloadCodecs: [codec] };
  await Worker.runReplayHistory({ workflowsPath: require.resolve('../../src/workflows'), dataConverter }, history, file.replace(/\.json$/, ''));
});

test.each(encrypted)('%s does not replay without its key', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8'));
  await expect(Worker.runReplayHistory({ workflowsPath: require.resolve('../../src/workflows') }, history, 'no-key')).rejects.toThrow();
});
