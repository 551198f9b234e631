/**
 * The synthetic dataset against its own manifest, checked with independent readers: yauzl for the zip
 * (names undecoded, sizes validated), dicom-parser and dcmtk's dcmdump for the DICOM files.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { spawnSync } from 'child_process';
import * as dicomParser from 'dicom-parser';
import { synthesize, writeSynthFolder, readCentralDirectory, type SynthManifest, type ExpectedInstance } from '../../src/synth';
import { UID_ROOT } from '../../src/synth/random';
import { CODES } from '../../src/dicom/codes';
import { readZipFlat, type ZipItem } from './read-zip';
import { DCMDUMP, requireTool } from '../helpers/tools';

const OPTS = { patients: 3, slices: 5, size: 64, broken: true, seed: 11 };
const CT_FILE = /^LIDC-IDRI\/LIDC-IDRI-\d{4}\/\d\d-\d\d-\d{4}-NA-CT CHEST-\d{5}\/\d+\.000000-NA-\d{5}\/1-\d{3}\.dcm$/;
const XR_FILE = /^LIDC-IDRI\/LIDC-IDRI-\d{4}\/\d\d-\d\d-\d{4}-NA-XR CHEST-\d{5}\/\d+\.000000-NA-\d{5}\/1-001\.dcm$/;
const XML_FILE = /^LIDC-IDRI\/LIDC-IDRI-\d{4}\/\d\d-\d\d-\d{4}-NA-CT CHEST-\d{5}\/\d+\.000000-NA-\d{5}\/\d{3}\.xml$/;

let tmp: string;
let zipPath: string;
let manifest: SynthManifest;
let items: ZipItem[];
let byPath: Map<string, ZipItem>;

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-test-'));
  zipPath = path.join(tmp, 'broken.zip');
  manifest = await synthesize({ ...OPTS, out: zipPath });
  items = await readZipFlat(zipPath);
  byPath = new Map(items.map((i) => [i.name, i]));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function parse(buf: Buffer): dicomParser.DataSet {
  const inflater = (bytes: Uint8Array, position: number) =>
    new Uint8Array(Buffer.concat([Buffer.from(bytes.subarray(0, position)), zlib.inflateRawSync(bytes.subarray(position))]));
  try {
    return dicomParser.parseDicom(new Uint8Array(buf), { inflater } as dicomParser.ParseDicomOptions);
  } catch (e) {
    throw new Error(`dicom-parser: ${e instanceof Error ? e.message : JSON.stringify(e)}`);
  }
}

const iso = (da: string | undefined) => (da ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6, 8)}` : null);

/** The manifest's fields, read back from the bytes by dicom-parser. */
function factsOf(buf: Buffer): Omit<ExpectedInstance, 'sourcePath'> {
  const ds = parse(buf);
  return {
    sopInstanceUid: ds.string('x00080018')!,
    patientId: ds.string('x00100020') || null,
    studyInstanceUid: ds.string('x0020000d')!,
    seriesInstanceUid: ds.string('x0020000e')!,
    sliceThickness: ds.floatString('x00180050') ?? null,
    pixelSpacingRow: ds.floatString('x00280030', 0) ?? null,
    pixelSpacingCol: ds.floatString('x00280030', 1) ?? null,
    studyDate: iso(ds.string('x00080020')),
    acquisitionDate: iso(ds.string('x00080022')),
    instanceNumber: ds.intString('x00200013') ?? null,
    modality: ds.string('x00080060')!,
    rows: ds.uint16('x00280010')!,
    columns: ds.uint16('x00280011')!,
    transferSyntaxUid: ds.string('x00020010')!,
  };
}

function entry(p: string) {
  const e = manifest.entries.find((x) => x.path === p);
  if (!e) throw new Error(`no manifest entry ${p}`);
  return e;
}

const dcmdumpTool = requireTool(DCMDUMP);
function dcmdump(args: string[]) {
  return spawnSync(dcmdumpTool.path(), args, { encoding: 'latin1' });
}

test('the same options give a byte-identical zip; another seed gives other bytes and UIDs', async () => {
  const again = path.join(tmp, 'again.zip');
  const m2 = await synthesize({ ...OPTS, out: again });
  expect(fs.readFileSync(again).equals(fs.readFileSync(zipPath))).toBe(true);
  expect(m2).toEqual(manifest);
  const other = path.join(tmp, 'other.zip');
  const m3 = await synthesize({ ...OPTS, seed: 12, out: other });
  expect(fs.readFileSync(other).equals(fs.readFileSync(zipPath))).toBe(false);
  const uids = new Set(manifest.instances.map((i) => i.sopInstanceUid));
  expect(m3.instances.some((i) => uids.has(i.sopInstanceUid))).toBe(false);
});

