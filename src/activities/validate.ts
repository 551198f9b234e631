/** Stage "validate": is each candidate a readable DICOM instance with its three UIDs? One batch per call. */
import { workspace } from '../workspace';
import type { EntryRecord, ValidateRecord } from '../records';
import type { BatchResult } from '../workflows/types';
import { readAllJsonLines } from '../io/jsonl';
import { runResumableBatch } from './batch-runner';
import { readHeaders } from '../dicom/read-pool';

export interface BatchInput {
  outDir: string;
  batchIndex: number;
}

export async function validateBatch({ outDir, batchIndex }: BatchInput): Promise<BatchResult> {
  const ws = workspace(outDir);
  return runResumableBatch<EntryRecord>({
    batchIndex,
    items: () => readAllJsonLines<EntryRecord>(ws.candidateBatch(batchIndex)),
    outputFile: ws.batchFile('validate', batchIndex),
    work: async (entries) => (await readHeaders(entries)).map((r) => r.validate),
    isInvalid: (record) => (record as ValidateRecord).status === 'invalid',
  });
}
