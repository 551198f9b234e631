import { progressLine } from '../../src/client/progress';
import { STAGES, type Progress } from '../../src/workflows/types';

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
