/**
 * Organize, without Temporal: builds DIR/organized/<Patient>/<Study>/<Series>/<SOP>.dcm and decides every entry's
 * final status. The first file in source order wins for each SOP Instance UID (never timing): a later copy with the
 * same bytes is a duplicate, with other bytes a conflict (not placed; both rows name each other). Writes outcomes,
 * instances and series issues under DIR/work; all of it is idempotent.
 *
 * The headers are never parsed here: each metadata line is split into its small fields (parsed) and its header
 * (carried as JSON text into instances.jsonl), so the cost per file is a line split, a link and a line written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { workspace } from '../workspace';
import {
  lineWithMeta,
  splitMetaLine,
  type EntryRecord,
  type InstanceFields,
  type InstanceRecord,
  type MetadataRecord,
  type OutcomeRecord,
  type SeriesIssueRecord,
  type ValidateRecord,
} from '../records';
import { openAppender, readJsonLines, readLineBatches, writeJsonLines } from '../io/jsonl';
import { checkSeries } from '../dicom/series-checks';
import { organizedPath } from './tree';
import { Placer, sameBytes } from './place';

export interface OrganizeResult {
  placed: number;
  linked: number;
  copied: number;
  duplicates: number;
  conflicts: number;
  seriesIssues: number;
}

export interface OrganizeOptions {
  outDir: string;
  batchCount: number;
  /** Called as records go by (the caller throttles heartbeats). */
  onProgress?: (phase: string, done: number) => void;
  signal?: AbortSignal;
}

interface Kept {
  i: number;
  source: string;
  file: string;
}

interface Verdict {
  status: OutcomeRecord['status'];
  code: string;
  message: string;
}

type MetadataHead = Omit<MetadataRecord, 'meta'>;

/** Lines written at once to instances.jsonl. */
const WRITE_BUFFER = 1 << 20;

export async function organizeRun({ outDir, batchCount, onProgress, signal }: OrganizeOptions): Promise<OrganizeResult> {
  const ws = workspace(outDir);
  const summaryFile = path.join(ws.workDir, 'organize.json');
  if (fs.existsSync(summaryFile)) return JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as OrganizeResult;
  const checkCancelled = () => {
    if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
  };
  /** Every metadata line, in source order, a chunk at a time: its small fields parsed, its header as text. */
  async function* metadataChunks(): AsyncGenerator<{ record: MetadataHead; metaText: string | null }[]> {
    for (let b = 0; b < batchCount; b++) {
      for await (const lines of readLineBatches(ws.batchFile('metadata', b))) {
        checkCancelled();
        yield lines.map((line) => splitMetaLine<MetadataHead>(line));
      }
    }
  }

  // 1. Decide, in source order, which file is kept for each SOP Instance UID.
  const kept = new Map<string, Kept>();
  const verdicts = new Map<number, Verdict>(); // entries that are not plain "valid"
  const keptFields: InstanceFields[] = [];
  const withMetadata = new Set<number>();
  let seen = 0;
  for await (const chunk of metadataChunks()) {
    for (const { record: rec } of chunk) {
      withMetadata.add(rec.i);
      const sop = rec.fields.sopInstanceUid;
      const first = kept.get(sop);
      if (!first) {
        kept.set(sop, { i: rec.i, source: rec.source, file: rec.file });
        keptFields.push(rec.fields);
      } else if (sameBytes(first.file, rec.file)) {
        verdicts.set(rec.i, { status: 'duplicate', code: 'DUPLICATE_INSTANCE', message: `same SOP Instance UID ${sop} and same bytes as ${first.source}; kept once` });
      } else {
        verdicts.set(rec.i, { status: 'conflict', code: 'CONFLICTING_INSTANCE', message: `SOP Instance UID ${sop} was already placed from ${first.source} with different bytes; this file is not placed` });
        const note = verdicts.get(first.i);
        verdicts.set(first.i, { status: 'valid', code: 'OK', message: `${note ? note.message + '; ' : 'valid, kept; '}conflicting copy ${rec.source} not placed` });
      }
    }
    seen += chunk.length;
    onProgress?.('dedupe', seen);
  }

  // 2. Place the kept files and write their catalog records (the header text passed through as it is).
  const placer = new Placer();
  let linked = 0;
  let copied = 0;
  let placedCount = 0;
  const instances = await openAppender(ws.instances, { bufferBytes: WRITE_BUFFER });
  try {
    for await (const chunk of metadataChunks()) {
      const lines: string[] = [];
      for (const { record: rec, metaText } of chunk) {
        if (kept.get(rec.fields.sopInstanceUid)?.i !== rec.i) continue;
        const relative = organizedPath(rec.fields);
        const how = placer.place(rec.file, path.join(ws.root, relative));
        if (how === 'copied') copied++;
        else if (how === 'linked') linked++;
        const head: Omit<InstanceRecord, 'meta'> = { i: rec.i, source: rec.source, organizedPath: relative, fields: rec.fields };
        lines.push(lineWithMeta(head, metaText ?? '{}'));
      }
      await instances.appendLines(lines);
      placedCount += lines.length;
      onProgress?.('place', placedCount);
    }
    await instances.commit();
  } finally {
    await instances.close();
  }

  // 3. Every entry's final status, in source order.
  for (let b = 0; b < batchCount; b++) {
    for await (const v of readJsonLines<ValidateRecord>(ws.batchFile('validate', b))) {
      if (v.status === 'invalid') verdicts.set(v.i, { status: 'invalid', code: v.code ?? 'PARSE_ERROR', message: v.message ?? '' });
      else if (!withMetadata.has(v.i)) verdicts.set(v.i, { status: 'invalid', code: 'READ_ERROR', message: 'the file changed or became unreadable between validation and metadata extraction' });
    }
  }
  async function* outcomes(): AsyncGenerator<OutcomeRecord> {
    for await (const e of readJsonLines<EntryRecord>(ws.entriesManifest)) {
      const v: Verdict = e.status ? { status: e.status, code: e.code ?? '', message: e.message ?? '' } : verdicts.get(e.i) ?? { status: 'valid', code: 'OK', message: 'valid' };
      yield { i: e.i, path: e.source, ...v };
    }
  }
  await writeJsonLines(ws.outcomes, outcomes());

  // 4. Series-level checks on the kept instances.
  const issues: SeriesIssueRecord[] = checkSeries(keptFields);
  await writeJsonLines(ws.seriesIssues, issues);

  const counts = [...verdicts.values()];
  const result: OrganizeResult = {
    placed: placedCount,
    linked,
    copied,
    duplicates: counts.filter((v) => v.status === 'duplicate').length,
    conflicts: counts.filter((v) => v.status === 'conflict').length,
    seriesIssues: issues.length,
  };
  fs.writeFileSync(`${summaryFile}.tmp`, JSON.stringify(result));
  fs.renameSync(`${summaryFile}.tmp`, summaryFile);
  return result;
}
