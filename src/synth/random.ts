/**
 * Deterministic choices for the synthetic dataset. Every value is a hash of (seed, label), not a draw
 * from a stream, so one patient's values do not depend on how many patients came before it.
 */
import { createHash } from 'crypto';

/** The LIDC-IDRI UID root, as in the real collection. */
export const UID_ROOT = '1.3.6.1.4.1.14519.5.2.1.6279.6001';

function digest(seed: number, label: string): Buffer {
  return createHash('sha256').update(`${seed}:${label}`).digest();
}

/** A number in [0, 1). */
export function unit(seed: number, label: string): number {
  return digest(seed, label).readUInt32BE(0) / 0x100000000;
}

/** An integer in [min, max]. */
export function intIn(seed: number, label: string, min: number, max: number): number {
  return min + Math.floor(unit(seed, label) * (max - min + 1));
}

export function pick<T>(seed: number, label: string, choices: readonly T[]): T {
  return choices[Math.floor(unit(seed, label) * choices.length)];
}

/** A UID under UID_ROOT, at most 64 characters, no leading zero in the last component. */
export function uid(seed: number, label: string): string {
  const digits = BigInt('0x' + digest(seed, `uid:${label}`).toString('hex')).toString();
  return `${UID_ROOT}.${digits.slice(0, 64 - UID_ROOT.length - 1)}`;
}

/** n pseudo-random bytes. */
export function randomBytes(seed: number, label: string, n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < n; i++) parts.push(digest(seed, `${label}#${i}`));
  return Buffer.concat(parts).subarray(0, n);
}
