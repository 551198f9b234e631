/**
 * De-identification of one instance by the Basic Application Level Confidentiality Profile (DICOM PS3.15 Annex E,
 * table E.1-1 in profile.ts), element by element and inside every sequence, with three of its options:
 *
 * - retain-longitudinal-modified-dates (113107): dates the option marks C are moved back by the patient's shift
 *   (whole days, from the key), times are kept;
 * - retain-patient-characteristics (113108): the option's K attributes (sex, age, size, weight, ...) are kept;
 * - retain-device-identity (113109): the option's K attributes (manufacturer's serial numbers, station, ...) are kept.
 *
 * Private attributes (odd groups) are removed, UIDs replaced by Pseudonymizer.uid, PatientIdentityRemoved = YES and
 * DeidentificationMethod / DeidentificationMethodCodeSequence (113100 and the options' codes) are written, and
 * Pixel Data is kept byte for byte. An instance that may carry burned-in text (BurnedInAnnotation YES, or a modality or
 * SOP class that usually does) is withheld unless allowed.
 *
 * Compound actions of the table resolve as: X/Z, Z/D and X/Z/D → Z (the attribute stays, empty); X/D → D;
 * X/Z/U (reference sequences) → kept, with the UIDs inside replaced. On a sequence, D and U keep the sequence and
 * clean its items; Z empties it; X removes it.
 */
import type { El } from '../dicom/writer';
import { writeDicom } from '../dicom/writer';
import { E_1_1, type BasicAction, type ProfileRow } from './profile';
import { find, textOf, type FileDataset } from './dataset';
import type { Pseudonymizer } from './uid';

export const PROFILE_OPTIONS = ['retain-longitudinal-modified-dates', 'retain-patient-characteristics', 'retain-device-identity'] as const;
export type ProfileOption = (typeof PROFILE_OPTIONS)[number];

/** CID 7050 codes of the profile and its options. */
export const METHOD_CODES: Record<'basic' | ProfileOption, { code: string; meaning: string }> = {
  basic: { code: '113100', meaning: 'Basic Application Confidentiality Profile' },
  'retain-longitudinal-modified-dates': { code: '113107', meaning: 'Retain Longitudinal Temporal Information Modified Dates Option' },
  'retain-patient-characteristics': { code: '113108', meaning: 'Retain Patient Characteristics Option' },
  'retain-device-identity': { code: '113109', meaning: 'Retain Device Identity Option' },
};

/** Modalities whose images usually carry burned-in text: ultrasound, secondary capture, other, external camera, endoscopy, documents. */
export const RISKY_MODALITIES = new Set(['US', 'SC', 'OT', 'XC', 'ES', 'DOC', 'GM', 'IVUS']);
/** SOP classes likewise (prefixes): secondary capture, ultrasound (incl. retired), encapsulated documents, video. */
export const RISKY_SOP_CLASS_PREFIXES = ['1.2.840.10008.5.1.4.1.1.7', '1.2.840.10008.5.1.4.1.1.6.', '1.2.840.10008.5.1.4.1.1.3.1', '1.2.840.10008.5.1.4.1.1.104.', '1.2.840.10008.5.1.4.1.1.77.1.1.1', '1.2.840.10008.5.1.4.1.1.77.1.4.1'];

interface Row {
  basic: BasicAction;
  device: string;
  patient: string;
  dates: string;
}

const EXACT = new Map<string, Row>();
const REPEATING: { group: number; element: number | null; row: Row }[] = [];
for (const [tag, basic, device, patient, dates] of E_1_1 as readonly ProfileRow[]) {
  const row = { basic, device, patient, dates };
  if (tag.includes('x')) {
    REPEATING.push({ group: parseInt(tag.slice(0, 2), 16), element: tag.slice(4).includes('x') ? null : parseInt(tag.slice(4), 16), row });
  } else EXACT.set(tag, row);
}

function rowOf(tag: string): Row | undefined {
  const exact = EXACT.get(tag);
  if (exact) return exact;
  const group = parseInt(tag.slice(0, 4), 16);
  const element = parseInt(tag.slice(4), 16);
  for (const r of REPEATING) if (group >>> 8 === r.group && (r.element === null || r.element === element)) return r.row;
  return undefined;
}

