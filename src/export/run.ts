/**
 * The export's three steps, free of Temporal (src/activities/export.ts adapts them):
 *
 *   plan    the selection over the catalog, cut into batches of whole series sized by work (instances and bytes);
 *   batch   each series of a batch written to the destination (de-identified DICOM, copied DICOM or NIfTI), every file
 *           under a temporary name then renamed; finished series are appended to a partial file, so a retried batch
 *           goes on after the last one; a finished batch's result file makes it a no-op;
 *   finish  the manifest (destination/manifest.csv), the identifier mapping (only at the key location), the
 *           catalog's exports row.
 *
 * Everything the export writes follows from the catalog, the files, the request and the key: the same request and key
 * write the same bytes, so an export killed anywhere and run again ends with the same output.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { Knex } from 'knex';
import { exportWorkspace } from '../workspace';
import { sanitizePathPart, MISSING_PATIENT_FOLDER } from '../organize/tree';
import { selectSeries, seriesInstances, type Selection, type SelectedSeries } from './select';
import { readFileDataset, find, textOf, type FileDataset } from './dataset';
import { burnedInRisk, deidentify, deidentifyElements, type ProfileOption } from './deid';
import { buildVolume, sidecar, Unfit, UNFIT_ISSUES } from './nifti';
import { keyFingerprint, Pseudonymizer, readKey } from './uid';

/** What the client asked for, written to the export's scratch (request.json); never holds the key itself. */
export interface ExportRequest {
  exportId: string;
  /** Absolute destination folder. */
  to: string;
  format: 'dicom' | 'nifti';
  deidentify: boolean;
  profileOptions: ProfileOption[];
  /** The key file (absolute); with --deidentify. */
  keyFile?: string;
  /** Where the mapping goes: the key file's folder. */
  keyDir?: string;
  allowBurnedIn: boolean;
  selection: Selection;
  /** Instances per batch (whole series; --batch-size), instead of the work-sized default. */
  batchInstances?: number;
}

export interface ExportPlan {
  series: number;
  instances: number;
  bytes: number;
  batchCount: number;
}

interface BatchSeries {
  series: SelectedSeries;
  files: { sopInstanceUid: string; filePath: string; fileSize: number }[];
}

export interface SeriesOutcome {
  /** The catalog's Series Instance UID (the mapping's and the resume's key; never in the manifest when de-identified). */
  source: string;
  status: 'exported' | 'withheld' | 'skipped';
  code?: string;
  reason?: string;
  patient: string;
  study: string;
  series: string;
  modality: string;
  instances: number;
  withheld: number;
  bytes: number;
  /** The series' folder (DICOM) or .nii.gz (NIfTI), relative to the destination. */
  path: string;
  /** [kind, original, new]: UIDs and the patient alias (de-identified exports only). */
  mapping: [string, string, string][];
}

export interface BatchOutcome {
  batchIndex: number;
  series: number;
  instances: number;
  withheld: number;
  skipped: number;
  bytes: number;
}

export interface ExportSummary {
  exportId: string;
  to: string;
  format: 'dicom' | 'nifti';
  deidentified: boolean;
  series: number;
  instances: number;
  withheldInstances: number;
  skippedSeries: number;
  withheldSeries: number;
  bytes: number;
  manifest: string;
  mapping?: string;
}

/** Batches close at this much work: whole series, up to ~2,000 instances or 512 MiB. */
const BATCH_INSTANCES = 2000;
const BATCH_BYTES = 512 * 1024 * 1024;

function writeAtomic(file: string, data: string | Buffer, mode?: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, data, mode ? { mode } : undefined);
  fs.renameSync(tmp, file);
}

const readJson = <T>(file: string): T => JSON.parse(fs.readFileSync(file, 'utf8')) as T;

export function readRequest(outDir: string, exportKey: string): ExportRequest {
  return readJson<ExportRequest>(exportWorkspace(outDir, exportKey).request);
}

