/** Stage "validate": is each candidate a readable DICOM instance with its three UIDs? One batch per call. */
import { workspace } from '../workspace';
import type { EntryRecord, ValidateRecord } from '../records';
import type { BatchResult } from '../workflows/types';
import { collect, runResumableBatch } from './batch-runner';
import { readHeaders } from './read-pool';

export interface BatchInput {
  outDir: string;
  batchIndex: number;
}

export async function validateBatch({ outDir, batchIndex }: BatchInput): Promise<BatchResult> {
  const ws = workspace(outDir);
  return runResumableBatch<EntryRecord, ValidateRecord>({
    batchIndex,
    items: () => collect<EntryRecord>(ws.candidateBatch(batchIndex)),
    outputFile: ws.batchFile('validate', batchIndex),
    work: async (entries) => {
      const results = await readHeaders(entries.map((e) => e.file!), false);
      return results.map((r, k) => ({ i: entries[k].i, status: r.status, code: r.code, message: r.message }));
    },
    isInvalid: (r) => r.status === 'invalid',
  });
}