test('the bytes do not depend on the time zone (zip timestamps are fixed local DOS times)', async () => {
  const saved = process.env.TZ;
  try {
    process.env.TZ = 'Pacific/Kiritimati'; // UTC+14
    const east = path.join(tmp, 'east.zip');
    await synthesize({ ...OPTS, out: east });
    process.env.TZ = 'America/Adak'; // UTC-10 or -9
    const west = path.join(tmp, 'west.zip');
    await synthesize({ ...OPTS, out: west });
    expect(fs.readFileSync(east).equals(fs.readFileSync(zipPath))).toBe(true);
    expect(fs.readFileSync(west).equals(fs.readFileSync(zipPath))).toBe(true);
  } finally {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  }
});

test('every zip entry (nested zip entries included) is in the manifest exactly once, in zip order', () => {
  expect(items.map((i) => i.name)).toEqual(manifest.entries.map((e) => e.path));
  expect(new Set(manifest.entries.map((e) => e.path)).size).toBe(manifest.entries.length);
  for (const e of manifest.entries) {
    expect(Object.keys(CODES)).toContain(e.code);
    expect(CODES[e.code as keyof typeof CODES].status).toBe(e.status);
  }
});

test('unsafe names are really in the zip bytes, in the local headers and in the central directory', () => {
  const bytes = fs.readFileSync(zipPath);
  const names = readCentralDirectory(bytes).map((e) => ({ name: e.name.toString('utf8'), offset: e.localHeaderOffset }));
  for (const unsafe of ['../evil.dcm', '/etc/evil.dcm']) {
    const e = names.find((n) => n.name === unsafe);
    expect(e).toBeDefined();
    const nameLength = bytes.readUInt16LE(e!.offset + 26);
    expect(bytes.readUInt32LE(e!.offset)).toBe(0x04034b50);
    expect(bytes.toString('utf8', e!.offset + 30, e!.offset + 30 + nameLength)).toBe(unsafe);
    expect(entry(unsafe)).toEqual({ path: unsafe, status: 'refused', code: 'REFUSED_UNSAFE_PATH' });
  }
  // No placeholder name is left behind.
  expect(bytes.includes(Buffer.from('__/evil.dcm'))).toBe(false);
  expect(bytes.includes(Buffer.from('_etc/evil.dcm'))).toBe(false);
  // Every local header names the same entry as its central directory record.
  for (const n of names) {
    const len = bytes.readUInt16LE(n.offset + 26);
    expect(bytes.toString('utf8', n.offset + 30, n.offset + 30 + len)).toBe(n.name);
  }
});

test('DICOM entries are stored, XML entries deflated', () => {
  for (const i of items) {
    if (i.name.endsWith('.xml')) expect(i.method).toBe(8);
    else expect(i.method).toBe(0);
  }
});

test('deflate: every entry deflated, the same entry bytes and manifest; CT slices compress like real CT', async () => {
  const deflated = path.join(tmp, 'deflated.zip');
  const m = await synthesize({ ...OPTS, deflate: true, out: deflated });
  expect(m).toEqual(manifest);
  const flat = await readZipFlat(deflated);
  const outer = flat.filter((i) => !i.name.startsWith('extra/nested.zip/'));
  expect(outer.every((i) => i.method === 8)).toBe(true);
  expect(flat.map((i) => i.name)).toEqual(items.map((i) => i.name));
  for (const i of flat) expect(i.data.equals(byPath.get(i.name)!.data)).toBe(true);
  // The same options again: the same bytes.
  const again = path.join(tmp, 'deflated-again.zip');
  await synthesize({ ...OPTS, deflate: true, out: again });
  expect(fs.readFileSync(again).equals(fs.readFileSync(deflated))).toBe(true);
  // CT pixels carry noise, so a slice does not deflate to almost nothing (real CT: 40-50 %).
  const ct = readCentralDirectory(fs.readFileSync(deflated)).filter((e) => CT_FILE.test(e.name.toString('utf8')));
  const ratio = ct.reduce((s, e) => s + e.compressedSize, 0) / ct.reduce((s, e) => s + e.uncompressedSize, 0);
  expect(ratio).toBeGreaterThan(0.3);
  expect(ratio).toBeLessThan(0.6);
});

