/**
 * De-identification by the PS3.15 E.1-1 Basic Profile, checked element by element against a table kept here (the
 * standard's Basic Profile column, and P / V where the Retain Patient Characteristics / Device Identity options
 * keep the attribute), read back by an independent reader (dicom-parser) and by dcmtk's dcmdump (no warnings):
 * a file carrying every E.1-1 attribute the dictionary knows, nested in sequences too, and every valid file of a
 * `synth --broken` dataset.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as dicomParser from 'dicom-parser';
import { writeDicom, type El } from '../../src/dicom/writer';
import { vrOf, keywordOf } from '../../src/dicom/dictionary';
import { readDatasetBytes, textOf, find } from '../../src/export/dataset';
import { deidentify, type ProfileOption } from '../../src/export/deid';
import { Pseudonymizer } from '../../src/export/uid';
import { synthesize } from '../../src/synth';
import { readZip } from '../synth/read-zip';
import { DCMDUMP, requireTool } from '../helpers/tools';

const dcmdump = requireTool(DCMDUMP);

/** PS3.15 table E.1-1: tag, Basic Profile action, P: kept by Retain Patient Characteristics, V: by Retain Device Identity. */
const EXPECTED = `
00001000 X | 00001001 U | 00020003 U | 00041511 U | 00080014 U | 00080015 X
00080018 U | 00080020 Z | 00080021 X/D | 00080022 X/Z | 00080023 Z/D | 00080024 X
00080025 X | 0008002A X/Z/D | 00080030 Z | 00080031 X/D | 00080032 X/Z | 00080033 Z/D
00080034 X | 00080035 X | 00080050 Z | 00080058 U | 00080080 X/Z/D | 00080081 X
00080082 X/Z/D | 00080090 Z | 00080092 X | 00080094 X | 00080096 X | 0008009C Z
0008009D X | 00080201 X | 00081010 X/Z/D V | 00081030 X | 0008103E X | 00081040 X
00081041 X | 00081048 X | 00081049 X | 00081050 X | 00081052 X | 00081060 X
00081062 X | 00081070 X/Z/D | 00081072 X/D | 00081080 X | 00081084 X | 00081110 X/Z
00081111 X/Z/D | 00081120 X | 00081140 X/Z/U | 00081155 U | 00081195 U | 00082111 X
00082112 X/Z/U | 00083010 U | 00084000 X | 00100010 Z | 00100020 Z | 00100021 X
00100030 Z | 00100032 X | 00100040 Z P | 00100050 X | 00100101 X | 00100102 X
00101000 X | 00101001 X | 00101002 X | 00101005 X | 00101010 X P | 00101020 X P
00101030 X P | 00101040 X | 00101050 X | 00101060 X | 00101080 X | 00101081 X
00101090 X | 00101100 X | 00102000 X | 00102110 X | 00102150 X | 00102152 X
00102154 X | 00102155 X | 00102160 X P | 00102180 X | 001021A0 X P | 001021B0 X
001021C0 X P | 001021D0 X | 001021F0 X | 00102203 X/Z P | 00102297 X | 00102299 X
00104000 X | 00120010 D | 00120020 D | 00120021 Z | 00120030 Z | 00120031 Z
00120040 D | 00120042 D | 00120050 Z | 00120051 X | 00120060 Z | 00120071 X
00120072 X | 00120081 D | 00120082 X | 0016002B X | 0016004B X | 0016004D X
0016004E X V | 0016004F X V | 00160050 X V | 00160051 X V | 00160070 X | 00160071 X
00160072 X | 00160073 X | 00160074 X | 00160075 X | 00160076 X | 00160077 X
00160078 X | 00160079 X | 0016007A X | 0016007B X | 0016007C X | 0016007D X
0016007E X | 0016007F X | 00160080 X | 00160081 X | 00160082 X | 00160083 X
00160084 X | 00160085 X | 00160086 X | 00160087 X | 00160088 X | 00160089 X
0016008A X | 0016008B X | 0016008C X | 0016008D X | 0016008E X | 00180010 Z/D
00181000 X/Z/D V | 00181002 U V | 00181004 X V | 00181005 X V | 00181007 X V | 00181008 X V
00181009 X V | 0018100A X V | 0018100B U V | 00181030 X/D | 00181400 X/D | 00182042 U
00184000 X | 0018700A X/D V | 00189185 X | 00189367 D V | 00189369 D | 0018936A D
00189371 D V | 00189373 X V | 0018937B X | 0018937F X | 00189424 X | 00189516 X/D
00189517 X/D | 0018A003 X | 0020000D U | 0020000E U | 00200010 Z | 00200052 U
00200200 U | 00203401 X | 00203406 X | 00204000 X | 00209158 X | 00209161 U
00209164 U | 00281199 U | 00281214 U | 00284000 X | 00320012 X | 00321020 X V
00321021 X V | 00321030 X | 00321032 X | 00321033 X | 00321060 X/Z | 00321066 X
00321067 X | 00321070 X | 00324000 X | 00340001 D | 00340002 D | 00340005 D
00340007 D | 00380004 X | 00380010 X | 00380011 X | 00380014 X | 0038001E X
00380020 X | 00380021 X | 00380040 X | 00380050 X | 00380060 X | 00380061 X
00380062 X | 00380064 X | 00380300 X | 00380400 X | 00380500 X | 00384000 X
003A0310 U | 003A0314 D | 00400001 X V | 00400002 X | 00400003 X | 00400004 X
00400005 X | 00400006 X | 00400007 X | 0040000B X | 00400010 X V | 00400011 X V
00400012 X | 00400241 X V | 00400242 X V | 00400243 X | 00400244 X | 00400245 X
00400250 X | 00400251 X | 00400253 X | 00400254 X | 00400275 X | 00400280 X
0040050A X | 00400512 D | 00400513 Z | 0040051A X | 00400551 D | 00400554 U
00400555 X/Z | 00400562 Z | 00400600 X | 00400602 X | 00400610 Z | 004006FA X
00401001 X | 00401002 X | 00401004 X | 00401005 X | 0040100A X | 00401010 X
00401011 X | 00401101 D | 00401102 X | 00401103 X | 00401104 X | 00401400 X
00402001 X | 00402008 X | 00402009 X | 00402010 X | 00402011 X | 00402016 Z
00402017 Z | 00402400 X | 00403001 X | 00404005 X | 00404008 X | 00404010 X
00404011 X | 00404023 U | 00404025 X V | 00404027 X V | 00404028 X V | 00404030 X V
00404034 X | 00404035 X | 00404036 X | 00404037 X | 00404050 X | 00404051 X
00404052 X | 0040A027 D | 0040A073 D | 0040A075 D | 0040A078 X | 0040A07A X
0040A07C X | 0040A088 Z | 0040A123 D | 0040A124 U | 0040A171 U | 0040A172 U
0040A192 X | 0040A193 X | 0040A307 X | 0040A352 X | 0040A353 X | 0040A354 X
0040A358 X | 0040A402 U | 0040A730 D | 0040DB0C U | 0040DB0D U | 0050001B X
00500020 X V | 00500021 X | 00620021 U | 00700001 D | 00700084 Z/D | 00700086 X
0070031A U | 00701101 U | 00701102 U | 00880140 U | 00880200 X | 00880904 X
00880906 X | 00880910 X | 00880912 X | 04000100 U | 04000402 X | 04000403 X
04000404 X | 04000550 X | 04000561 X | 04000600 X | 20300020 X | 22000002 X/Z
22000005 X/Z | 30060024 U | 300600C2 U | 30080054 X/D | 30080056 X/D | 30080105 X/Z V
30080250 X/D | 30080251 X/D | 300A0002 D | 300A0003 X | 300A0004 X | 300A0006 X/D
300A0007 X/D | 300A000E X | 300A0013 U | 300A0016 X | 300A0072 X | 300A0083 U
300A00B2 X V | 300A00C3 X | 300A00DD X | 300A0196 X | 300A01A6 X | 300A01B2 X
300A0216 X V | 300A02EB X | 300A0608 D | 300A0609 U | 300A0611 Z | 300A0615 Z
300A0619 D | 300A0623 D | 300A062A D | 300A0650 U | 300A0676 X | 300A067C D
300A067D Z | 300A0700 U | 300A0734 D | 300A0736 D | 300A073A D | 300A0741 D
300A0742 D | 300A0760 D | 300A0783 D | 300C0113 X | 300E0008 X/Z | 30100006 U
3010000B U | 3010000F Z | 30100013 U | 30100015 U | 30100017 Z | 3010001B Z
3010002D D V | 30100031 U | 30100033 D | 30100034 D | 30100035 D | 30100036 X
30100037 X | 30100038 D | 3010003B U | 30100043 Z V | 3010004C X/D | 3010004D X/D
30100054 D | 30100056 X/D | 3010005A Z | 3010005C Z | 30100061 X | 3010006E U
3010006F U | 30100077 D | 3010007A Z | 3010007B Z | 3010007F Z | 30100081 Z
40000010 X | 40004000 X | 40080042 X | 40080102 X | 4008010A X | 4008010B X
4008010C X | 40080111 X | 40080114 X | 40080115 X | 40080118 X | 40080119 X
4008011A X | 40080202 X | 40080300 X | 40084000 X | 50xxxxxx X | 60xx3000 X
60xx4000 X | FFFAFFFA X | FFFCFFFC X`
  .trim()
  .split(/\n| \| /)
  .map((line) => line.trim().split(' '))
  .map(([tag, action, ...flags]) => ({ tag, action, patient: flags.includes('P'), device: flags.includes('V') }));

