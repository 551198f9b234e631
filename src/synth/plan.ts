/**
 * The entries of a synthetic dataset, in source order, each with its bytes (produced on demand) and
 * what ingest must conclude about it. Valid DICOM entries carry their instance facts and a content key;
 * whether such an entry ends up valid, duplicate or conflict depends on the order it is met in, so the
 * manifest decides that (manifest.ts), for a zip and for a folder alike.
 */
import { El, TransferSyntax, writeDicom } from '../dicom/writer';
import type { Code } from '../dicom/codes';
import { lidcXml } from './annotation';
import {
  anonymousPatient,
  ctSeriesPlan,
  instanceElements,
  instanceFacts,
  InstanceFacts,
  InstancePlan,
  PatientPlan,
  patientPlan,
  radiographSeriesPlan,
  SeriesPlan,
  StudyPlan,
  studyPlan,
} from './datasets';
import { intIn, randomBytes, uid } from './random';
import type { EntryStatus } from './types';
import { zipToBuffer } from './zip';

export interface PlannedEntry {
  /** path inside the source (inside the nested zip for inner entries) */
  path: string;
  compress: boolean;
  data: () => Buffer;
  /** a valid DICOM instance: valid, duplicate or conflict by order; same contentKey = same bytes */
  instance?: { facts: InstanceFacts; contentKey: string };
  /** any other entry: its fixed outcome */
  outcome?: { status: Exclude<EntryStatus, 'valid' | 'duplicate' | 'conflict'>; code: Code };
  /** a nested zip's entries */
  inner?: PlannedEntry[];
  /** series-level findings this entry's series is planted with (given on one entry of the series) */
  seriesIssues?: { seriesInstanceUid: string; code: Code }[];
}

export interface PlanOptions {
  patients: number;
  slices: number;
  size: number;
  broken: boolean;
  seed: number;
}

const pad3 = (n: number) => String(n).padStart(3, '0');

function dicomEntry(path: string, plan: InstancePlan, change?: { add?: El[]; contentKey?: string }): PlannedEntry {
  const data = () => dicomBytes(plan, change);
  return { path, compress: false, data, instance: { facts: instanceFacts(plan), contentKey: change?.contentKey ?? plan.sopInstanceUid } };
}

function dicomBytes(plan: InstancePlan, change?: { omit?: string[]; add?: El[] }): Buffer {
  let els = instanceElements(plan);
  if (change?.omit) els = els.filter((e) => !change.omit!.includes(e.tag));
  if (change?.add) els = [...els, ...change.add];
  return writeDicom(els, { transferSyntax: plan.transferSyntax });
}

function fixed(path: string, status: NonNullable<PlannedEntry['outcome']>['status'], code: Code, data: () => Buffer, compress = false): PlannedEntry {
  return { path, compress, data, outcome: { status, code } };
}

interface PatientSeries {
  patient: PatientPlan;
  ctStudy: StudyPlan;
  ct: SeriesPlan;
  slices: InstancePlan[];
  ctFolder: string;
}

export async function planDataset(o: PlanOptions): Promise<PlannedEntry[]> {
  const { seed } = o;
  const entries: PlannedEntry[] = [];
  const hosts: PatientSeries[] = [];
  for (let p = 0; p < o.patients; p++) {
    const patient = patientPlan(seed, p);
    // Alternate implicit / explicit VR little endian between patients and between their two series.
    const ctTs: TransferSyntax = p % 2 === 0 ? 'implicit-le' : 'explicit-le';
    const rxTs: TransferSyntax = p % 2 === 0 ? 'explicit-le' : 'implicit-le';
    const ctStudy = studyPlan(seed, `p${p}/ct`, 'CT CHEST');
    const ct = ctSeriesPlan(seed, `p${p}/ct`, { size: o.size, slices: o.slices, transferSyntax: ctTs });
    const ctFolder = `LIDC-IDRI/${patient.folder}/${ctStudy.folder}/${ct.folder}`;
    const slices: InstancePlan[] = [];
    for (let i = 0; i < o.slices; i++) {
      const slice = { patient, study: ctStudy, series: ct, index: i, sopInstanceUid: uid(seed, `p${p}/ct/${i}`), transferSyntax: ctTs };
      slices.push(slice);
      entries.push(dicomEntry(`${ctFolder}/1-${pad3(i + 1)}.dcm`, slice));
      if (o.broken && p === 0 && i === 0) {
        entries.push(fixed(`__MACOSX/${ctFolder}/._1-001.dcm`, 'skipped', 'SKIPPED_MACOS_METADATA', appleDouble));
      }
    }
    const xmlName = `${pad3(intIn(seed, `p${p}/xml`, 1, 999))}.xml`;
    const messageId = intIn(seed, `p${p}/xml/id`, 1, 2 ** 31 - 1);
    entries.push(fixed(`${ctFolder}/${xmlName}`, 'invalid', 'NOT_DICOM', () => Buffer.from(lidcXml(ctStudy, ct, slices, messageId), 'utf8'), true));

    const rxStudy = studyPlan(seed, `p${p}/rx`, 'XR CHEST');
    const rx = radiographSeriesPlan(seed, `p${p}/rx`, { size: o.size, transferSyntax: rxTs });
    const image = { patient, study: rxStudy, series: rx, index: 0, sopInstanceUid: uid(seed, `p${p}/rx/0`), transferSyntax: rxTs };
    entries.push(dicomEntry(`LIDC-IDRI/${patient.folder}/${rxStudy.folder}/${rx.folder}/1-001.dcm`, image));
    hosts.push({ patient, ctStudy, ct, slices, ctFolder });
  }
  if (o.broken) entries.push(...(await brokenEntries(o, hosts[0])));
  return entries;
}