export interface DeidOptions {
  options: ReadonlySet<ProfileOption>;
  /** Export instances that may carry burned-in text. */
  allowBurnedIn?: boolean;
}

export type DeidResult =
  | { kind: 'withheld'; reason: string }
  | { kind: 'done'; bytes: Buffer; sopInstanceUid: string; seriesInstanceUid: string; studyInstanceUid: string; uids: Map<string, string> };

/** Why an instance may carry burned-in text, or undefined. */
export function burnedInRisk(elements: El[]): string | undefined {
  if ((textOf(find(elements, '00280301')) ?? '').toUpperCase() === 'YES') return 'BurnedInAnnotation (0028,0301) is YES';
  const modality = (textOf(find(elements, '00080060')) ?? '').toUpperCase();
  if (RISKY_MODALITIES.has(modality)) return `modality ${modality} usually carries burned-in text`;
  const sopClass = textOf(find(elements, '00080016')) ?? '';
  if (RISKY_SOP_CLASS_PREFIXES.some((p) => sopClass === p || sopClass.startsWith(p.endsWith('.') ? p : p + '.') || sopClass === p.replace(/\.$/, ''))) return `SOP class ${sopClass} usually carries burned-in text`;
  return undefined;
}

const DUMMY: Record<string, string> = { DA: '19000101', TM: '000000', DT: '19000101000000', AS: '000D', IS: '0', DS: '0', UR: '' };
const BINARY = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV', 'OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN', 'AT']);

const empty = (el: El): El => ({ tag: el.tag, vr: el.vr, value: el.vr === 'SQ' ? [] : el.vr === 'AT' ? [] : new Uint8Array(0) });

function dummy(el: El): El {
  if (el.vr === 'AT') return { ...el, value: [0] };
  if (BINARY.has(el.vr)) {
    const n = el.value instanceof Uint8Array ? el.value.length : 0;
    return { tag: el.tag, vr: el.vr, value: new Uint8Array(n) };
  }
  return { tag: el.tag, vr: el.vr, value: DUMMY[el.vr] ?? 'ANONYMOUS' };
}

