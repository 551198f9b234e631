/**
 * The synthetic LIDC-like patients, studies and series (plans), and the DICOM data sets of their
 * instances. Everything derives from (seed, labels), see random.ts.
 */
import type { InstanceFields } from '../records';
import { El, TransferSyntax, TRANSFER_SYNTAX_UID } from '../dicom/writer';
import { intIn, pick, uid, unit } from './random';
import { ctSlice, Nodule, radiograph } from './pixels';

export const SOP_CLASS = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  CR: '1.2.840.10008.5.1.4.1.1.1',
  DX: '1.2.840.10008.5.1.4.1.1.1.1',
} as const;

const SCANNERS = [
  { manufacturer: 'GE MEDICAL SYSTEMS', model: 'LightSpeed16', kernels: ['STANDARD', 'LUNG', 'BONE'] },
  { manufacturer: 'SIEMENS', model: 'Sensation 16', kernels: ['B30f', 'B45f', 'B70f'] },
  { manufacturer: 'Philips', model: 'Brilliance 16', kernels: ['B', 'C', 'D'] },
  { manufacturer: 'TOSHIBA', model: 'Aquilion', kernels: ['FC01', 'FC10', 'FC51'] },
] as const;
const THICKNESSES = [0.625, 1, 1.25, 1.5, 2, 2.5, 3] as const;
const PIXEL_SPACINGS = [0.5859375, 0.625, 0.703125, 0.78125, 0.859375] as const;
/** Latin-1 names: SpecificCharacterSet is ISO_IR 100, so readers must decode them as such. */
const NAMES = ['Doe^Jane', 'Müller^Jürgen', 'García^José', 'Ødegård^Åse', 'Dupont^Hélène', 'Smith^John', 'Nuñez^Iñigo', 'Björk^Örn'];

export interface PatientPlan {
  /** null for the instance deliberately written with an empty PatientID. */
  id: string | null;
  name: string | null;
  sex: 'M' | 'F' | 'O';
  folder: string;
}

export interface StudyPlan {
  uid: string;
  /** DICOM DA, YYYYMMDD */
  date: string;
  time: string;
  description: string;
  studyId: string;
  accession: string;
  folder: string;
}

export interface SeriesPlan {
  uid: string;
  number: number;
  modality: 'CT' | 'CR' | 'DX';
  description: string;
  folder: string;
  transferSyntax: TransferSyntax;
  rows: number;
  columns: number;
  /** CT only */
  sliceThickness: number | null;
  /** (0028,0030); null for CR, which only has ImagerPixelSpacing */
  pixelSpacing: number | null;
  /** false: no AcquisitionDate (CR) */
  hasAcquisitionDate: boolean;
  manufacturer: string;
  model: string;
  kernel: string | null;
  kvp: number;
  frameOfReferenceUid: string;
  /** z of the first slice; later slices step down by sliceThickness */
  zStart: number;
  nodule: Nodule | null;
  /** seed of the CT pixel noise (pixels.ts ctNoise), so every series has its own */
  noiseSeed: number;
}

export interface InstancePlan {
  patient: PatientPlan;
  study: StudyPlan;
  series: SeriesPlan;
  /** 0-based slice index; InstanceNumber is index + 1 */
  index: number;
  sopInstanceUid: string;
  transferSyntax: TransferSyntax;
}

/** What the reader must extract from a valid instance (ExpectedInstance without its source path). */
export type InstanceFacts = Omit<InstanceFields, 'fileSize' | 'imagePositionPatient' | 'imageOrientationPatient' | 'modality' | 'rows' | 'columns' | 'transferSyntaxUid'> & {
  modality: string;
  rows: number;
  columns: number;
  transferSyntaxUid: string;
};

export function patientPlan(seed: number, p: number): PatientPlan {
  const id = `LIDC-IDRI-${String(p + 1).padStart(4, '0')}`;
  return { id, name: pick(seed, `${id}/name`, NAMES), sex: pick(seed, `${id}/sex`, ['M', 'F'] as const), folder: id };
}

/** The patient of the instance written with an empty PatientID (and no name). */
export function anonymousPatient(): PatientPlan {
  return { id: null, name: null, sex: 'O', folder: 'unknown' };
}

export function studyPlan(seed: number, label: string, description: string): StudyPlan {
  const days = intIn(seed, `${label}/date`, 0, 3650);
  const d = new Date(Date.UTC(2000, 0, 1) + days * 86400000);
  const yyyy = String(d.getUTCFullYear());
  const mm = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  const suffix = String(intIn(seed, `${label}/folder`, 0, 99999)).padStart(5, '0');
  return {
    uid: uid(seed, `${label}/study`),
    date: `${yyyy}${mm}${dd}`,
    time: `${String(intIn(seed, `${label}/hour`, 7, 18)).padStart(2, '0')}${String(intIn(seed, `${label}/min`, 0, 59)).padStart(2, '0')}00`,
    description,
    studyId: String(intIn(seed, `${label}/studyId`, 1000, 99999)),
    accession: String(intIn(seed, `${label}/accession`, 1000000, 9999999)),
    // TCIA's study folder: MM-DD-YYYY-NA-<description>-<5 digits>
    folder: `${mm}-${dd}-${yyyy}-NA-${description}-${suffix}`,
  };
}

