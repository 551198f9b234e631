/**
 * Organize, without Temporal: builds DIR/organized/<Patient>/<Study>/<Series>/<SOP>.dcm and decides every entry's
 * final status. The first file in source order wins for each SOP Instance UID (never timing): a later copy with the
 * same bytes is a duplicate, with other bytes a conflict (not placed; both rows name each other). Writes outcomes,
 * instances and series issues under the run's work folder; all of it is idempotent.
 *
 * The tree is shared with every other run into DIR, some perhaps placing at the same moment: a file is placed by an
 * exclusive create and a file already there is never replaced. The same bytes there, placed by another run from
 * another copy, make this run's file a duplicate (that run's catalog row stays); other bytes make it a conflict, not
 * placed. What this run placed itself (an earlier attempt, or the very file of a folder source) stays its own.
 *
 * The headers are never parsed, nor even decoded, here: each metadata line is split into its small fields (parsed)
 * and its header (carried as bytes into instances.jsonl), so the cost per file is a line split, a link and a line
 * written.
 */
import * as fs from 'fs';
import * as path from 'path';
import { workspace } from '../workspace';
import {
  lineWithMetaBytes,
  splitMetaLine,
  type EntryRecord,
  type InstanceFields,
  type InstanceRecord,
  type MetadataRecord,
  type OutcomeRecord,
  type SeriesIssueRecord,
  type ValidateRecord,
} from '../records';
import { openAppender, readJsonLines, readLineBuffers, writeJsonLines } from '../io/jsonl';
import { checkSeries, type SeriesSlice } from '../dicom/series-checks';
import { organizedPath } from './tree';
import { placeChunkOnThread, RunPlacements, sameBytes, type Placement } from './place';

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
  /** The run's scratch key (workspace.ts); absent for the shared layout. */
  runKey?: string;
  batchCount: number;
  /** Called as records go by (the caller throttles heartbeats). */
  onProgress?: (phase: string, done: number) => void;
  signal?: AbortSignal;
}

/** A copy of an instance: where it came from and where its bytes are. */
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

const EMPTY_META = Buffer.from('{}');

/** Lines written at once to instances.jsonl. */
const WRITE_BUFFER = 1 << 20;