/** DA (YYYYMMDD) or the date part of DT moved back by `days`; null when it is not a date that can be moved. */
function shiftDate(value: string, days: number): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})(.*)$/.exec(value.trim());
  if (!m) return null;
  const t = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!Number.isFinite(t)) return null;
  const d = new Date(t - days * 86_400_000);
  const date = `${String(d.getUTCFullYear()).padStart(4, '0')}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return date + m[4];
}

class Cleaner {
  readonly uids = new Map<string, string>();
  constructor(private pseudo: Pseudonymizer, private opts: DeidOptions, private shiftDays: number) {}

  private newUids(el: El): El {
    const text = textOf(el) ?? '';
    if (text === '') return el;
    const value = text
      .split('\\')
      .map((u) => u.replace(/[\0 ]+$/, '').trim())
      .map((u) => {
        if (u === '') return u;
        const n = this.pseudo.uid(u);
        this.uids.set(u, n);
        return n;
      })
      .join('\\');
    return { tag: el.tag, vr: el.vr, value };
  }

  private action(row: Row, vr: string): 'K' | 'X' | 'Z' | 'D' | 'U' | 'SHIFT' {
    const o = this.opts.options;
    if (o.has('retain-device-identity') && row.device === 'K') return 'K';
    if (o.has('retain-patient-characteristics') && row.patient === 'K') return 'K';
    if (o.has('retain-longitudinal-modified-dates') && row.dates === 'C') {
      if (vr === 'DA' || vr === 'DT') return 'SHIFT';
      if (vr === 'TM') return 'K'; // dates move by whole days: a time of day stays what it was
    }
    switch (row.basic) {
      case 'X/Z':
      case 'Z/D':
      case 'X/Z/D':
        return 'Z';
      case 'X/D':
        return 'D';
      case 'X/Z/U':
        return 'U';
      case 'C':
        return 'X'; // no free text cleaning: removed
      default:
        return row.basic;
    }
  }

  clean(elements: El[]): El[] {
    const out: El[] = [];
    for (const el of elements) {
      const group = parseInt(el.tag.slice(0, 4), 16);
      if (group % 2 === 1) continue; // private attributes
      if (group === 0x0002) continue; // the file meta group is written anew
      const row = rowOf(el.tag);
      if (!row) {
        out.push(el.vr === 'SQ' ? { ...el, value: (el.value as El[][]).map((item) => this.clean(item)) } : el);
        continue;
      }
      const action = this.action(row, el.vr);
      if (action === 'X') continue;
      if (action === 'Z') {
        out.push(empty(el));
        continue;
      }
      if (el.vr === 'SQ') {
        // K, D, U on a sequence: the sequence stays, its items are cleaned.
        out.push({ ...el, value: (el.value as El[][]).map((item) => this.clean(item)) });
        continue;
      }
      if (action === 'K') out.push(el);
      else if (el.vr === 'UI' && (action === 'U' || action === 'D')) out.push(this.newUids(el));
      else if (action === 'SHIFT') {
        const text = textOf(el) ?? '';
        const shifted = text.split('\\').map((v) => (v.trim() === '' ? '' : shiftDate(v, this.shiftDays)));
        out.push(shifted.some((v) => v === null) ? empty(el) : { tag: el.tag, vr: el.vr, value: shifted.join('\\') });
      } else out.push(dummy(el));
    }
    return out;
  }
}

const str = (tag: string, vr: string, value: string): El => ({ tag, vr, value });

/** The de-identified elements of one instance (no burned-in check) and the UIDs it replaced (old → new). */
export function deidentifyElements(ds: FileDataset, pseudo: Pseudonymizer, opts: DeidOptions): { elements: El[]; uids: Map<string, string> } {
  const patientId = textOf(find(ds.elements, '00100020')) ?? '';
  const cleaner = new Cleaner(pseudo, opts, pseudo.dateShiftDays(patientId));
  const added = new Set(['00120062', '00120063', '00120064', '00280303']);
  const elements = cleaner.clean(ds.elements).filter((e) => !added.has(e.tag));
  const chosen = PROFILE_OPTIONS.filter((o) => opts.options.has(o));
  const codes = [METHOD_CODES.basic, ...chosen.map((o) => METHOD_CODES[o])];
  elements.push(
    str('00120062', 'CS', 'YES'),
    // LO values hold 64 characters: one value per profile and option.
    str('00120063', 'LO', ['DICOM PS3.15 E.1-1 Basic Profile', ...chosen.map((o) => o.replace(/-/g, ' '))].join('\\')),
    { tag: '00120064', vr: 'SQ', value: codes.map((c) => [str('00080100', 'SH', c.code), str('00080102', 'SH', 'DCM'), str('00080104', 'LO', c.meaning)]) },
    str('00280303', 'CS', opts.options.has('retain-longitudinal-modified-dates') ? 'MODIFIED' : 'REMOVED'),
  );
  return { elements, uids: cleaner.uids };
}

/** De-identifies one instance read by readFileDataset; returns its new file's bytes, or why it is withheld. */
export function deidentify(ds: FileDataset, pseudo: Pseudonymizer, opts: DeidOptions): DeidResult {
  if (!opts.allowBurnedIn) {
    const risk = burnedInRisk(ds.elements);
    if (risk) return { kind: 'withheld', reason: `${risk} (--allow-burned-in exports it)` };
  }
  const { elements, uids } = deidentifyElements(ds, pseudo, opts);
  const bytes = writeDicom(elements, { transferSyntax: 'explicit-le', transferSyntaxUid: ds.encapsulated ? ds.transferSyntaxUid : undefined });
  return {
    kind: 'done',
    bytes,
    sopInstanceUid: textOf(find(elements, '00080018')) ?? '',
    seriesInstanceUid: textOf(find(elements, '0020000E')) ?? '',
    studyInstanceUid: textOf(find(elements, '0020000D')) ?? '',
    uids,
  };
}
