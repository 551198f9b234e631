/** Stage "extract metadata": the catalog fields and the whole header (DICOM JSON) of each valid file. */
import { workspace } from '../workspace';
import type { EntryRecord, ValidateRecord } from '../records';
import type { BatchResult } from '../workflows/types';
import { readAllJsonLines } from '../io/jsonl';
import { runResumableBatch } from './batch-runner';
import { readHeaders } from '../dicom/read-pool';
import type { BatchInput } from './validate';

export async function readMetadataBatch({ outDir, batchIndex }: BatchInput): Promise<BatchResult> {
  const ws = workspace(outDir);
  return runResumableBatch<EntryRecord>({
    batchIndex,
    items: async () => {
      const valid = new Set((await readAllJsonLines<ValidateRecord>(ws.batchFile('validate', batchIndex))).filter((v) => v.status === 'valid').map((v) => v.i));
      return (await readAllJsonLines<EntryRecord>(ws.candidateBatch(batchIndex))).filter((e) => valid.has(e.i));
    },
    outputFile: ws.batchFile('metadata', batchIndex),
    work: async (entries) => (await readHeaders(entries)).map((r) => r.metadata),
  });
}
