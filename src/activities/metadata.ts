/** Stage "extract metadata": the catalog fields and the whole header (DICOM JSON) of each valid file. */
import { workspace } from '../workspace';
import type { EntryRecord, MetadataRecord, ValidateRecord } from '../records';
import type { BatchResult } from '../workflows/types';
import { collect, runResumableBatch } from './batch-runner';
import { readHeaders } from './read-pool';
import type { BatchInput } from './validate';

export async function readMetadataBatch({ outDir, batchIndex }: BatchInput): Promise<BatchResult> {
  const ws = workspace(outDir);
  return runResumableBatch<EntryRecord, MetadataRecord>({
    batchIndex,
    items: async () => {
      const valid = new Set((await collect<ValidateRecord>(ws.batchFile('validate', batchIndex))).filter((v) => v.status === 'valid').map((v) => v.i));
      return (await collect<EntryRecord>(ws.candidateBatch(batchIndex))).filter((e) => valid.has(e.i));
    },
    outputFile: ws.batchFile('metadata', batchIndex),
    work: async (entries) => {
      const results = await readHeaders(entries.map((e) => e.file!), true);
      // A file that changed since validation has no metadata record; organize reports it.
      return results.map((r, k) =>
        r.status === 'valid' && r.fields
          ? { i: entries[k].i, source: entries[k].source, file: entries[k].file!, fields: r.fields, meta: r.meta ?? {}, ...(r.warnings?.length ? { warnings: r.warnings } : {}) }
          : null,
      );
    },
    isInvalid: () => false,
  });
}