test('TCIA layout: per patient one CT series with its XML read and one CR/DX image in another study', () => {
  for (let p = 1; p <= OPTS.patients; p++) {
    const id = `LIDC-IDRI-${String(p).padStart(4, '0')}`;
    const mine = manifest.entries.filter((e) => e.path.startsWith(`LIDC-IDRI/${id}/`));
    const ct = mine.filter((e) => CT_FILE.test(e.path));
    const xr = mine.filter((e) => XR_FILE.test(e.path));
    const xml = mine.filter((e) => XML_FILE.test(e.path));
    expect(ct.map((e) => path.posix.basename(e.path))).toEqual(['1-001.dcm', '1-002.dcm', '1-003.dcm', '1-004.dcm', '1-005.dcm']);
    expect(new Set(ct.map((e) => path.posix.dirname(e.path))).size).toBe(1);
    expect(xr).toHaveLength(1);
    expect(xml).toHaveLength(1);
    expect(mine).toHaveLength(OPTS.slices + 2);
    expect(path.posix.dirname(xml[0].path)).toBe(path.posix.dirname(ct[0].path));
    expect(xml[0]).toMatchObject({ status: 'invalid', code: 'NOT_DICOM' });
    // The XML is an LIDC read of this series, pointing at its slices.
    const text = byPath.get(xml[0].path)!.data.toString('utf8');
    const series = factsOf(byPath.get(ct[0].path)!.data).seriesInstanceUid;
    expect(text).toContain('<LidcReadMessage');
    expect(text).toContain(`<SeriesInstanceUid>${series}</SeriesInstanceUid>`);
    const referenced = [...text.matchAll(/<imageSOP_UID>([\d.]+)<\/imageSOP_UID>/g)].map((m) => m[1]);
    expect(referenced.length).toBeGreaterThan(0);
    const sliceUids = ct.map((e) => factsOf(byPath.get(e.path)!.data).sopInstanceUid);
    for (const r of referenced) expect(sliceUids).toContain(r);
    const studyOf = (e: { path: string }) => e.path.split('/')[2];
    expect(studyOf(xr[0])).not.toBe(studyOf(ct[0]));
  }
});

test('each valid entry holds exactly the instance the manifest says; duplicates and conflicts too', () => {
  const firstBytes = new Map<string, Buffer>();
  for (const e of manifest.entries) {
    if (!['valid', 'duplicate', 'conflict'].includes(e.status)) continue;
    const data = byPath.get(e.path)!.data;
    const facts = factsOf(data);
    if (e.status === 'valid') {
      const inst = manifest.instances.find((i) => i.sourcePath === e.path);
      expect(inst).toBeDefined();
      expect({ ...facts, sourcePath: e.path }).toEqual(inst);
      firstBytes.set(facts.sopInstanceUid, data);
    } else {
      const first = firstBytes.get(facts.sopInstanceUid);
      expect(first).toBeDefined(); // the first copy comes earlier in the zip
      expect(first!.equals(data)).toBe(e.status === 'duplicate');
    }
  }
  expect(manifest.instances).toHaveLength(firstBytes.size);
  expect(manifest.entries.filter((e) => e.status === 'valid')).toHaveLength(manifest.instances.length);
});