export async function organizeRun({ outDir, runKey, batchCount, onProgress, signal }: OrganizeOptions): Promise<OrganizeResult> {
  const ws = workspace(outDir, runKey);
  const summaryFile = path.join(ws.workDir, 'organize.json');
  if (fs.existsSync(summaryFile)) return JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as OrganizeResult;
  const checkCancelled = () => {
    if (signal?.aborted) throw signal.reason ?? new Error('cancelled');
  };
  /** Every metadata line, in source order, a chunk at a time: its small fields parsed, its header as text. */
  async function* metadataChunks(): AsyncGenerator<{ record: MetadataHead; meta: Buffer | null }[]> {
    for (let b = 0; b < batchCount; b++) {
      for await (const lines of readLineBuffers(ws.batchFile('metadata', b))) {
        checkCancelled();
        yield lines.map((line) => splitMetaLine<MetadataHead>(line));
      }
    }
  }

  // 1. One pass in source order. The first file of each SOP Instance UID is kept, and stays first: it is placed and
  //    its catalog record written at once. Later copies are only noted (index, file) and judged after the pass.
  //    Only the entry index of each kept instance and a compact series view are held (a few tens of MB at 250,000).
  const kept = new Map<string, number>();
  const repeats: (Kept & { sop: string })[] = [];
  const slices: SeriesSlice[] = [];
  const compact = new SliceCompactor();
  const withMetadata = new Set<number>();
  /** First copies the tree refused: another run placed other bytes under their SOP Instance UID. */
  const verdicts = new Map<number, Verdict>();
  const ownPlacements = new RunPlacements(path.join(ws.workDir, 'placing.txt'));
  let linked = 0;
  let copied = 0;
  let placedCount = 0;
  const instances = await openAppender(ws.instances, { bufferBytes: WRITE_BUFFER });
  /** A chunk's first copies, named in the run's journal and handed to the placing thread. */
  type First = { rec: MetadataHead; meta: Buffer | null; relative: string; dest: string };
  /** The chunk's placements judged and its catalog records written, in source order. */
  async function recordChunk(firsts: First[], hows: Placement[]): Promise<void> {
    const parts: Buffer[] = [];
    let lines = 0;
    const foreign: string[] = [];
    for (let k = 0; k < firsts.length; k++) {
      const { rec, meta, relative, dest } = firsts[k];
      const how = hows[k];
      const sop = rec.fields.sopInstanceUid;
      if (how === 'already-there' && !ownPlacements.isOwn(relative, rec.file, dest)) {
        foreign.push(relative);
        // An earlier (or concurrent) run placed these very bytes from another copy: that run's catalog row stays.
        verdicts.set(rec.i, {
          status: 'duplicate',
          code: 'DUPLICATE_INSTANCE',
          message: `same SOP Instance UID ${sop} and same bytes as ${relative}, already placed by an earlier run; kept once`,
        });
        continue;
      }
      if (how === 'conflict') {
        foreign.push(relative);
        verdicts.set(rec.i, {
          status: 'conflict',
          code: 'CONFLICTING_INSTANCE',
          message: `SOP Instance UID ${sop} is already in the tree (${relative}) with different bytes, placed by another run; this file is not placed`,
        });
        continue;
      }
      slices.push(compact.slice(rec.fields));
      if (how === 'copied') copied++;
      else if (how === 'linked') linked++;
      const head: Omit<InstanceRecord, 'meta'> = { i: rec.i, source: rec.source, organizedPath: relative, fields: rec.fields };
      parts.push(...lineWithMetaBytes(head, meta ?? EMPTY_META));
      lines++;
    }
    ownPlacements.foreign(foreign);
    await instances.appendEncoded(Buffer.concat(parts), lines);
    placedCount += lines;
    onProgress?.('place', placedCount);
  }
  try {
    // One chunk is placed (links, on a thread of its own) while the one before it is recorded and the next is read.
    let recording: Promise<void> = Promise.resolve();
    for await (const chunk of metadataChunks()) {
      const firsts: First[] = [];
      for (const { record: rec, meta } of chunk) {
        withMetadata.add(rec.i);
        const sop = rec.fields.sopInstanceUid;
        if (kept.has(sop)) {
          repeats.push({ i: rec.i, source: rec.source, file: rec.file, sop });
          continue;
        }
        kept.set(sop, rec.i);
        const relative = organizedPath(rec.fields);
        firsts.push({ rec, meta, relative, dest: path.join(ws.root, relative) });
      }
      // Named in the run's journal before any of them is placed (see RunPlacements).
      ownPlacements.intend(firsts.map((f) => f.relative));
      const placing = placeChunkOnThread(firsts.map((f) => [f.rec.file, f.dest]));
      placing.catch(() => undefined); // awaited below, after the chunk before it
      await recording;
      recording = placing.then((hows) => recordChunk(firsts, hows));
      recording.catch(() => undefined); // awaited with the next chunk, or after the last
    }
    await recording;
    await instances.commit();
  } finally {
    await instances.close();
  }
  // 2. The later copies, against the first of each.
  await judgeRepeats(repeats, kept, metadataChunks, verdicts);

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
  const issues: SeriesIssueRecord[] = checkSeries(slices);
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

/**
 * Later copies of instances, judged against the first copy of each in source order: same bytes, a duplicate (kept
 * once); other bytes, a conflict (not placed; both name each other). The first copies' files are found by one more
 * pass over the metadata, only when there are repeats at all. `verdicts` holds the first copies the tree refused.
 */
async function judgeRepeats(
  repeats: (Kept & { sop: string })[],
  kept: Map<string, number>,
  metadataChunks: () => AsyncGenerator<{ record: MetadataHead; meta: Buffer | null }[]>,
  verdicts: Map<number, Verdict>,
): Promise<void> {
  if (repeats.length === 0) return;
  const firsts = new Map<number, Kept>(repeats.map((r) => [kept.get(r.sop)!, { i: -1, source: '', file: '' }]));
  for await (const chunk of metadataChunks()) {
    for (const { record: rec } of chunk) if (firsts.has(rec.i)) firsts.set(rec.i, { i: rec.i, source: rec.source, file: rec.file });
  }
  for (const rec of repeats) {
    const first = firsts.get(kept.get(rec.sop)!)!;
    const sop = rec.sop;
    const firstVerdict = verdicts.get(first.i)?.status;
    // The tree holds another run's copy: other bytes (conflict), or these bytes, catalogued by that run (duplicate).
    const firstRefused = firstVerdict === 'conflict' || firstVerdict === 'duplicate';
    if (sameBytes(first.file, rec.file)) {
      const kept = firstVerdict === 'conflict' ? 'neither is placed: the tree holds other bytes from another run' : 'kept once';
      verdicts.set(rec.i, { status: 'duplicate', code: 'DUPLICATE_INSTANCE', message: `same SOP Instance UID ${sop} and same bytes as ${first.source}; ${kept}` });
    } else {
      verdicts.set(rec.i, { status: 'conflict', code: 'CONFLICTING_INSTANCE', message: `SOP Instance UID ${sop} was already placed from ${first.source} with different bytes; this file is not placed` });
      if (firstRefused) continue;
      const note = verdicts.get(first.i);
      verdicts.set(first.i, { status: 'valid', code: 'OK', message: `${note ? note.message + '; ' : 'valid, kept; '}conflicting copy ${rec.source} not placed` });
    }
  }
}

/**
 * The series checks' view of an instance, small: the series UID, modality and orientation shared between the
 * instances that have the same (one string or array per series, not per instance).
 */
class SliceCompactor {
  private readonly strings = new Map<string, string>();
  private readonly orientations = new Map<string, number[]>();

  slice(f: InstanceFields): SeriesSlice {
    return {
      seriesInstanceUid: this.intern(f.seriesInstanceUid),
      instanceNumber: f.instanceNumber,
      imagePositionPatient: f.imagePositionPatient,
      imageOrientationPatient: f.imageOrientationPatient && this.orientation(f.imageOrientationPatient),
      sliceThickness: f.sliceThickness,
      pixelSpacingRow: f.pixelSpacingRow,
      pixelSpacingCol: f.pixelSpacingCol,
      rows: f.rows,
      columns: f.columns,
      modality: f.modality === null ? null : this.intern(f.modality),
    };
  }

  private intern(s: string): string {
    const known = this.strings.get(s);
    if (known !== undefined) return known;
    this.strings.set(s, s);
    return s;
  }

  private orientation(iop: number[]): number[] {
    const key = iop.join(',');
    const known = this.orientations.get(key);
    if (known) return known;
    this.orientations.set(key, iop);
    return iop;
  }
}
