/**
 * The export's secret key and what derives from it: new UIDs (2.25.<128-bit integer> from HMAC-SHA256(key, uid), so
 * the same UID under the same key always maps to the same new UID, across instances, series and exports), a
 * per-patient date shift and pseudonymous patient folder names. The key is never a payload: activities get the path
 * of the key file and read it themselves.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';

export const KEY_BYTES = 32;

/** Reads a key file: 32+ random bytes as base64 or hex text, or raw bytes. */
export function readKey(file: string): Buffer {
  const raw = fs.readFileSync(file);
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64,}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/=\s]+$/.test(text)) {
    const b = Buffer.from(text, 'base64');
    if (b.length >= 16) return b;
  }
  if (raw.length < 16) throw new Error(`the key file ${file} holds fewer than 16 bytes: use 32 random bytes (openssl rand -base64 32 > ${path.basename(file)})`);
  return raw;
}

/** Creates a key file (mode 0600, exclusive, so two exports never make two keys) unless it exists. */
export function ensureKeyFile(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    fs.writeFileSync(file, crypto.randomBytes(KEY_BYTES).toString('base64') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/** A short public fingerprint of a key (tells keys apart in ids and logs, reveals nothing of it). */
export function keyFingerprint(key: Buffer): string {
  return crypto.createHmac('sha256', key).update('dicomflow-export-key-fingerprint').digest('hex').slice(0, 16);
}

export class Pseudonymizer {
  private uids = new Map<string, string>();
  constructor(private readonly key: Buffer) {}

  private mac(purpose: string, value: string): Buffer {
    return crypto.createHmac('sha256', this.key).update(purpose).update('\0').update(value).digest();
  }

  /** The new UID of `uid`: 2.25. and a 128-bit integer shaped as a UUID (version 8, RFC 9562 variant). */
  uid(uid: string): string {
    const known = this.uids.get(uid);
    if (known) return known;
    const b = Buffer.from(this.mac('uid', uid).subarray(0, 16));
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    const out = `2.25.${BigInt('0x' + b.toString('hex')).toString(10)}`;
    this.uids.set(uid, out);
    return out;
  }

  /** Days every date of this patient moves back: 365..3652, the same for every export with this key. */
  dateShiftDays(patientId: string): number {
    return 365 + (this.mac('date-shift', patientId).readUInt32BE(0) % 3288);
  }

  /** The patient's folder name in the export: P- and 12 hex digits of HMAC(key, PatientID). */
  patientAlias(patientId: string): string {
    return `P-${this.mac('patient', patientId).toString('hex').slice(0, 12)}`;
  }
}
