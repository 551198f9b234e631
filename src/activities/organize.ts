/**
 * Stage "organize": builds DIR/organized/<Patient>/<Study>/<Series>/<SOP>.dcm and decides every entry's final
 * status. The first file in source order wins for each SOP Instance UID (never timing): a later copy with the
 * same bytes is a duplicate, with other bytes a conflict (not placed; both rows name each other).
 * Writes outcomes, instances and series issues under DIR/work; all of it is idempotent.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Context } from '@temporalio/activity';
import { workspace } from '../workspace';
import type { EntryRecord, InstanceFields, InstanceRecord, MetadataRecord, OutcomeRecord, SeriesIssueRecord, ValidateRecord } from '../records';
import { readJsonLines, writeJsonLines } from '../io/jsonl';
import { organizedPath } from '../organize/tree';
import { placeFile, sameBytes } from '../organize/place';
import { checkSeries } from '../dicom/series-checks';
import { logEvent } from '../log';

export interface OrganizeInput {
  outDir: string;
  batchCount: number;
}

export interface OrganizeResult {
  placed: number;
  linked: number;
  copied: number;
  duplicates: number;
  conflicts: number;
  seriesIssues: number;
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

export async function organize({ outDir, batchCount }: OrganizeInput): Promise<OrganizeResult> {
  const ws = workspace(outDir);
  const summaryFile = path.join(ws.workDir, 'organize.json');
  if (fs.existsSync(summaryFile)) return JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as OrganizeResult;

  const ctx = Context.current();
  let lastBeat = 0;
  const beat = (phase: string, done: number) => {
    if (Date.now() - lastBeat < 1000) return;
    ctx.heartbeat({ phase, done });
    lastBeat = Date.now();
  };
  async function* metadataRecords(): AsyncGenerator<MetadataRecord> {
    for (let b = 0; b < batchCount; b++) yield* readJsonLines<MetadataRecord>(ws.batchFile('metadata', b));
  }

  // 1. Decide, in source order, which file is kept for each SOP Instance UID.
  const kept = new Map<string, Kept>();
  const verdicts = new Map<number, Verdict>(); // entries that are not plain "valid"
  const keptFields: InstanceFields[] = [];
  const withMetadata = new Set<number>();
  let seen = 0;
  for await (const rec of metadataRecords()) {
    withMetadata.add(rec.i);
    const sop = rec.fields.sopInstanceUid;
    const first = kept.get(sop);
    if (!first) {
      kept.set(sop, { i: rec.i, source: rec.source, file: rec.file });
      keptFields.push(rec.fields);
    } else if (await sameBytes(first.file, rec.file)) {
      verdicts.set(rec.i, { status: 'duplicate', code: 'DUPLICATE_INSTANCE', message: `same SOP Instance UID ${sop} and same bytes as ${first.source}; kept once` });
    } else {
      verdicts.set(rec.i, { status: 'conflict', code: 'CONFLICTING_INSTANCE', message: `SOP Instance UID ${sop} was already placed from ${first.source} with different bytes; this file is not placed` });
      const note = verdicts.get(first.i);
      verdicts.set(first.i, { status: 'valid', code: 'OK', message: `${note ? note.message + '; ' : 'valid, kept; '}conflicting copy ${rec.source} not placed` });
    }
    beat('dedupe', ++seen);
  }

  // 2. Place the kept files and write their catalog records.
  let linked = 0;
  let copied = 0;
  async function* placed(): AsyncGenerator<InstanceRecord> {
    let done = 0;
    for await (const rec of metadataRecords()) {
      if (kept.get(rec.fields.sopInstanceUid)?.i !== rec.i) continue;
      const relative = organizedPath(rec.fields);
      const how = await placeFile(rec.file, path.join(ws.root, relative));
      if (how === 'copied') copied++;
      else if (how === 'linked') linked++;
      yield { i: rec.i, source: rec.source, organizedPath: relative, fields: rec.fields, meta: rec.meta };
      beat('place', ++done);
    }
  }
  const placedCount = await writeJsonLines(ws.instances, placed());

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
  logEvent(outDir, 'info', 'organize', 'organized tree written', { ...result });
  fs.writeFileSync(`${summaryFile}.tmp`, JSON.stringify(result));
  fs.renameSync(`${summaryFile}.tmp`, summaryFile);
  return result;
}
