/** Paths of the organized tree: organized/<PatientID>/<StudyInstanceUID>/<SeriesInstanceUID>/<SOPInstanceUID>.dcm */
import { createHash } from 'crypto';
import type { InstanceFields } from '../records';

/** Folder for instances without a PatientID: named so nobody mistakes it for a patient. */
export const MISSING_PATIENT_FOLDER = '_MISSING_PATIENT_ID_';

const MAX_PART = 64;

/**
 * Makes one value safe as a single path component on every file system: only [A-Za-z0-9._-] survive
 * (others become '_'), no leading dots (no '.', '..' or hidden names), and long values are cut with a
 * short hash so two long values that share a prefix stay apart.
 */
export function sanitizePathPart(value: string): string {
  let part = value.trim().replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, (dots) => '_'.repeat(dots.length));
  if (part === '') part = '_';
  if (part.length > MAX_PART) {
    const hash = createHash('sha256').update(value).digest('hex').slice(0, 8);
    part = `${part.slice(0, MAX_PART - 9)}~${hash}`;
  }
  return part;
}

/** Path relative to DIR, '/'-separated. */
export function organizedPath(fields: Pick<InstanceFields, 'patientId' | 'studyInstanceUid' | 'seriesInstanceUid' | 'sopInstanceUid'>): string {
  const patient = fields.patientId && fields.patientId.trim() !== '' ? sanitizePathPart(fields.patientId) : MISSING_PATIENT_FOLDER;
  return [
    'organized',
    patient,
    sanitizePathPart(fields.studyInstanceUid),
    sanitizePathPart(fields.seriesInstanceUid),
    `${sanitizePathPart(fields.sopInstanceUid)}.dcm`,
  ].join('/');
}