function seriesFolder(seed: number, label: string, number: number): string {
  // TCIA's series folder: <series number>.000000-NA-<5 digits>
  return `${number}.000000-NA-${String(intIn(seed, `${label}/series-folder`, 0, 99999)).padStart(5, '0')}`;
}

export function ctSeriesPlan(seed: number, label: string, o: { size: number; slices: number; transferSyntax: TransferSyntax }): SeriesPlan {
  const scanner = pick(seed, `${label}/scanner`, SCANNERS);
  const thickness = pick(seed, `${label}/thickness`, THICKNESSES);
  const number = intIn(seed, `${label}/number`, 1000, 3999999);
  const size = o.size;
  return {
    uid: uid(seed, `${label}/series`),
    number,
    modality: 'CT',
    description: 'CT CHEST',
    folder: seriesFolder(seed, label, number),
    transferSyntax: o.transferSyntax,
    rows: size,
    columns: size,
    sliceThickness: thickness,
    pixelSpacing: pick(seed, `${label}/spacing`, PIXEL_SPACINGS),
    hasAcquisitionDate: true,
    manufacturer: scanner.manufacturer,
    model: scanner.model,
    kernel: pick(seed, `${label}/kernel`, scanner.kernels),
    kvp: pick(seed, `${label}/kvp`, [100, 120, 120, 140]),
    frameOfReferenceUid: uid(seed, `${label}/for`),
    zStart: Math.round((unit(seed, `${label}/z`) * 200 - 100) * 8) / 8,
    nodule: {
      x: Math.round(size * (0.3 + unit(seed, `${label}/nx`) * 0.08)),
      y: Math.round(size * (0.45 + unit(seed, `${label}/ny`) * 0.1)),
      radius: Math.max(2, Math.round(size * (0.015 + unit(seed, `${label}/nr`) * 0.02))),
      slice: Math.floor(o.slices / 2),
      halfExtent: Math.max(1, Math.floor(o.slices / 4)),
    },
    noiseSeed: intIn(seed, `${label}/noise`, 0, 0x7fffffff),
  };
}

/** A one-image chest radiograph series: CR (no PixelSpacing, no AcquisitionDate) or DX. */
export function radiographSeriesPlan(seed: number, label: string, o: { size: number; transferSyntax: TransferSyntax }): SeriesPlan {
  const modality = pick(seed, `${label}/modality`, ['CR', 'DX'] as const);
  const scanner = pick(seed, `${label}/scanner`, SCANNERS);
  const number = intIn(seed, `${label}/number`, 1, 9);
  return {
    uid: uid(seed, `${label}/series`),
    number,
    modality,
    description: modality === 'CR' ? 'CHEST PA' : 'CHEST PA DX',
    folder: seriesFolder(seed, label, number),
    transferSyntax: o.transferSyntax,
    rows: o.size,
    columns: Math.max(8, Math.round((o.size * 0.75) / 2) * 2), // portrait, so rows and columns differ
    sliceThickness: null,
    pixelSpacing: modality === 'DX' ? 0.143 : null,
    hasAcquisitionDate: modality === 'DX',
    manufacturer: scanner.manufacturer,
    model: modality === 'CR' ? 'CR 85-X' : 'Definium 8000',
    kernel: null,
    kvp: pick(seed, `${label}/kvp`, [110, 120, 125]),
    frameOfReferenceUid: uid(seed, `${label}/for`),
    zStart: 0,
    nodule: null,
    noiseSeed: 0,
  };
}

export function instanceFacts(i: InstancePlan): InstanceFacts {
  const s = i.series;
  return {
    sopInstanceUid: i.sopInstanceUid,
    patientId: i.patient.id,
    studyInstanceUid: i.study.uid,
    seriesInstanceUid: s.uid,
    sliceThickness: s.sliceThickness,
    pixelSpacingRow: s.pixelSpacing,
    pixelSpacingCol: s.pixelSpacing,
    studyDate: isoDate(i.study.date),
    acquisitionDate: s.hasAcquisitionDate ? isoDate(i.study.date) : null,
    instanceNumber: i.index + 1,
    modality: s.modality,
    rows: s.rows,
    columns: s.columns,
    transferSyntaxUid: TRANSFER_SYNTAX_UID[i.transferSyntax],
  };
}

function isoDate(da: string): string {
  return `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}`;
}

