/**
 * Cross-check against an independent reader: dcmtk's dcmdump (Debian package `dcmtk`).
 * For varied fixture files every element dcmdump prints (sequences recursed, text converted to
 * UTF-8 with +U8) must match our DICOM JSON, and the two must hold the same tags.
 * dcmtk 3.6.7 cannot convert some ISO 2022 sets (e.g. IR 87) to UTF-8 with the system iconv: for
 * those files text with non-ASCII characters is left out of the comparison (charset.test.ts checks
 * them against the PS3.5 examples) and everything else is still compared.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDicomFile } from '../../src/dicom/read';
import type { DicomJson } from '../../src/dicom/types';
import { writeDicom, type El as WriterEl, type TransferSyntax } from '../../src/dicom/writer';
import { crossCheckFiles } from './fixtures';
import { DCMDUMP, requireTool } from '../helpers/tools';

/** Files from the project's own writer too (another encoder than test/dicom/bytes.ts). */
function writerFiles(): { name: string; bytes: Buffer }[] {
  const els = (n: number): WriterEl[] => [
    { tag: '00080005', vr: 'CS', value: 'ISO_IR 100' },
    { tag: '00080016', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
    { tag: '00080018', vr: 'UI', value: `1.2.826.0.1.3680043.9.7777.8.${n}` },
    { tag: '00080020', vr: 'DA', value: '19991231' },
    { tag: '00080060', vr: 'CS', value: 'CT' },
    { tag: '00080070', vr: 'LO', value: 'ACME Médical' },
    { tag: '00081140', vr: 'SQ', value: [[{ tag: '00081150', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' }, { tag: '00081155', vr: 'UI', value: '1.2.3' }], []] },
    { tag: '00100010', vr: 'PN', value: 'Müller^Jürgen' },
    { tag: '00100020', vr: 'LO', value: 'P-1' },
    { tag: '00180050', vr: 'DS', value: 0.625 },
    { tag: '0020000D', vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.8.100' },
    { tag: '0020000E', vr: 'UI', value: '1.2.826.0.1.3680043.9.7777.8.200' },
    { tag: '00200013', vr: 'IS', value: n },
    { tag: '00200032', vr: 'DS', value: [-200, -180.5, n * 1.25] },
    { tag: '00280010', vr: 'US', value: 2 },
    { tag: '00280011', vr: 'US', value: 2 },
    { tag: '00281052', vr: 'DS', value: -1024 },
    { tag: '7FE00010', vr: 'OW', value: [1, 2, 3, 4] },
  ];
  const syntaxes: TransferSyntax[] = ['implicit-le', 'explicit-le', 'explicit-be', 'deflated-le'];
  return syntaxes.flatMap((ts, i) => [false, true].map((undef) => ({
    name: `writer-${ts}${undef ? '-undef' : ''}.dcm`,
    bytes: writeDicom(els(i * 2 + (undef ? 1 : 0)), { transferSyntax: ts, undefinedLengthSequences: undef }),
  })));
}

interface DumpElement { vr: string; raw: string; items?: DumpSet[] }
type DumpSet = Record<string, DumpElement>;

const LINE = /^( *)\(([0-9a-f]{4}),([0-9a-f]{4})\) (\w\w) ([^]*?) *# *(u\/l|\d+), *\d+ [^\n]*$/;

/** dcmdump's indented listing → nested data sets (items of pixel sequences and delimiters dropped). */
export function parseDump(text: string): DumpSet {
  const top: DumpSet = {};
  const sets: DumpSet[] = [top]; // sets[d] = data set whose elements are at indent 2*d... (items add a level)
  const seqs: (DumpElement | undefined)[] = [];
  // A value with CR/LF (LT, ST, UT) continues on the next lines: join them back.
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    const incomplete = lines.length > 0 && /^ *\([0-9a-f]{4},[0-9a-f]{4}\) /.test(lines[lines.length - 1]) && !LINE.test(lines[lines.length - 1]);
    if (!incomplete) lines.push(line);
    else lines[lines.length - 1] += `\n${line}`;
  }
  for (const line of lines) {
    const m = LINE.exec(line);
    if (!m) continue;
    const level = m[1].length / 2;
    const tag = (m[2] + m[3]).toUpperCase();
    if (tag === 'FFFEE00D' || tag === 'FFFEE0DD') continue;
    if (tag === 'FFFEE000') {
      const seq = seqs[(level - 1) / 2];
      if (m[4] !== 'na' || !seq) continue; // pixel fragment ('pi')
      const item: DumpSet = {};
      seq.items!.push(item);
      sets[(level + 1) / 2] = item;
      continue;
    }
    const depth = level / 2;
    // dcmtk's pseudo VR 'xs' (US or SS, here without Pixel Representation) is read as US, like ours.
    const el: DumpElement = { vr: m[4] === 'xs' ? 'US' : m[4], raw: m[5] };
    if (m[4] === 'SQ') { el.items = []; seqs[depth] = el; }
    sets[depth][tag] = el;
  }
  return top;
}

const BINARY = new Set(['OB', 'OW', 'OF', 'OD', 'OL', 'OV', 'UN', 'ox', 'px', 'lt']);
const NUMERIC = new Set(['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'SV', 'UV']);
const TEXT = new Set(['SH', 'LO', 'ST', 'LT', 'UT', 'UC', 'PN']);
const SINGLE_VALUED = new Set(['LT', 'ST', 'UT', 'UR']);

function ourText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') {
    const pn = v as Record<string, string>;
    return [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
  }
  return String(v);
}

function compare(dump: DumpSet, ours: DicomJson, path: string, skipNonAsciiText: boolean, mismatches: string[]): number {
  let compared = 0;
  const ourTags = Object.keys(ours).sort();
  const dumpTags = Object.keys(dump).sort();
  if (ourTags.join() !== dumpTags.join()) mismatches.push(`${path}: tags differ: ours ${ourTags.join(' ')} / dcmdump ${dumpTags.join(' ')}`);
  for (const tag of dumpTags) {
    const d = dump[tag];
    const o = ours[tag];
    const where = `${path}${tag}`;
    if (!o) continue;
    // +U8 rewrites Specific Character Set to ISO_IR 192 in its output
    if (tag === '00080005' && !skipNonAsciiText) continue;
    compared++;
    if (d.items) {
      const items = (o.Value ?? []) as DicomJson[];
      if (o.vr !== 'SQ' || items.length !== d.items.length) { mismatches.push(`${where}: ${d.items.length} items in dcmdump, ours ${o.vr} with ${items.length}`); continue; }
      d.items.forEach((item, i) => { compared += compare(item, items[i], `${where}[${i}].`, skipNonAsciiText, mismatches); });
      continue;
    }
    if (BINARY.has(d.vr) || tag === '7FE00010') continue;
    if (d.raw === '(no value available)') {
      if (o.Value !== undefined) mismatches.push(`${where}: dcmdump has no value, ours ${JSON.stringify(o.Value)}`);
      continue;
    }
    if (o.vr !== d.vr) mismatches.push(`${where}: VR ${o.vr} vs dcmdump ${d.vr}`);
    const values = o.Value ?? [];
    if (NUMERIC.has(d.vr) || d.vr === 'DS' || d.vr === 'IS') {
      const theirs = d.raw.replace(/^\[|\]$/g, '').split('\\').map((s) => Number(s.trim()));
      const ok = theirs.length === values.length && theirs.every((t, i) => typeof values[i] === 'number' && Math.abs(t - (values[i] as number)) <= 1e-6 * Math.max(1, Math.abs(t)));
      if (!ok) mismatches.push(`${where}: ${d.vr} ${d.raw} vs ours ${JSON.stringify(values)}`);
      continue;
    }
    if (d.vr === 'AT') {
      const theirs = d.raw.split('\\').map((s) => s.replace(/[(),]/g, '').toUpperCase());
      if (theirs.join() !== values.join()) mismatches.push(`${where}: AT ${d.raw} vs ours ${JSON.stringify(values)}`);
      continue;
    }
    const m = /^\[([^]*)\]$/.exec(d.raw);
    if (!m) { mismatches.push(`${where}: unexpected dcmdump value ${d.raw}`); continue; }
    const mine = values.map(ourText).join('\\');
    if (skipNonAsciiText && TEXT.has(d.vr) && /[^\x00-\x7f]/.test(mine)) continue;
    // dcmdump shows padding (space or NUL, also the one it adds to odd lengths); single-valued VRs keep backslashes.
    const unpad = (s: string) => s.replace(/^[ \0]+|[ \0]+$/g, '');
    const theirs = SINGLE_VALUED.has(d.vr) ? m[1].replace(/[ \0]+$/, '') : m[1].split('\\').map(unpad).join('\\').replace(/=+$/, '');
    if (theirs !== mine) mismatches.push(`${where}: ${d.vr} [${theirs}] vs ours [${mine}]`);
  }
  return compared;
}

const dcmdump = requireTool(DCMDUMP);

dcmdump.test('dcmdump agrees with our headers on varied files', async () => {
  const bin = dcmdump.path();
  const dir = mkdtempSync(join(tmpdir(), 'dicom-dcmdump-'));
  const files = [...crossCheckFiles(), ...writerFiles()];
  const mismatches: string[] = [];
  let compared = 0;
  let converted = 0;
  for (const f of files) {
    const path = join(dir, f.name);
    writeFileSync(path, f.bytes);
    const r = await readDicomFile(path, { withMeta: true });
    expect([f.name, r.code]).toEqual([f.name, 'OK']);
    let text: string;
    let utf8 = true;
    const withU8 = spawnSync(bin, ['-q', '-Un', '+L', '+U8', path], { encoding: 'utf8' });
    if (withU8.status === 0 && !/^F:/m.test(withU8.stdout + withU8.stderr)) {
      text = withU8.stdout;
      converted++;
    } else {
      utf8 = false;
      text = execFileSync(bin, ['-q', '-Un', '+L', path], { encoding: 'latin1' });
    }
    const n = compare(parseDump(text), r.meta!, `${f.name}: `, !utf8, mismatches);
    expect([f.name, n > 15]).toEqual([f.name, true]);
    compared += n;
  }
  expect(mismatches).toEqual([]);
  expect(converted).toBeGreaterThanOrEqual(files.length - 4); // all but the ISO 2022 IR 87 / IR 13 / IR 159 / IR 100 files
  expect(compared).toBeGreaterThan(500);
});