const KEY_A = Buffer.alloc(32, 0xa1);
const KEY_B = Buffer.alloc(32, 0xb2);
const ALL_OPTIONS = new Set<ProfileOption>();

/** A value of each VR, unlike any dummy the profile writes. */
function valueFor(vr: string, n: number): El['value'] {
  switch (vr) {
    case 'UI': return `1.2.826.0.1.3680043.10.99.${n}`;
    case 'PN': return `Secret^Person${n}`;
    case 'DA': return '20200102';
    case 'TM': return '101112';
    case 'DT': return '20200102101112';
    case 'AS': return '045Y';
    case 'IS': return String(n + 10);
    case 'DS': return '12.5';
    case 'CS': return 'SECRETCS';
    case 'AE': return 'SECRETAE';
    case 'UR': return 'http://secret.example/x';
    case 'US': case 'SS': case 'UL': case 'SL': case 'FL': case 'FD': return [n + 3];
    case 'SV': case 'UV': return [n + 3];
    case 'AT': return ['00100010'];
    case 'OB': case 'OW': case 'OF': case 'OD': case 'OL': case 'OV': case 'UN': return Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    default: return `secret text ${n}`;
  }
}

const nestedItem = (n: number): El[] => [
  { tag: '00081155', vr: 'UI', value: `1.2.826.0.1.3680043.10.77.${n}` },
  { tag: '00100010', vr: 'PN', value: 'Nested^Secret' },
  { tag: '00100020', vr: 'LO', value: 'NESTED-ID' },
];