/** The bad, odd and tricky cases, hosted by the first patient. */
async function brokenEntries(o: PlanOptions, host: PatientSeries): Promise<PlannedEntry[]> {
  const { seed } = o;
  const { patient, ctStudy: study, ct } = host;
  const small = Math.min(o.size, 64);
  /** Slice `index` of a series; its SOP Instance UID derives from `uidLabel`. */
  const slice = (series: SeriesPlan, uidLabel: string, index: number, ts = series.transferSyntax, who = { patient, study }): InstancePlan => ({
    ...who,
    series,
    index,
    sopInstanceUid: uid(seed, uidLabel),
    transferSyntax: ts,
  });
  const extraSlice = (index: number, label: string, ts: TransferSyntax) => slice(ct, `broken/${label}`, index, ts);
  const truncated = (plan: InstancePlan) => () => {
    const whole = dicomBytes(plan);
    // Pixel Data is the last element: dropping half of its bytes cuts the file inside it.
    return whole.subarray(0, whole.length - (plan.series.rows * plan.series.columns * 2) / 2);
  };
  const M = o.slices;
  const out: PlannedEntry[] = [
    fixed('extra/truncated-implicit.dcm', 'invalid', 'TRUNCATED', truncated(extraSlice(M, 'truncated-implicit', 'implicit-le'))),
    fixed('extra/truncated-explicit.dcm', 'invalid', 'TRUNCATED', truncated(extraSlice(M + 1, 'truncated-explicit', 'explicit-le'))),
    fixed('extra/empty.dcm', 'invalid', 'EMPTY_FILE', () => Buffer.alloc(0)),
    fixed('extra/notes.dcm', 'invalid', 'NOT_DICOM', () => Buffer.from('Scan notes: patient moved during the second acquisition.\nRepeat series sent separately.\n', 'latin1')),
    fixed('extra/dicm-then-garbage.dcm', 'invalid', 'BAD_FILE_META', () => dicmThenGarbage(seed)),
    fixed('extra/no-sop-instance-uid.dcm', 'invalid', 'MISSING_SOP_INSTANCE_UID', () =>
      dicomBytes(extraSlice(M + 2, 'no-sop', 'explicit-le'), { omit: ['00080018'] }),
    ),
    fixed('extra/no-series-instance-uid.dcm', 'invalid', 'MISSING_SERIES_INSTANCE_UID', () =>
      dicomBytes(extraSlice(M + 3, 'no-series', 'implicit-le'), { omit: ['0020000E'] }),
    ),
  ];

  // A small extra series of the same study: no extension, big endian and deflated, all valid.
  const x = ctSeriesPlan(seed, 'extra/x', { size: small, slices: 3, transferSyntax: 'explicit-le' });
  const xSlice = (index: number, ts: TransferSyntax) => slice(x, `extra/x/${index}`, index, ts);
  out.push(
    dicomEntry('extra/IM00006', xSlice(0, 'explicit-le')),
    dicomEntry('extra/big-endian.dcm', xSlice(1, 'explicit-be')),
    dicomEntry('extra/deflated.dcm', xSlice(2, 'deflated-le')),
  );

  // The same SOP instance again: byte for byte (duplicate), and with one more element (conflict).
  out.push(dicomEntry('extra/copy-of-1-001.dcm', host.slices[0]));
  const conflicted = host.slices[Math.min(1, host.slices.length - 1)];
  out.push(
    dicomEntry('extra/conflict-1-002.dcm', conflicted, {
      add: [{ tag: '00204000', vr: 'LT', value: 'reprocessed copy' }],
      contentKey: `${conflicted.sopInstanceUid}+comment`,
    }),
  );

  // Entries that would escape the extraction folder; valid DICOM inside, so writing them would show.
  const evilPatient: PatientPlan = { id: 'EVIL-0001', name: 'Evil^Entry', sex: 'O', folder: 'EVIL-0001' };
  const evilStudy = studyPlan(seed, 'evil', 'CT CHEST');
  const evil = ctSeriesPlan(seed, 'evil', { size: 16, slices: 2, transferSyntax: 'explicit-le' });
  const evilSlice = (index: number) => slice(evil, `evil/${index}`, index, 'explicit-le', { patient: evilPatient, study: evilStudy });
  out.push(
    fixed('../evil.dcm', 'refused', 'REFUSED_UNSAFE_PATH', () => dicomBytes(evilSlice(0))),
    fixed('/etc/evil.dcm', 'refused', 'REFUSED_UNSAFE_PATH', () => dicomBytes(evilSlice(1))),
  );

  // A nested zip holding two slices of another series of the study.
  const y = ctSeriesPlan(seed, 'extra/y', { size: small, slices: 2, transferSyntax: 'implicit-le' });
  const ySlice = (index: number, ts: TransferSyntax) => slice(y, `extra/y/${index}`, index, ts);
  const inner = [dicomEntry('nested-series/1-001.dcm', ySlice(0, 'implicit-le')), dicomEntry('nested-series/1-002.dcm', ySlice(1, 'explicit-le'))];
  const nestedBytes = await zipToBuffer(inner.map((e) => ({ name: e.path, data: e.data, compress: e.compress })));
  out.push({ ...fixed('extra/nested.zip', 'skipped', 'SKIPPED_NESTED_ZIP', () => nestedBytes), inner });

  // Series the series checks must flag: one missing slice 1-003 (a gap in InstanceNumber, and twice the spacing
  // there), and one whose middle slice has other Rows/Columns. Each slice is valid on its own.
  const gappy = ctSeriesPlan(seed, 'extra/gappy', { size: small, slices: 5, transferSyntax: 'explicit-le' });
  const mixed = ctSeriesPlan(seed, 'extra/mixed', { size: small, slices: 3, transferSyntax: 'implicit-le' });
  const sliceOf = (series: SeriesPlan, label: string, index: number) => slice(series, `${label}/${index}`, index);
  const gapped = [0, 1, 3, 4].map((k) => dicomEntry(`extra/gappy/1-${pad3(k + 1)}.dcm`, sliceOf(gappy, 'extra/gappy', k)));
  gapped[0].seriesIssues = [
    { seriesInstanceUid: gappy.uid, code: 'INSTANCE_NUMBER_GAP' },
    { seriesInstanceUid: gappy.uid, code: 'UNEVEN_SLICE_SPACING' },
  ];
  const smaller = { ...mixed, rows: small / 2, columns: small / 2 };
  const mixedEntries = [0, 1, 2].map((k) => dicomEntry(`extra/mixed/1-${pad3(k + 1)}.dcm`, sliceOf(k === 1 ? smaller : mixed, 'extra/mixed', k)));
  mixedEntries[0].seriesIssues = [{ seriesInstanceUid: mixed.uid, code: 'MIXED_DIMENSIONS' }];
  out.push(...gapped, ...mixedEntries);

  // A valid instance with an empty PatientID, in a study and series of its own.
  const anon = anonymousPatient();
  const anonStudy = studyPlan(seed, 'anon', 'CT CHEST');
  const anonSeries = ctSeriesPlan(seed, 'anon', { size: small, slices: 1, transferSyntax: 'explicit-le' });
  out.push(
    dicomEntry('extra/no-patient-id.dcm', {
      patient: anon,
      study: anonStudy,
      series: anonSeries,
      index: 0,
      sopInstanceUid: uid(seed, 'anon/0'),
      transferSyntax: 'explicit-le',
    }),
  );
  return out;
}

/** 'DICM' after the preamble, then bytes that are no file meta group (never starting with group 0002). */
function dicmThenGarbage(seed: number): Buffer {
  const garbage = randomBytes(seed, 'garbage', 256);
  if (garbage[0] === 0x02 && garbage[1] === 0x00) garbage[0] = 0xa5;
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), garbage]);
}

/** A minimal AppleDouble file as macOS zips add under __MACOSX/ (magic 0x00051607, one Finder Info entry). */
function appleDouble(): Buffer {
  const b = Buffer.alloc(82);
  b.writeUInt32BE(0x00051607, 0);
  b.writeUInt32BE(0x00020000, 4);
  b.write('Mac OS X        ', 8, 'latin1');
  b.writeUInt16BE(1, 24); // one entry
  b.writeUInt32BE(9, 26); // Finder Info
  b.writeUInt32BE(50, 30); // offset
  b.writeUInt32BE(32, 34); // length
  return b;
}