test('realistic tags on the CT slices: geometry, scanner, character set, UIDs', () => {
  const ctEntries = manifest.entries.filter((e) => CT_FILE.test(e.path));
  const bySeries = new Map<string, dicomParser.DataSet[]>();
  for (const e of ctEntries) {
    const ds = parse(byPath.get(e.path)!.data);
    const list = bySeries.get(ds.string('x0020000e')!) ?? [];
    list.push(ds);
    bySeries.set(ds.string('x0020000e')!, list);
    expect(ds.string('x00080005')).toBe('ISO_IR 100');
    expect(ds.string('x00080016')).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(['GE MEDICAL SYSTEMS', 'SIEMENS', 'Philips', 'TOSHIBA']).toContain(ds.string('x00080070'));
    expect(ds.floatString('x00180060')).toBeGreaterThan(0); // KVP
    expect(ds.string('x00181210')).toBeTruthy(); // ConvolutionKernel
    expect(ds.string('x00200037')).toBe('1\\0\\0\\0\\1\\0');
    expect(ds.string('x00280004')).toBe('MONOCHROME2');
    expect(ds.uint16('x00280103')).toBe(1);
    expect(ds.floatString('x00281052')).toBe(-1024);
    expect(ds.elements.x7fe00010.length).toBe(OPTS.size * OPTS.size * 2);
    const thickness = ds.floatString('x00180050')!;
    expect(thickness).toBeGreaterThanOrEqual(0.625);
    expect(thickness).toBeLessThanOrEqual(3);
    for (const tag of ['x00080018', 'x0020000d', 'x0020000e']) {
      expect(ds.string(tag)!.startsWith(`${UID_ROOT}.`)).toBe(true);
      expect(ds.string(tag)!.length).toBeLessThanOrEqual(64);
    }
    // PatientName is Latin-1 bytes (ISO_IR 100), never UTF-8.
    const pn = ds.elements.x00100010;
    const raw = Buffer.from(ds.byteArray.subarray(pn.dataOffset, pn.dataOffset + pn.length));
    expect(raw.includes(Buffer.from([0xc3]))).toBe(false);
    // Pixel bytes are not trivial.
    const px = ds.elements.x7fe00010;
    expect(new Set(ds.byteArray.subarray(px.dataOffset, px.dataOffset + px.length)).size).toBeGreaterThan(10);
  }
  for (const slices of bySeries.values()) {
    expect(slices).toHaveLength(OPTS.slices);
    const thickness = slices[0].floatString('x00180050')!;
    const z = slices.map((s) => s.floatString('x00200032', 2)!);
    for (let k = 1; k < z.length; k++) expect(Math.abs(z[k] - z[k - 1])).toBeCloseTo(thickness, 6);
    expect(slices.map((s) => s.intString('x00200013'))).toEqual([1, 2, 3, 4, 5]);
  }
  // Implicit and explicit VR little endian are both used.
  const syntaxes = new Set(manifest.instances.map((i) => i.transferSyntaxUid));
  expect(syntaxes).toEqual(new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1', '1.2.840.10008.1.2.2', '1.2.840.10008.1.2.1.99']));
});

test('--broken: every bad case is present with its status and code, and its bytes are what it claims', () => {
  const data = (p: string) => byPath.get(p)!.data;
  const pixelDataCut = (buf: Buffer) => {
    // Pixel Data is the last element: its declared length runs past the end of the file.
    for (let k = buf.length - 8; k >= 132; k--) {
      if (buf.readUInt16LE(k) === 0x7fe0 && buf.readUInt16LE(k + 2) === 0x0010) {
        const explicit = buf.toString('latin1', k + 4, k + 6) === 'OW';
        const length = buf.readUInt32LE(k + (explicit ? 8 : 4));
        const valueStart = k + (explicit ? 12 : 8);
        return { declared: length, left: buf.length - valueStart, explicit };
      }
    }
    return null;
  };
  for (const [p, explicit] of [['extra/truncated-implicit.dcm', false], ['extra/truncated-explicit.dcm', true]] as const) {
    expect(entry(p)).toMatchObject({ status: 'invalid', code: 'TRUNCATED' });
    const cut = pixelDataCut(data(p))!;
    expect(cut.explicit).toBe(explicit);
    expect(cut.left).toBeGreaterThan(0);
    expect(cut.left).toBeLessThan(cut.declared);
  }
  expect(entry('extra/empty.dcm')).toMatchObject({ status: 'invalid', code: 'EMPTY_FILE' });
  expect(data('extra/empty.dcm').length).toBe(0);
  expect(entry('extra/notes.dcm')).toMatchObject({ status: 'invalid', code: 'NOT_DICOM' });
  expect(data('extra/notes.dcm').toString('latin1')).toMatch(/^[\x20-\x7e\n]+$/);
  expect(entry('extra/dicm-then-garbage.dcm')).toMatchObject({ status: 'invalid', code: 'BAD_FILE_META' });
  const garbage = data('extra/dicm-then-garbage.dcm');
  expect(garbage.toString('latin1', 128, 132)).toBe('DICM');
  expect(garbage.readUInt16LE(132)).not.toBe(0x0002);
  expect(entry('extra/no-sop-instance-uid.dcm')).toMatchObject({ status: 'invalid', code: 'MISSING_SOP_INSTANCE_UID' });
  const noSop = parse(data('extra/no-sop-instance-uid.dcm'));
  expect(noSop.elements.x00080018).toBeUndefined();
  expect(noSop.elements.x00020003).toBeUndefined();
  expect(noSop.string('x0020000e')).toBeTruthy();
  expect(entry('extra/no-series-instance-uid.dcm')).toMatchObject({ status: 'invalid', code: 'MISSING_SERIES_INSTANCE_UID' });
  const noSeries = parse(data('extra/no-series-instance-uid.dcm'));
  expect(noSeries.elements.x0020000e).toBeUndefined();
  expect(noSeries.string('x00080018')).toBeTruthy();
  // Valid without an extension, in big endian, deflated.
  for (const [p, ts] of [['extra/IM00006', '1.2.840.10008.1.2.1'], ['extra/big-endian.dcm', '1.2.840.10008.1.2.2'], ['extra/deflated.dcm', '1.2.840.10008.1.2.1.99']]) {
    expect(entry(p)).toMatchObject({ status: 'valid', code: 'OK' });
    expect(manifest.instances.find((i) => i.sourcePath === p)!.transferSyntaxUid).toBe(ts);
  }
  const macos = manifest.entries.find((e) => e.path.startsWith('__MACOSX/'))!;
  expect(macos).toMatchObject({ status: 'skipped', code: 'SKIPPED_MACOS_METADATA' });
  expect(path.posix.basename(macos.path)).toBe('._1-001.dcm');
  expect(data(macos.path).readUInt32BE(0)).toBe(0x00051607);
  expect(entry('extra/copy-of-1-001.dcm')).toMatchObject({ status: 'duplicate', code: 'DUPLICATE_INSTANCE' });
  expect(entry('extra/conflict-1-002.dcm')).toMatchObject({ status: 'conflict', code: 'CONFLICTING_INSTANCE' });
  expect(entry('extra/nested.zip')).toMatchObject({ status: 'skipped', code: 'SKIPPED_NESTED_ZIP' });
  const nested = manifest.entries.filter((e) => e.path.startsWith('extra/nested.zip/'));
  expect(nested.map((e) => e.status)).toEqual(['valid', 'valid']);
  const inNested = manifest.instances.filter((i) => i.sourcePath.startsWith('extra/nested.zip/'));
  expect(new Set(inNested.map((i) => i.seriesInstanceUid)).size).toBe(1);
  const anon = manifest.instances.find((i) => i.sourcePath === 'extra/no-patient-id.dcm')!;
  expect(anon.patientId).toBeNull();
  expect(parse(data('extra/no-patient-id.dcm')).elements.x00100020.length).toBe(0);
});

dcmdumpTool.test('dcmdump reads every valid entry without a warning and rejects the truncated ones', () => {
  const dir = path.join(tmp, 'dump');
  fs.mkdirSync(dir);
  manifest.entries.forEach((e, k) => {
    const file = path.join(dir, `${k}.dcm`);
    fs.writeFileSync(file, byPath.get(e.path)!.data);
    if (['valid', 'duplicate', 'conflict'].includes(e.status)) {
      const r = dcmdump(['-M', file]);
      expect({ path: e.path, stderr: r.stderr, status: r.status }).toEqual({ path: e.path, stderr: '', status: 0 });
    } else if (e.code === 'TRUNCATED') {
      const r = dcmdump(['-M', file]);
      expect(r.stderr).toMatch(/PixelData \(7fe0,0010\) larger/);
    }
  });
});

test('series slice counts and thickness ranges match the valid instances', () => {
  const counted = new Map<string, number>();
  for (const i of manifest.instances) counted.set(i.seriesInstanceUid, (counted.get(i.seriesInstanceUid) ?? 0) + 1);
  expect(new Map(manifest.series.map((s) => [s.seriesInstanceUid, s.sliceCount]))).toEqual(counted);
  // 3 CT series of 5, 3 radiographs, the extra series of 3, the nested series of 2, the patient-less one,
  // the gappy series of 4 and the mixed-size series of 3.
  expect(manifest.series.map((s) => s.sliceCount).sort((a, b) => a - b)).toEqual([1, 1, 1, 1, 2, 3, 3, 4, 5, 5, 5]);
  for (const s of manifest.series) {
    const mine = manifest.instances.filter((i) => i.seriesInstanceUid === s.seriesInstanceUid);
    const t = mine.map((i) => i.sliceThickness).filter((x): x is number => x !== null);
    expect(s.minSliceThickness).toBe(t.length ? Math.min(...t) : null);
    expect(s.maxSliceThickness).toBe(t.length ? Math.max(...t) : null);
  }
  // The radiographs have no slice thickness; CR has no PixelSpacing and no AcquisitionDate.
  for (const i of manifest.instances.filter((x) => x.modality === 'CR' || x.modality === 'DX')) {
    expect(i.sliceThickness).toBeNull();
    if (i.modality === 'CR') expect([i.pixelSpacingRow, i.acquisitionDate]).toEqual([null, null]);
    expect(i.rows).not.toBe(i.columns);
  }
});

test('without --broken: only the LIDC tree, valid slices and NOT_DICOM XML reads; default size 512', async () => {
  const out = path.join(tmp, 'clean.zip');
  const m = await synthesize({ patients: 2, slices: 2, seed: 5, out });
  const flat = await readZipFlat(out);
  expect(flat.map((i) => i.name)).toEqual(m.entries.map((e) => e.path));
  expect(m.entries.every((e) => e.path.startsWith('LIDC-IDRI/'))).toBe(true);
  expect(new Set(m.entries.map((e) => `${e.status}:${e.code}`))).toEqual(new Set(['valid:OK', 'invalid:NOT_DICOM']));
  expect(m.instances).toHaveLength(2 * 3);
  const ct = m.instances.filter((i) => i.modality === 'CT');
  expect(ct.every((i) => i.rows === 512 && i.columns === 512)).toBe(true);
  expect(new Set(ct.map((i) => i.transferSyntaxUid))).toEqual(new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']));
  const first = flat.find((i) => i.name === ct[0].sourcePath)!;
  expect(parse(first.data).elements.x7fe00010.length).toBe(512 * 512 * 2);
});

test('writeSynthFolder writes the same dataset as files, in sorted path order, unsafe entries left out', async () => {
  const dir = path.join(tmp, 'folder');
  const m = await writeSynthFolder({ ...OPTS, outDir: dir });
  const paths = m.entries.map((e) => e.path);
  expect(paths.filter((p) => !p.startsWith('extra/nested.zip/'))).toEqual(
    [...paths.filter((p) => !p.startsWith('extra/nested.zip/'))].sort((a, b) => (a < b ? -1 : 1)),
  );
  expect(m.entries.some((e) => e.status === 'refused')).toBe(false);
  expect(fs.existsSync(path.join(tmp, 'evil.dcm'))).toBe(false);
  for (const e of m.entries.filter((x) => !x.path.startsWith('extra/nested.zip/'))) {
    expect(fs.readFileSync(path.join(dir, e.path)).equals(byPath.get(e.path)!.data)).toBe(true);
  }
  // The same unique instances as the zip (the unsafe entries were refused there anyway).
  const uids = (x: SynthManifest) => x.instances.map((i) => i.sopInstanceUid).sort();
  expect(uids(m)).toEqual(uids(manifest));
  expect(m.entries.filter((e) => e.status === 'duplicate' || e.status === 'conflict').map((e) => e.path)).toEqual([
    'extra/conflict-1-002.dcm',
    'extra/copy-of-1-001.dcm',
  ]);
});

test('unusable options are refused with a reason', async () => {
  await expect(synthesize({ patients: 0, out: path.join(tmp, 'x.zip') })).rejects.toThrow(/patients must be an integer/);
  await expect(synthesize({ patients: 1, slices: 1.5, out: path.join(tmp, 'x.zip') })).rejects.toThrow(/slices/);
  await expect(synthesize({ patients: 1, size: 4, out: path.join(tmp, 'x.zip') })).rejects.toThrow(/size/);
  expect(fs.existsSync(path.join(tmp, 'x.zip'))).toBe(false);
});

test('--broken plants series-level problems that the series checks find, and only those', async () => {
  const { checkSeries } = await import('../../src/dicom/series-checks');
  const { readDicomBytes } = await import('../../src/dicom/read');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'synth-series-'));
  try {
    const folder = path.join(dir, 'tree');
    const manifest = await writeSynthFolder({ patients: 2, slices: 6, size: 32, broken: true, seed: 4, outDir: folder });
    const fields = manifest.instances
      .filter((i) => fs.existsSync(path.join(folder, i.sourcePath))) // not the nested zip's inner files
      .map((i) => {
        const bytes = fs.readFileSync(path.join(folder, i.sourcePath));
        return readDicomBytes(bytes, bytes.length).fields!;
      });
    const found = checkSeries(fields).map((f) => `${f.seriesInstanceUid} ${f.code}`);
    expect([...new Set(found)].sort()).toEqual(manifest.seriesIssues.map((i) => `${i.seriesInstanceUid} ${i.code}`).sort());
    expect(manifest.seriesIssues.map((i) => i.code).sort()).toEqual(['INSTANCE_NUMBER_GAP', 'MIXED_DIMENSIONS', 'UNEVEN_SLICE_SPACING']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
