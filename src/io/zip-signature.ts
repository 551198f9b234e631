/** Zip archives are recognised by their first bytes, never by their name. */

/** PK\x03\x04: a local file header, the first bytes of any non-empty zip. */
export function startsWithLocalHeader(firstBytes: Buffer): boolean {
  return firstBytes.length >= 4 && firstBytes.readUInt32LE(0) === 0x04034b50;
}

/** PK\x03\x04, or PK\x05\x06 (the end record an empty zip starts with). */
export function looksLikeZip(firstBytes: Buffer): boolean {
  return startsWithLocalHeader(firstBytes) || (firstBytes.length >= 4 && firstBytes.readUInt32LE(0) === 0x06054b50);
}
