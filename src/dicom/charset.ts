/**
 * Decoding of text values per Specific Character Set (0008,0005), on top of `dicom-character-set`
 * (which handles ISO 2022 escapes and maps DICOM terms to WHATWG encodings for Node's TextDecoder).
 *
 * Documented fallback: an unknown or broken character set decodes as ISO_IR 100 (Latin-1) and
 * adds a warning. Without (0008,0005) the repertoire is ASCII; non-ASCII bytes there are read as
 * UTF-8 when they are valid UTF-8, else as Latin-1, with a warning.
 */
// The package ships no types; its CommonJS build is loaded with require.
const { convertBytes, characterSets } = require('dicom-character-set') as {
  convertBytes(charset: string, bytes: Uint8Array, opts?: { vr?: string }): string;
  characterSets: Record<string, unknown>;
};

export const FALLBACK_CHARSET = 'ISO_IR 100';
/** True ISO 8859-1 (TextDecoder('latin1') would be windows-1252). */
const latin1 = { decode: (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1') };
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Normalises spellings seen in the wild ('ISO-IR 100', 'ISO_IR100', 'iso_ir 192') to DICOM terms. */
export function normaliseCharsetTerm(term: string): string {
  const t = term.trim().toUpperCase();
  const m = /^ISO[-_ ]?IR[-_ ]?(\d+)$/.exec(t);
  if (m) return `ISO_IR ${m[1]}`;
  const m2 = /^ISO[-_ ]?2022[-_ ]?IR[-_ ]?(\d+)$/.exec(t);
  if (m2) return `ISO 2022 IR ${m2[1]}`;
  return t;
}

/** The charset value as dicom-character-set expects it, or an error text when a term is unknown. */
export function parseCharset(raw: string | undefined): { charset: string; error?: string } {
  if (raw === undefined) return { charset: '' };
  const terms = raw.split('\\').map(normaliseCharsetTerm);
  const unknown = terms.filter((t) => t !== '' && !(t in characterSets));
  if (unknown.length > 0) {
    return { charset: FALLBACK_CHARSET, error: `unknown Specific Character Set term(s) ${unknown.map((u) => `'${u}'`).join(', ')}: text decoded as ${FALLBACK_CHARSET} (Latin-1)` };
  }
  return { charset: terms.join('\\') };
}

function isPlainAscii(bytes: Uint8Array, start = 0, end = bytes.length): boolean {
  for (let i = start; i < end; i++) if (bytes[i] >= 0x80 || bytes[i] === 0x1b) return false;
  return true;
}

/** Decodes a text value; pushes a warning (and falls back to Latin-1) when the bytes do not decode. */
export function decodeText(bytes: Uint8Array, charset: string, vr: string, warn: (w: string) => void): string {
  if (isPlainAscii(bytes)) return latin1.decode(bytes);
  if (charset === '') {
    try {
      const s = utf8Strict.decode(bytes);
      warn('non-ASCII text without Specific Character Set: decoded as UTF-8');
      return s;
    } catch {
      warn(`non-ASCII text without Specific Character Set: decoded as ${FALLBACK_CHARSET} (Latin-1)`);
      return latin1.decode(bytes);
    }
  }
  try {
    return convertBytes(charset, bytes, { vr });
  } catch (e) {
    warn(`text not decodable as '${charset}' (${e instanceof Error ? e.message : String(e)}): decoded as ${FALLBACK_CHARSET} (Latin-1)`);
    return latin1.decode(bytes);
  }
}

/** Latin-1 decoding for the non-text VRs (UI, CS, DA, DS ...), whose repertoire is ASCII. */
export function decodeAscii(bytes: Uint8Array): string {
  return latin1.decode(bytes);
}

/**
 * decodeAscii of buf[start, end) (clamped to the buffer), without a Buffer object per value: short values (dates,
 * codes, small numbers) are built in JS, which is cheaper than a call into Node for a few bytes.
 */
export function latin1At(buf: Buffer, start: number, end: number): string {
  if (end > buf.length) end = buf.length;
  if (end - start <= 8) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]);
    return s;
  }
  return buf.toString('latin1', start, end);
}

/** decodeText of buf[start, end): plain ASCII (the common case) is read in place. */
export function decodeTextAt(buf: Buffer, start: number, end: number, charset: string, vr: string, warn: (w: string) => void): string {
  if (isPlainAscii(buf, start, end)) return latin1At(buf, start, end);
  return decodeText(buf.subarray(start, end), charset, vr, warn);
}