export async function planExport(outDir: string, exportKey: string, db: Knex): Promise<ExportPlan> {
  const ws = exportWorkspace(outDir, exportKey);
  if (fs.existsSync(ws.plan)) return readJson<ExportPlan>(ws.plan);
  const request = readRequest(outDir, exportKey);
  const selected = await selectSeries(db, request.selection);
  const batches: BatchSeries[][] = [];
  let current: BatchSeries[] = [];
  let instances = 0;
  let bytes = 0;
  for (const series of selected) {
    const files = await seriesInstances(db, series.seriesInstanceUid);
    current.push({ series, files });
    instances += files.length;
    bytes += files.reduce((n, f) => n + f.fileSize, 0);
    if (instances >= (request.batchInstances ?? BATCH_INSTANCES) || bytes >= BATCH_BYTES) {
      batches.push(current);
      current = [];
      instances = bytes = 0;
    }
  }
  if (current.length > 0) batches.push(current);
  batches.forEach((b, i) => writeAtomic(ws.batch(i), JSON.stringify(b)));
  const plan: ExportPlan = {
    series: selected.length,
    instances: selected.reduce((n, s) => n + s.instances, 0),
    bytes: selected.reduce((n, s) => n + s.bytes, 0),
    batchCount: batches.length,
  };
  writeAtomic(ws.plan, JSON.stringify(plan));
  return plan;
}

/** Reads the lines of a partial file; a last line cut by a crash is left out. */
function partialOutcomes(file: string): SeriesOutcome[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: SeriesOutcome[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      out.push(JSON.parse(line) as SeriesOutcome);
    } catch {
      break;
    }
  }
  return out;
}

function totals(batchIndex: number, outcomes: SeriesOutcome[]): BatchOutcome {
  return {
    batchIndex,
    series: outcomes.filter((o) => o.status === 'exported').length,
    instances: outcomes.reduce((n, o) => n + o.instances, 0),
    withheld: outcomes.reduce((n, o) => n + o.withheld, 0),
    skipped: outcomes.filter((o) => o.status === 'skipped').length,
    bytes: outcomes.reduce((n, o) => n + o.bytes, 0),
  };
}

export interface BatchHooks {
  /** After each instance (or series): instances done so far in this call. */
  progress?: (done: number) => void;
  signal?: AbortSignal;
}

export async function exportBatch(outDir: string, exportKey: string, batchIndex: number, hooks: BatchHooks = {}): Promise<BatchOutcome> {
  const ws = exportWorkspace(outDir, exportKey);
  if (fs.existsSync(ws.result(batchIndex))) return totals(batchIndex, readJson<SeriesOutcome[]>(ws.result(batchIndex)));
  const request = readRequest(outDir, exportKey);
  const batch = readJson<BatchSeries[]>(ws.batch(batchIndex));
  const pseudo = request.deidentify ? new Pseudonymizer(readKey(request.keyFile!)) : undefined;
  const outcomes = partialOutcomes(ws.partial(batchIndex));
  // Rewrite the partial file with the whole lines only, then append.
  fs.mkdirSync(path.dirname(ws.partial(batchIndex)), { recursive: true });
  fs.writeFileSync(ws.partial(batchIndex), outcomes.map((o) => JSON.stringify(o) + '\n').join(''));
  const done = new Set(outcomes.map((o) => o.source));
  let instancesDone = outcomes.reduce((n, o) => n + o.instances + o.withheld, 0);
  for (const item of batch) {
    if (done.has(item.series.seriesInstanceUid)) continue;
    if (hooks.signal?.aborted) throw hooks.signal.reason ?? new Error('cancelled');
    const outcome =
      request.format === 'nifti'
        ? await exportNifti(outDir, request, item, pseudo)
        : await exportDicomSeries(outDir, request, item, pseudo, (n) => hooks.progress?.(instancesDone + n));
    fs.appendFileSync(ws.partial(batchIndex), JSON.stringify(outcome) + '\n');
    instancesDone += item.files.length;
    hooks.progress?.(instancesDone);
    outcomes.push(outcome);
    // Let heartbeats and cancellation through between series.
    await new Promise((r) => setImmediate(r));
  }
  writeAtomic(ws.result(batchIndex), JSON.stringify(outcomes));
  fs.rmSync(ws.partial(batchIndex), { force: true });
  return totals(batchIndex, outcomes);
}

const resolveFile = (outDir: string, file: string) => path.resolve(outDir, file);

/** The path parts of a series in the destination: patient folder, study, series (new identifiers when de-identified). */
function names(series: SelectedSeries, pseudo: Pseudonymizer | undefined): { patient: string; study: string; series: string; mapping: [string, string, string][] } {
  const pid = series.patientId ?? '';
  if (!pseudo) {
    return { patient: pid.trim() ? sanitizePathPart(pid) : MISSING_PATIENT_FOLDER, study: series.studyInstanceUid, series: series.seriesInstanceUid, mapping: [] };
  }
  const alias = pseudo.patientAlias(pid);
  const study = pseudo.uid(series.studyInstanceUid);
  const seriesUid = pseudo.uid(series.seriesInstanceUid);
  return {
    patient: alias,
    study,
    series: seriesUid,
    mapping: [
      ['patient', pid, alias],
      ['study', series.studyInstanceUid, study],
      ['series', series.seriesInstanceUid, seriesUid],
    ],
  };
}