const BASE: El[] = [
  { tag: '00080016', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
  { tag: '00080060', vr: 'CS', value: 'CT' },
  { tag: '00280010', vr: 'US', value: 2 },
  { tag: '00280011', vr: 'US', value: 2 },
  { tag: '00280100', vr: 'US', value: 16 },
  { tag: '7FE00010', vr: 'OW', value: Uint8Array.from([9, 8, 7, 6, 5, 4, 3, 2]) },
  // Private attributes, an overlay: removed whatever the options.
  { tag: '00090010', vr: 'LO', value: 'ACME 1.0' },
  { tag: '00091001', vr: 'LO', value: 'private secret' },
  { tag: '60003000', vr: 'OW', value: Uint8Array.from([1, 0, 1, 0]) },
  { tag: '60004000', vr: 'LT', value: 'overlay secret' },
];

/** Every exact tag of the table that the dictionary knows (the reader's VR), as it would be in a file. */
const SUPPORTED = EXPECTED.filter((r) => !r.tag.includes('x') && !/^000[024]/.test(r.tag) && keywordOf(r.tag) && vrOf(parseInt(r.tag, 16)) !== 'UN');

function everyTagDataset(overrides: Record<string, El['value']> = {}): El[] {
  const els: El[] = [...BASE];
  SUPPORTED.forEach((r, n) => {
    const vr = vrOf(parseInt(r.tag, 16));
    els.push({ tag: r.tag, vr, value: overrides[r.tag] ?? (vr === 'SQ' ? [nestedItem(n)] : valueFor(vr, n)) });
  });
  return els;
}

type ParsedSet = ReturnType<typeof dicomParser.parseDicom>;
const parse = (bytes: Buffer): ParsedSet => dicomParser.parseDicom(new Uint8Array(bytes));
const key = (tag: string) => `x${tag.toLowerCase()}`;

/** Checks every attribute of the table in one data set (and in its sequences' items) against the expected action. */
function checkElementByElement(original: El[], out: ParsedSet, options: Set<ProfileOption>, where: string, problems: string[]): void {
  for (const row of EXPECTED) {
    if (row.tag.includes('x')) continue;
    const before = original.find((e) => e.tag === row.tag);
    if (!before) continue;
    const el = out.elements[key(row.tag)];
    const kept = (options.has('retain-patient-characteristics') && row.patient) || (options.has('retain-device-identity') && row.device);
    const origText = textOf(before);
    const say = (what: string) => problems.push(`${where} ${row.tag} (${keywordOf(row.tag)}, ${row.action}${kept ? ', kept by option' : ''}): ${what}`);
    const nowText = el && before.vr !== 'SQ' ? out.string(key(row.tag)) ?? '' : undefined;
    if (kept) {
      if (!el) say('removed, should be kept');
      else if (origText !== undefined && nowText !== origText) say(`changed to "${nowText}"`);
      continue;
    }
    if (options.has('retain-longitudinal-modified-dates') && (before.vr === 'DA' || before.vr === 'DT' || before.vr === 'TM')) continue; // checked apart
    const action = row.action;
    if (action === 'X') {
      if (el) say('survives');
    } else if (['Z', 'X/Z', 'Z/D', 'X/Z/D'].includes(action)) {
      if (el && before.vr === 'SQ' ? (el.items?.length ?? 0) > 0 : el && el.length > 0) say(`not empty (${el?.length} bytes)`);
    } else if (before.vr === 'SQ') {
      // D, U, X/D, X/Z/U, K on a sequence: kept, its items cleaned.
      if (!el) {
        if (action !== 'X/D') say('sequence removed');
        continue;
      }
      const item = el.items?.[0]?.dataSet;
      if (!item) say('sequence lost its item');
      else {
        if ((item.string('x00100010') ?? '') !== '') say('nested PatientName survives');
        const ref = item.string('x00081155') ?? '';
        if (!ref.startsWith('2.25.') || ref === textOf(nestedItem(0)[0])) say(`nested UID not replaced: ${ref}`);
      }
    } else if (before.vr === 'UI') {
      if (!el) {
        if (action !== 'X/D') say('UID removed');
      } else if (!nowText!.startsWith('2.25.') || nowText === origText) say(`UID not replaced: ${nowText}`);
    } else if (['D', 'X/D', 'U'].includes(action)) {
      if (el && el.length > 0 && origText !== undefined && nowText === origText) say('kept its value');
      if (el && ['US', 'SS', 'UL', 'SL', 'FL', 'FD', 'OB', 'OW', 'UN'].includes(before.vr) && Buffer.from(out.byteArray.subarray(el.dataOffset, el.dataOffset + el.length)).equals(Buffer.from(before.value as Uint8Array))) say('kept its value');
    } else if (action === 'K') {
      if (!el) say('removed, should be kept');
    } else say(`unknown action ${action}`);
  }
}

function commonChecks(out: ParsedSet, options: Set<ProfileOption>, where: string, problems: string[]): void {
  for (const k of Object.keys(out.elements)) {
    const group = parseInt(k.slice(1, 5), 16);
    if (group % 2 === 1) problems.push(`${where} private ${k} survives`);
    if ((group & 0xff00) === 0x6000 || (group & 0xff00) === 0x5000) problems.push(`${where} overlay/curve ${k} survives`);
  }
  if (out.string('x00120062') !== 'YES') problems.push(`${where} PatientIdentityRemoved is ${out.string('x00120062')}`);
  const codes = (out.elements.x00120064?.items ?? []).map((i) => i.dataSet!.string('x00080100'));
  const want = ['113100', ...['retain-longitudinal-modified-dates', 'retain-patient-characteristics', 'retain-device-identity'].filter((o) => options.has(o as ProfileOption)).map((o) => ({ 'retain-longitudinal-modified-dates': '113107', 'retain-patient-characteristics': '113108', 'retain-device-identity': '113109' })[o]!)];
  if (codes.join() !== want.join()) problems.push(`${where} DeidentificationMethodCodeSequence ${codes.join()} instead of ${want.join()}`);
  if (!out.string('x00120063')) problems.push(`${where} no DeidentificationMethod`);
}

function deid(bytes: Buffer, keyBytes: Buffer, options: Set<ProfileOption> = new Set(), allowBurnedIn = false) {
  const r = deidentify(readDatasetBytes(bytes), new Pseudonymizer(keyBytes), { options, allowBurnedIn });
  if (r.kind !== 'done') throw new Error(`withheld: ${r.reason}`);
  return r;
}

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-deid-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('a file carrying every E.1-1 attribute the reader supports', () => {
  test(`the table covers the attributes (${SUPPORTED.length} of them) and nothing removed or zeroed survives, at the top level or in sequences`, () => {
    expect(SUPPORTED.length).toBeGreaterThan(300);
    for (const ts of ['explicit-le', 'implicit-le', 'explicit-be'] as const) {
      const original = everyTagDataset();
      const bytes = writeDicom(original, { transferSyntax: ts });
      const out = deid(bytes, KEY_A);
      const problems: string[] = [];
      const parsed = parse(out.bytes);
      checkElementByElement(original, parsed, ALL_OPTIONS, ts, problems);
      commonChecks(parsed, ALL_OPTIONS, ts, problems);
      expect(problems).toEqual([]);
      // Output: explicit VR little endian with a proper file meta group naming the new SOP Instance UID.
      expect(parsed.string('x00020010')).toBe('1.2.840.10008.1.2.1');
      expect(parsed.string('x00020003')).toBe(parsed.string('x00080018'));
      expect(parsed.string('x00020003')).toMatch(/^2\.25\.\d+$/);
      // Pixel Data byte for byte.
      const px = parsed.elements.x7fe00010;
      expect(Buffer.from(parsed.byteArray.subarray(px.dataOffset, px.dataOffset + px.length))).toEqual(Buffer.from([9, 8, 7, 6, 5, 4, 3, 2]));
    }
  });

  test('the options keep what they name: patient characteristics, device identity, dates moved back by the patient shift', () => {
    const options = new Set<ProfileOption>(['retain-patient-characteristics', 'retain-device-identity', 'retain-longitudinal-modified-dates']);
    const original = everyTagDataset({ '00100020': 'PAT-7' });
    const out = deid(writeDicom(original, { transferSyntax: 'explicit-le' }), KEY_A, options);
    const parsed = parse(out.bytes);
    const problems: string[] = [];
    checkElementByElement(original, parsed, options, 'options', problems);
    commonChecks(parsed, options, 'options', problems);
    expect(problems).toEqual([]);
    expect(parsed.string('x00101010')).toBe('045Y'); // PatientAge (P)
    expect(parsed.string('x00181000')).toBeTruthy(); // DeviceSerialNumber (V)
    const shift = new Pseudonymizer(KEY_A).dateShiftDays('PAT-7');
    expect(shift).toBeGreaterThanOrEqual(365);
    const expected = new Date(Date.UTC(2020, 0, 2) - shift * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    for (const tag of ['x00080020', 'x00080021', 'x00080022', 'x00080023']) expect({ tag, v: parsed.string(tag) }).toEqual({ tag, v: expected });
    expect(parsed.string('x0008002a')).toBe(`${expected}101112`);
    expect(parsed.string('x00280303')).toBe('MODIFIED');
    // Without the option the same dates are gone.
    const plain = parse(deid(writeDicom(original, { transferSyntax: 'explicit-le' }), KEY_A).bytes);
    expect(plain.string('x00080020') ?? '').toBe('');
  });

  dcmdump.test('dcmdump reads the output without a warning', () => {
    for (const options of [ALL_OPTIONS, new Set<ProfileOption>(['retain-patient-characteristics', 'retain-device-identity', 'retain-longitudinal-modified-dates'])]) {
      const file = path.join(tmp, `every-${options.size}.dcm`);
      fs.writeFileSync(file, deid(writeDicom(everyTagDataset(), { transferSyntax: 'implicit-le' }), KEY_A, options).bytes);
      const r = spawnSync(dcmdump.path(), ['-M', file], { encoding: 'utf8' });
      expect({ status: r.status, stderr: r.stderr, warnings: r.stdout.split('\n').filter((l) => /^[WE]:/.test(l)) }).toEqual({ status: 0, stderr: '', warnings: [] });
    }
  });
});

describe('UIDs', () => {
  /** Three instances of one series, each referencing the one before (Referenced Image Sequence, X/Z/U). */
  const series = () =>
    [1, 2, 3].map((n) =>
      writeDicom(
        [
          ...BASE,
          { tag: '00080018', vr: 'UI', value: `1.2.3.4.5.${n}` },
          { tag: '00081140', vr: 'SQ', value: n > 1 ? [[{ tag: '00081150', vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' }, { tag: '00081155', vr: 'UI', value: `1.2.3.4.5.${n - 1}` }]] : [] },
          { tag: '00100020', vr: 'LO', value: 'PAT-UID' },
          { tag: '0020000D', vr: 'UI', value: '1.2.3.4' },
          { tag: '0020000E', vr: 'UI', value: '1.2.3.4.5' },
          { tag: '00200052', vr: 'UI', value: '1.2.3.4.9' },
        ],
        { transferSyntax: 'explicit-le' },
      ),
    );

  test('changed, consistent across instances (references follow), the same under the same key and different under another', () => {
    const a = series().map((b) => deid(b, KEY_A));
    const parsed = a.map((r) => parse(r.bytes));
    const sop = parsed.map((p) => p.string('x00080018')!);
    expect(new Set(sop).size).toBe(3);
    for (const p of parsed) {
      expect(p.string('x0020000e')).toBe(parsed[0].string('x0020000e'));
      expect(p.string('x00200052')).toBe(parsed[0].string('x00200052'));
      expect(p.string('x0020000d')).not.toBe('1.2.3.4');
    }
    for (const n of [1, 2]) expect(parsed[n].elements.x00081140.items![0].dataSet!.string('x00081155')).toBe(sop[n - 1]);
    // The SOP Class UID is not an identifier: kept.
    expect(parsed[1].elements.x00081140.items![0].dataSet!.string('x00081150')).toBe('1.2.840.10008.5.1.4.1.1.2');
    // Same key: the same bytes; another key: other UIDs.
    const again = series().map((b) => deid(b, KEY_A));
    for (const [k, r] of again.entries()) expect(r.bytes.equals(a[k].bytes)).toBe(true);
    const other = series().map((b) => parse(deid(b, KEY_B).bytes));
    for (const [k, p] of other.entries()) {
      expect(p.string('x00080018')).not.toBe(sop[k]);
      expect(p.string('x00080018')).toMatch(/^2\.25\.\d{1,39}$/);
    }
  });
});

test('instances that may carry burned-in text are withheld unless allowed', () => {
  const us = writeDicom([...BASE.filter((e) => e.tag !== '00080060'), { tag: '00080018', vr: 'UI', value: '1.2.3.1' }, { tag: '00080060', vr: 'CS', value: 'US' }], { transferSyntax: 'explicit-le' });
  const flagged = writeDicom([...BASE, { tag: '00080018', vr: 'UI', value: '1.2.3.2' }, { tag: '00280301', vr: 'CS', value: 'YES' }], { transferSyntax: 'explicit-le' });
  const pseudo = new Pseudonymizer(KEY_A);
  for (const bytes of [us, flagged]) {
    const r = deidentify(readDatasetBytes(bytes), pseudo, { options: ALL_OPTIONS });
    expect(r.kind).toBe('withheld');
    expect(deidentify(readDatasetBytes(bytes), pseudo, { options: ALL_OPTIONS, allowBurnedIn: true }).kind).toBe('done');
  }
});

test('every valid file of a synth --broken dataset: nothing the profile removes or zeroes survives', async () => {
  const zip = path.join(tmp, 'broken.zip');
  await synthesize({ patients: 2, slices: 3, size: 16, broken: true, seed: 5, out: zip });
  const { readDicomBytes } = await import('../../src/dicom/read');
  const items = (await readZip(zip)).filter((i) => readDicomBytes(i.data, i.data.length).status === 'valid');
  expect(items.length).toBeGreaterThan(5);
  const problems: string[] = [];
  for (const item of items) {
    const original = readDatasetBytes(item.data).elements;
    const out = deid(item.data, KEY_A, ALL_OPTIONS, true);
    const parsed = parse(out.bytes);
    checkElementByElement(original, parsed, ALL_OPTIONS, item.name, problems);
    commonChecks(parsed, ALL_OPTIONS, item.name, problems);
    expect(textOf(find(readDatasetBytes(out.bytes).elements, '00100010')) ?? '').toBe('');
    if (dcmdump.runs) {
      const file = path.join(tmp, 'one.dcm');
      fs.writeFileSync(file, out.bytes);
      const stdout = execFileSync(dcmdump.path(), ['-M', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      for (const line of stdout.split('\n')) if (/^[WE]:/.test(line)) problems.push(`${item.name}: dcmdump ${line}`);
    }
  }
  expect(problems).toEqual([]);
});

test('compressed (encapsulated) Pixel Data keeps its transfer syntax and its fragments byte for byte', () => {
  const item = (bytes: number[]) => {
    const b = Buffer.alloc(8 + bytes.length);
    b.writeUInt16LE(0xfffe, 0);
    b.writeUInt16LE(0xe000, 2);
    b.writeUInt32LE(bytes.length, 4);
    Buffer.from(bytes).copy(b, 8);
    return b;
  };
  const fragments = Buffer.concat([item([]), item([0xff, 0xd8, 1, 2, 3, 4, 5, 6, 0xff, 0xd9]), Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0])]);
  const jpeg = '1.2.840.10008.1.2.4.50';
  const bytes = writeDicom(
    [...BASE.filter((e) => e.tag !== '7FE00010'), { tag: '00080018', vr: 'UI', value: '1.2.3.77' }, { tag: '00100010', vr: 'PN', value: 'Secret^Jpeg' }, { tag: '7FE00010', vr: 'OB', value: fragments, encapsulated: true }],
    { transferSyntax: 'explicit-le', transferSyntaxUid: jpeg },
  );
  const ds = readDatasetBytes(bytes);
  expect(ds.encapsulated).toBe(true);
  const out = deid(bytes, KEY_A);
  const parsed = parse(out.bytes);
  expect(parsed.string('x00020010')).toBe(jpeg);
  expect(parsed.string('x00100010') ?? '').toBe('');
  const px = find(readDatasetBytes(out.bytes).elements, '7FE00010')!;
  expect(Buffer.from(px.value as Uint8Array).equals(fragments)).toBe(true);
  if (dcmdump.runs) {
    const file = path.join(tmp, 'jpeg.dcm');
    fs.writeFileSync(file, out.bytes);
    const r = spawnSync(dcmdump.path(), [file], { encoding: 'utf8' });
    expect({ status: r.status, stderr: r.stderr, warnings: r.stdout.split('\n').filter((l) => /^[WE]:/.test(l)) }).toEqual({ status: 0, stderr: '', warnings: [] });
  }
});
