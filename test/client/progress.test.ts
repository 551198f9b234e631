import { progressLine, ProgressMeter } from '../../src/client/progress';
import { STAGES, type Progress } from '../../src/workflows/types';
import { WAITING_FOR_LOCK } from '../../src/db/load';

function progress(stage: Progress['stage'], done: string[]): Progress {
  return {
    stage,
    stages: STAGES.map((s) => ({ stage: s, state: s === 'download' ? 'skipped' : done.includes(s) ? 'done' : s === stage ? 'running' : 'pending', seconds: done.includes(s) ? 1.25 : undefined })),
    found: 130,
    candidates: 126,
    validated: 40,
    invalid: 3,
    metadataRead: 0,
  };
}

test('the progress line shows the stage, files done of total, invalid so far and finished stages', () => {
  expect(progressLine(progress('validate', ['extract']))).toBe('[validate] 40/126 files, 3 invalid   done: extract 1.3s');
  expect(progressLine(progress('metadata', ['extract', 'validate']))).toBe('[metadata] 0/123 files   done: extract 1.3s, validate 1.3s');
});

test('the meter adds the rate, the time left and the time in stage, from the live heartbeats of the batches', () => {
  const meter = new ProgressMeter();
  const t0 = 1_000_000;
  const p = progress('validate', ['extract']);
  const batch = (done: number) => ({ type: 'validateBatch', attempt: 1, details: { done, bytes: 0, metadataBytes: 0 } });
  expect(meter.line(p, [batch(0)], t0)).toBe('[validate] 40/126 files, 3 invalid   done: extract 1.3s');
  // 20 more files in 2 s: 10 files/s, 66 left
  expect(meter.line(p, [batch(20)], t0 + 2000)).toBe('[validate] 60/126 files, 3 invalid · 10 files/s · ETA 6.6 s · 2.0 s in stage   done: extract 1.3s');
  // a new stage starts its own count
  const extractLive = [{ type: 'extract', attempt: 1, details: { phase: 'extract', entryIndex: 10, bytes: 10 * 1024 * 1024, totalBytes: 40 * 1024 * 1024 } }];
  expect(meter.line(progress('extract', []), extractLive, t0 + 3000)).toBe('[extract] unpacking: 10/40 MiB');
  extractLive[0].details.bytes = 20 * 1024 * 1024;
  expect(meter.line(progress('extract', []), extractLive, t0 + 5000)).toBe('[extract] unpacking: 20/40 MiB · 5.0 MiB/s · ETA 4.0 s · 2.0 s in stage');
});

test('a retry shows its attempt, its cause and when the next try comes', () => {
  const now = Date.now();
  const live = [{ type: 'loadDatabase', attempt: 3, details: undefined, lastFailure: 'connect ECONNREFUSED 127.0.0.1:5432', nextAttemptAt: now + 40_000 }];
  expect(progressLine(progress('load', ['extract', 'validate', 'metadata', 'organize']), live)).toMatch(
    /^\[load\] loading the catalog · attempt 3, connect ECONNREFUSED 127\.0\.0\.1:5432, next try in (39|40) s /,
  );
});

test("a load waiting for another run's lock says so, and stops saying it once it has the lock", () => {
  const p = progress('load', ['extract', 'validate', 'metadata', 'organize']);
  const waiting = [{ type: 'loadDatabase', attempt: 1, details: { instances: 0, outcomes: 0, seriesIssues: 0, waiting: WAITING_FOR_LOCK } }];
  expect(progressLine(p, waiting)).toBe(`[load] loading the catalog: 0/253 rows · ${WAITING_FOR_LOCK}   done: extract 1.3s, validate 1.3s, metadata 1.3s, organize 1.3s`);
  const loading = [{ type: 'loadDatabase', attempt: 1, details: { instances: 100, outcomes: 0, seriesIssues: 0 } }];
  expect(progressLine(p, loading)).not.toContain('waiting');
});

test('a finished run says so once', () => {
  const line = progressLine(progress('done', ['extract', 'validate', 'metadata', 'organize', 'load', 'report']));
  expect(line.startsWith('[done] 130 entries, 3 invalid')).toBe(true);
});

test('the summary never prints a database password', async () => {
  const { summaryText } = await import('../../src/client/progress');
  const text = summaryText(
    {
      runId: 'r',
      source: 's',
      outDir: '/o',
      counts: { entries: 1, valid: 1, invalid: 0, duplicate: 0, conflict: 0, skipped: 0, refused: 0, patients: 1, studies: 1, series: 1, instances: 1, seriesIssues: 0 },
      stageSeconds: { extract: 1 },
      outputs: { organized: '/o/organized', database: 'postgres://dicom:s3cret@db:5432/catalog', reports: [], log: '/o/logs/dicomflow.jsonl' },
    },
    { workflowId: 'w', namespace: 'default' },
  );
  expect(text).toContain('postgres://dicom:***@db:5432/catalog');
  expect(text).not.toContain('s3cret');
});