async function exportDicomSeries(outDir: string, request: ExportRequest, item: BatchSeries, pseudo: Pseudonymizer | undefined, progress: (n: number) => void): Promise<SeriesOutcome> {
  const n = names(item.series, pseudo);
  const rel = path.join(sanitizePathPart(n.patient), sanitizePathPart(n.study), sanitizePathPart(n.series));
  const folder = path.join(request.to, rel);
  const outcome: SeriesOutcome = { source: item.series.seriesInstanceUid, status: 'exported', patient: n.patient, study: n.study, series: n.series, modality: item.series.modality ?? '', instances: 0, withheld: 0, bytes: 0, path: rel, mapping: n.mapping };
  const mapped = new Map<string, string>();
  const reasons = new Set<string>();
  for (const [k, f] of item.files.entries()) {
    // Timers (heartbeats) run between instances.
    await new Promise((r) => setImmediate(r));
    const source = resolveFile(outDir, f.filePath);
    if (!pseudo) {
      const dest = path.join(folder, `${sanitizePathPart(f.sopInstanceUid)}.dcm`);
      fs.mkdirSync(folder, { recursive: true });
      const tmp = `${dest}.tmp-${process.pid}`;
      fs.copyFileSync(source, tmp);
      fs.renameSync(tmp, dest);
      outcome.instances++;
      outcome.bytes += fs.statSync(dest).size;
    } else {
      let result: ReturnType<typeof deidentify>;
      try {
        result = deidentify(readFileDataset(source), pseudo, { options: new Set(request.profileOptions), allowBurnedIn: request.allowBurnedIn });
      } catch (err) {
        // A file ingest took but this reader cannot rewrite: withheld, said in the manifest, never half-written.
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOSPC') throw err;
        result = { kind: 'withheld', reason: `not rewritable: ${(err as Error).message ?? String(err)}` };
      }
      if (result.kind === 'withheld') {
        outcome.withheld++;
        reasons.add(result.reason);
      } else {
        writeAtomic(path.join(folder, `${sanitizePathPart(result.sopInstanceUid)}.dcm`), result.bytes);
        outcome.instances++;
        outcome.bytes += result.bytes.length;
        for (const [from, to] of result.uids) mapped.set(from, to);
      }
    }
    progress(k + 1);
  }
  const already = new Set(outcome.mapping.map((m) => m[1]));
  for (const [from, to] of [...mapped].sort()) if (!already.has(from)) outcome.mapping.push(['uid', from, to]);
  if (outcome.instances === 0 && outcome.withheld > 0) {
    outcome.status = 'withheld';
    outcome.code = [...reasons].every((r) => r.startsWith('not rewritable')) ? 'NOT_REWRITABLE' : 'BURNED_IN_RISK';
  }
  if (reasons.size) outcome.reason = [...reasons].join('; ');
  return outcome;
}

