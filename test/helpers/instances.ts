/** Small real DICOM files for activity tests, written with the project's own writer. */
import * as fs from 'fs';
import * as path from 'path';
import { writeDicom, type El, type TransferSyntax } from '../../src/dicom/writer';

export interface InstanceSpec {
  patientId?: string;
  study?: string;
  series?: string;
  sop: string;
  instanceNumber?: number;
  z?: number;
  thickness?: number;
  pixelValue?: number;
  transferSyntax?: TransferSyntax;
}

export function instanceBytes(spec: InstanceSpec): Buffer {
  const size = 8;
  const pixels = new Uint8Array(size * size * 2).fill(spec.pixelValue ?? 1);
  const dataset: El[] = [
    { tag: '00080016', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
    { tag: '00080018', vr: 'UI', value: spec.sop },
    { tag: '00080020', vr: 'DA', value: '20000101' },
    { tag: '00080060', vr: 'CS', value: 'CT' },
    { tag: '00100020', vr: 'LO', value: spec.patientId ?? 'PAT-1' },
    { tag: '00180050', vr: 'DS', value: spec.thickness ?? 2.5 },
    { tag: '0020000D', vr: 'UI', value: spec.study ?? '1.2.3' },
    { tag: '0020000E', vr: 'UI', value: spec.series ?? '1.2.3.4' },
    { tag: '00200013', vr: 'IS', value: spec.instanceNumber ?? 1 },
    { tag: '00200032', vr: 'DS', value: [0, 0, spec.z ?? 0] },
    { tag: '00200037', vr: 'DS', value: [1, 0, 0, 0, 1, 0] },
    { tag: '00280010', vr: 'US', value: size },
    { tag: '00280011', vr: 'US', value: size },
    { tag: '00280030', vr: 'DS', value: [0.7, 0.7] },
    { tag: '00280100', vr: 'US', value: 16 },
    { tag: '7FE00010', vr: 'OW', value: pixels },
  ];
  return writeDicom(dataset, { transferSyntax: spec.transferSyntax ?? 'explicit-le' });
}

export function writeInstance(file: string, spec: InstanceSpec): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, instanceBytes(spec));
  return file;
}
