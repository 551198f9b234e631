/** Readable rendering of a header in the DICOM JSON model, for `dicomflow show`. */
import { keywordOf } from './dictionary';
import type { DicomJson, DicomJsonElement } from './types';

const MAX_VALUE_CHARS = 200;

/** One element's value as text: multiple values joined by backslashes, person names with their groups, long ones cut. */
export function valueText(el: DicomJsonElement): string {
  if (el.BulkDataURI) return `<bulk data ${el.BulkDataURI}>`;
  if (el.InlineBinary !== undefined) return `<${Buffer.from(el.InlineBinary, 'base64').length} bytes: ${el.InlineBinary}>`;
  if (!el.Value || el.Value.length === 0) return '(empty)';
  const text = el.Value.map((v) => {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return ['Alphabetic', 'Ideographic', 'Phonetic'].map((k) => (v as Record<string, string>)[k] ?? '').join('=').replace(/=+$/, '');
    return String(v);
  }).join('\\');
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS)}…` : text;
}

/** One line per element, `Keyword (GGGG,EEEE) VR value`; sequence items indented under their sequence. */
export function formatHeader(meta: DicomJson, indent = ''): string {
  const lines: string[] = [];
  for (const tag of Object.keys(meta).sort()) {
    const el = meta[tag];
    const name = keywordOf(tag) ?? 'Unknown';
    const head = `${indent}${name} (${tag.slice(0, 4)},${tag.slice(4)}) ${el.vr}`;
    if (el.vr === 'SQ') {
      const items = (el.Value ?? []) as DicomJson[];
      lines.push(`${head} (${items.length} item${items.length === 1 ? '' : 's'})`);
      items.forEach((item, i) => {
        lines.push(`${indent}  > Item ${i + 1}`);
        const inner = formatHeader(item, `${indent}    `);
        if (inner) lines.push(inner);
      });
    } else {
      lines.push(`${head} ${valueText(el)}`);
    }
  }
  return lines.join('\n');
}