/** z of a slice: slices step down along the patient axis by the slice thickness. */
export function sliceZ(s: SeriesPlan, index: number): number {
  return Number((s.zStart - index * (s.sliceThickness ?? 0)).toFixed(4));
}

/** The full data set of an instance, Pixel Data included. */
export function instanceElements(i: InstancePlan): El[] {
  const { patient, study, series: s } = i;
  const els: El[] = [
    { tag: '00080005', vr: 'CS', value: 'ISO_IR 100' },
    { tag: '00080008', vr: 'CS', value: s.modality === 'CT' ? ['ORIGINAL', 'PRIMARY', 'AXIAL'] : ['ORIGINAL', 'PRIMARY'] },
    { tag: '00080016', vr: 'UI', value: SOP_CLASS[s.modality] },
    { tag: '00080018', vr: 'UI', value: i.sopInstanceUid },
    { tag: '00080020', vr: 'DA', value: study.date },
    { tag: '00080021', vr: 'DA', value: study.date },
    { tag: '00080023', vr: 'DA', value: study.date },
    { tag: '00080030', vr: 'TM', value: study.time },
    { tag: '00080050', vr: 'SH', value: study.accession },
    { tag: '00080060', vr: 'CS', value: s.modality },
    { tag: '00080070', vr: 'LO', value: s.manufacturer },
    { tag: '00081030', vr: 'LO', value: study.description },
    { tag: '0008103E', vr: 'LO', value: s.description },
    { tag: '00081090', vr: 'LO', value: s.model },
    { tag: '00100010', vr: 'PN', value: patient.name ?? '' },
    { tag: '00100020', vr: 'LO', value: patient.id ?? '' },
    { tag: '00100030', vr: 'DA', value: '' },
    { tag: '00100040', vr: 'CS', value: patient.sex },
    { tag: '00180060', vr: 'DS', value: s.kvp },
    { tag: '0020000D', vr: 'UI', value: study.uid },
    { tag: '0020000E', vr: 'UI', value: s.uid },
    { tag: '00200010', vr: 'SH', value: study.studyId },
    { tag: '00200011', vr: 'IS', value: s.number },
    { tag: '00200012', vr: 'IS', value: 1 },
    { tag: '00200013', vr: 'IS', value: i.index + 1 },
    { tag: '00200052', vr: 'UI', value: s.frameOfReferenceUid },
    { tag: '00280002', vr: 'US', value: 1 },
    { tag: '00280004', vr: 'CS', value: 'MONOCHROME2' },
    { tag: '00280010', vr: 'US', value: s.rows },
    { tag: '00280011', vr: 'US', value: s.columns },
    { tag: '00280100', vr: 'US', value: 16 },
  ];
  if (s.hasAcquisitionDate) els.push({ tag: '00080022', vr: 'DA', value: study.date });
  if (s.pixelSpacing !== null) els.push({ tag: '00280030', vr: 'DS', value: [s.pixelSpacing, s.pixelSpacing] });
  if (s.modality === 'CT') {
    const z = sliceZ(s, i.index);
    const x0 = -Number(((s.columns * (s.pixelSpacing ?? 1)) / 2).toFixed(4));
    const y0 = -Number(((s.rows * (s.pixelSpacing ?? 1)) / 2).toFixed(4));
    els.push(
      { tag: '00180050', vr: 'DS', value: s.sliceThickness! },
      { tag: '00181210', vr: 'SH', value: s.kernel ?? '' },
      { tag: '00185100', vr: 'CS', value: 'FFS' },
      { tag: '00200032', vr: 'DS', value: [x0, y0, z] },
      { tag: '00200037', vr: 'DS', value: [1, 0, 0, 0, 1, 0] },
      { tag: '00201041', vr: 'DS', value: z },
      { tag: '00280101', vr: 'US', value: 16 },
      { tag: '00280102', vr: 'US', value: 15 },
      { tag: '00280103', vr: 'US', value: 1 },
      { tag: '00281050', vr: 'DS', value: -600 },
      { tag: '00281051', vr: 'DS', value: 1600 },
      { tag: '00281052', vr: 'DS', value: -1024 },
      { tag: '00281053', vr: 'DS', value: 1 },
      { tag: '00281054', vr: 'LO', value: 'HU' },
      { tag: '7FE00010', vr: 'OW', value: ctSlice(s.rows, i.index, s.nodule, s.noiseSeed) },
    );
  } else {
    els.push(
      { tag: '00181164', vr: 'DS', value: [0.143, 0.143] },
      { tag: '00185101', vr: 'CS', value: 'PA' },
      { tag: '00200020', vr: 'CS', value: ['L', 'F'] },
      { tag: '00280101', vr: 'US', value: 12 },
      { tag: '00280102', vr: 'US', value: 11 },
      { tag: '00280103', vr: 'US', value: 0 },
      { tag: '7FE00010', vr: 'OW', value: radiograph(s.rows, s.columns) },
    );
  }
  return els;
}