async function exportNifti(outDir: string, request: ExportRequest, item: BatchSeries, pseudo: Pseudonymizer | undefined): Promise<SeriesOutcome> {
  const n = names(item.series, pseudo);
  const rel = path.join(sanitizePathPart(n.patient), sanitizePathPart(n.study), `${sanitizePathPart(n.series)}.nii.gz`);
  const outcome: SeriesOutcome = { source: item.series.seriesInstanceUid, status: 'exported', patient: n.patient, study: n.study, series: n.series, modality: item.series.modality ?? '', instances: 0, withheld: 0, bytes: 0, path: rel, mapping: n.mapping };
  const skip = (code: string, reason: string): SeriesOutcome => ({ ...outcome, status: 'skipped', code, reason, withheld: 0 });
  const unfit = item.series.issues.filter((i) => UNFIT_ISSUES.has(i.code));
  if (unfit.length > 0) return skip(unfit[0].code, unfit.map((i) => `${i.code}: ${i.message}`).join('; '));
  const files = [...item.files].sort((a, b) => (a.sopInstanceUid < b.sopInstanceUid ? -1 : a.sopInstanceUid > b.sopInstanceUid ? 1 : 0));
  const read = (i: number): FileDataset => readFileDataset(resolveFile(outDir, files[i].filePath));
  const firstDs = read(0);
  if (pseudo && !request.allowBurnedIn) {
    const risk = burnedInRisk(firstDs.elements);
    if (risk) return { ...skip('BURNED_IN_RISK', `${risk} (--allow-burned-in exports it)`), status: 'withheld', withheld: files.length };
  }
  let volume;
  try {
    volume = await buildVolume(files.length, (i) => (i === 0 ? firstDs : read(i)), item.series.modality);
  } catch (err) {
    if (err instanceof Unfit) return skip(err.code, err.message);
    throw err;
  }
  const elements = pseudo ? deidentifyElements(firstDs, pseudo, { options: new Set(request.profileOptions) }).elements : firstDs.elements;
  const json = sidecar(elements, volume, pseudo ? { PatientAlias: n.patient } : {});
  const file = path.join(request.to, rel);
  writeAtomic(file, volume.bytes);
  writeAtomic(file.replace(/\.nii\.gz$/, '.json'), JSON.stringify(json, null, 2) + '\n');
  outcome.instances = files.length;
  outcome.bytes = volume.bytes.length;
  if (pseudo) {
    const frame = textOf(find(firstDs.elements, '00200052'));
    if (frame) outcome.mapping.push(['uid', frame, pseudo.uid(frame)]);
  }
  return outcome;
}

const csvCell = (v: unknown): string => {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

export const MANIFEST_COLUMNS = ['patient', 'study_instance_uid', 'series_instance_uid', 'modality', 'status', 'code', 'instances', 'withheld', 'bytes', 'path', 'reason'] as const;

export async function finishExport(outDir: string, exportKey: string, db: Knex): Promise<ExportSummary> {
  const ws = exportWorkspace(outDir, exportKey);
  const request = readRequest(outDir, exportKey);
  const plan = readJson<ExportPlan>(ws.plan);
  const outcomes: SeriesOutcome[] = [];
  for (let i = 0; i < plan.batchCount; i++) outcomes.push(...readJson<SeriesOutcome[]>(ws.result(i)));
  const rows = outcomes.map((o) =>
    // A series with nothing written has no path.
    [o.patient, o.study, o.series, o.modality, o.status, o.code ?? '', o.instances, o.withheld, o.bytes, o.status === 'exported' ? o.path.split(path.sep).join('/') : '', o.reason ?? ''].map(csvCell).join(','),
  );
  const manifest = path.join(request.to, 'manifest.csv');
  writeAtomic(manifest, [MANIFEST_COLUMNS.join(','), ...rows].join('\n') + '\n');
  let mapping: string | undefined;
  if (request.deidentify) {
    mapping = path.join(request.keyDir!, `mapping-${request.exportId}.csv`);
    const seen = new Set<string>();
    const lines = ['kind,original,new'];
    for (const o of outcomes)
      for (const m of o.mapping) {
        const key = m.join('\0');
        if (seen.has(key)) continue;
        seen.add(key);
        lines.push(m.map(csvCell).join(','));
      }
    writeAtomic(mapping, lines.join('\n') + '\n', 0o600);
  }
  const summary: ExportSummary = {
    exportId: request.exportId,
    to: request.to,
    format: request.format,
    deidentified: request.deidentify,
    series: outcomes.filter((o) => o.status === 'exported').length,
    instances: outcomes.reduce((n, o) => n + o.instances, 0),
    withheldInstances: outcomes.reduce((n, o) => n + o.withheld, 0),
    skippedSeries: outcomes.filter((o) => o.status === 'skipped').length,
    withheldSeries: outcomes.filter((o) => o.status === 'withheld').length,
    bytes: outcomes.reduce((n, o) => n + o.bytes, 0),
    manifest,
    mapping,
  };
  const row = {
    export_id: request.exportId,
    finished_at: new Date().toISOString(),
    destination: request.to,
    format: request.format,
    deidentified: request.deidentify ? 1 : 0,
    profile_options: request.profileOptions.join(','),
    key_fingerprint: request.deidentify ? keyFingerprint(readKey(request.keyFile!)) : null,
    selection: JSON.stringify(request.selection),
    series: summary.series,
    instances: summary.instances,
    withheld: summary.withheldInstances,
    skipped: summary.skippedSeries + summary.withheldSeries,
    bytes: summary.bytes,
  };
  await db('exports').insert(row).onConflict('export_id').merge();
  return summary;
}
