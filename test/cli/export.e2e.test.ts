/**
 * `dicomflow export` end to end, with the built CLI and DIR's real Temporal dev server, on a `synth --broken` ingest:
 * the dry run lists the selection; a de-identified export holds no original identifier (and dcmdump reads it without
 * a warning), its mapping is only at the key location; the same command again is a no-op; an export killed mid-way
 * (kill -9 after its first batch) and run again ends with the same bytes as one that ran through; NIfTI skips the
 * series that are not one volume, with series_issues' reason.
 */
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { exportWorkspace, workspace } from '../../src/workspace';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { embeddedKeyFile } from '../../src/temporal/codec';
import { runCli } from '../helpers/cli';
import { readCsv } from '../helpers/dataset';
import { DCMDUMP, requireTool } from '../helpers/tools';

jest.setTimeout(600_000);

const dcmdump = requireTool(DCMDUMP);
let tmp: string;
let dir: string;
let manifest: SynthManifest;

/** Every file under `root`: relative path → bytes. */
function tree(root: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(path.relative(root, p), fs.readFileSync(p));
    }
  };
  if (fs.existsSync(root)) walk(root);
  return out;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-export-'));
  dir = path.join(tmp, 'out');
  const zip = path.join(tmp, 'src.zip');
  manifest = await synthesize({ patients: 3, slices: 12, size: 32, broken: true, seed: 31, out: zip });
  const ingest = await runCli(['ingest', zip, '--out', dir]);
  expect(ingest.code).toBe(0);
});

afterAll(async () => {
  await runCli(['server', 'stop', '--out', dir]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('--dry-run prints the series, instances and bytes of the selection; a --where with ";" is refused', async () => {
  const db = await openCatalog({ outDir: dir });
  const expected = (await db.raw(`SELECT s.series_instance_uid AS uid, s.slice_count AS n, (SELECT SUM(file_size) FROM dicom_metadata d WHERE d.series_instance_uid = s.series_instance_uid) AS bytes FROM series_summary s WHERE modality = 'CT' AND slice_count >= 5`)) as { uid: string; n: number; bytes: number }[];
  await db.destroy();
  expect(expected.length).toBeGreaterThan(1);
  const r = await runCli(['export', '--out', dir, '--to', path.join(tmp, 'never'), '--modality', 'CT', '--min-slices', '5', '--dry-run']);
  expect(r.code).toBe(0);
  for (const s of expected) expect(r.stdout).toContain(`${s.uid}  CT  ${s.n} instances`);
  expect(r.stdout).toContain(`${expected.length} series, ${expected.reduce((a, s) => a + s.n, 0)} instances`);
  expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  const where = await runCli(['export', '--out', dir, '--to', path.join(tmp, 'never'), '--where', "modality = 'CT'", '--dry-run']);
  expect(where.code).toBe(0);
  expect(where.stdout).toMatch(/\n\d+ series, \d+ instances/);
  for (const s of expected) expect(where.stdout).toContain(s.uid);
  const bad = await runCli(['export', '--out', dir, '--to', path.join(tmp, 'never'), '--where', "1=1; DROP TABLE runs", '--dry-run']);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain('without ";"');
  const unknown = await runCli(['export', '--out', dir, '--to', path.join(tmp, 'never'), '--where', 'no_such_column = 1', '--dry-run']);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('does not run over series_summary');
});

describe('de-identified DICOM', () => {
  const to = () => path.join(tmp, 'deid');
  const args = (dest: string, extra: string[] = []) => ['export', '--out', dir, '--to', dest, '--modality', 'CT', '--deidentify', '--profile-options', 'retain-patient-characteristics', ...extra];

  test('no original identifier in the export; the mapping only at the key location; dcmdump reads it without warnings', async () => {
    const r = await runCli(args(to()));
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/dicomflow export \w+ completed/);
    const files = tree(to());
    const rows = readCsv(path.join(to(), 'manifest.csv'));
    expect(rows[0]).toEqual(['patient', 'study_instance_uid', 'series_instance_uid', 'modality', 'status', 'code', 'instances', 'withheld', 'bytes', 'path', 'reason']);
    const ctInstances = manifest.instances.filter((i) => i.modality === 'CT');
    const exported = rows.slice(1).reduce((n, row) => n + Number(row[6]), 0);
    expect(exported).toBe(ctInstances.length);
    expect([...files.keys()].filter((f) => f.endsWith('.dcm'))).toHaveLength(ctInstances.length);
    // No original UID, PatientID or name anywhere in any byte of the export.
    const secrets = new Set<string>();
    for (const i of manifest.instances) for (const v of [i.sopInstanceUid, i.seriesInstanceUid, i.studyInstanceUid, i.patientId]) if (v && v.length > 4) secrets.add(v);
    const leaks: string[] = [];
    for (const [name, bytes] of files) {
      const text = bytes.toString('latin1');
      for (const s of secrets) if (text.includes(s) || name.includes(s)) leaks.push(`${name}: ${s}`);
    }
    expect(leaks).toEqual([]);
    // The mapping (original → new) is beside the key, outside the export, and names every original series.
    const keyDir = path.join(dir, 'export-keys');
    const mapping = fs.readdirSync(keyDir).filter((f) => f.startsWith('mapping-'));
    expect(mapping).toHaveLength(1);
    const map = readCsv(path.join(keyDir, mapping[0]));
    for (const s of new Set(ctInstances.map((i) => i.seriesInstanceUid))) expect(map.some((m) => m[0] === 'series' && m[1] === s)).toBe(true);
    expect(fs.statSync(path.join(keyDir, mapping[0])).mode & 0o077).toBe(0);
    // The catalog has the export's row.
    const db = await openCatalog({ outDir: dir });
    const row = await db('exports').first();
    await db.destroy();
    expect({ format: row.format, deidentified: row.deidentified, instances: row.instances }).toEqual({ format: 'dicom', deidentified: 1, instances: ctInstances.length });
    if (dcmdump.runs) {
      for (const f of [...files.keys()].filter((n) => n.endsWith('.dcm')).slice(0, 12)) {
        const d = spawnSync(dcmdump.path(), ['-M', path.join(to(), f)], { encoding: 'utf8' });
        expect({ f, status: d.status, stderr: d.stderr, w: d.stdout.split('\n').filter((l) => /^[WE]:/.test(l)) }).toEqual({ f, status: 0, stderr: '', w: [] });
      }
    }
  });

  test('the same command again is a no-op', async () => {
    const before = new Map([...tree(to()).keys()].map((f) => [f, fs.statSync(path.join(to(), f)).mtimeMs]));
    const r = await runCli(args(to()));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nothing to do');
    for (const [f, mtime] of before) expect(fs.statSync(path.join(to(), f)).mtimeMs).toBe(mtime);
  });

  test('killed mid-way (kill -9 after its first batch) and run again: the same bytes as the export that ran through', async () => {
    const dest = path.join(tmp, 'deid-killed');
    const extra = ['--batch-size', '3', '--concurrency', '1'];
    let killedAt: number | undefined;
    const first = await runCli(args(dest, extra), {
      onStdout: (text, child) => {
        const m = /Started export dicomflow-export-(\w+)/.exec(text);
        if (!m || killedAt !== undefined) return;
        const results = path.dirname(exportWorkspace(dir, m[1]).result(0));
        const timer = setInterval(() => {
          const done = fs.existsSync(results) ? fs.readdirSync(results).filter((f) => /^batch-\d+\.json$/.test(f)).length : 0;
          if (done >= 1) {
            killedAt = done;
            child.kill('SIGKILL');
            clearInterval(timer);
          }
        }, 10);
        child.on('close', () => clearInterval(timer));
      },
    });
    expect(first.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(dest, 'manifest.csv'))).toBe(false);
    const second = await runCli(args(dest, extra));
    expect({ code: second.code, stderr: second.stderr }).toEqual({ code: 0, stderr: '' });
    expect(second.stdout).toContain('Resuming the unfinished export');
    if (process.env.DICOMFLOW_RECORD_HISTORIES) {
      // The history of an export killed and resumed, for replay.test.ts (encrypted: its test key goes beside it).
      const server = JSON.parse(fs.readFileSync(path.join(workspace(dir).temporalDir, 'server.json'), 'utf8')) as { port: number };
      const id = /Started export (dicomflow-export-\w+)/.exec(first.stdout)![1];
      const history = execFileSync(findTemporalCli(), ['workflow', 'show', '--workflow-id', id, '--output', 'json', '--address', `127.0.0.1:${server.port}`], { encoding: 'utf8' });
      const fixtures = path.join(__dirname, '..', 'fixtures', 'histories');
      fs.writeFileSync(path.join(fixtures, 'export-deid-killed-resumed.json'), history);
      fs.copyFileSync(embeddedKeyFile(dir), path.join(fixtures, 'export-deid-killed-resumed.key'));
    }
    const a = tree(to());
    const b = tree(dest);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    for (const [f, bytes] of a) expect({ f, same: bytes.equals(b.get(f)!) }).toEqual({ f, same: true });
  });
});

test('NIfTI: one volume per fit series, the others skipped with the reason from series_issues', async () => {
  const to = path.join(tmp, 'nifti');
  const r = await runCli(['export', '--out', dir, '--to', to, '--modality', 'CT', '--format', 'nifti', '--deidentify']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const rows = readCsv(path.join(to, 'manifest.csv')).slice(1);
  // The manifest has the new identifiers: the mapping beside the key says which original series each row is.
  const keyDir = path.join(dir, 'export-keys');
  const original = new Map<string, string>();
  for (const f of fs.readdirSync(keyDir).filter((n) => n.startsWith('mapping-'))) for (const m of readCsv(path.join(keyDir, f))) if (m[0] === 'series') original.set(m[2], m[1]);
  const unfitCodes = ['INSTANCE_NUMBER_GAP', 'DUPLICATE_POSITION', 'MIXED_PIXEL_SPACING', 'MIXED_DIMENSIONS', 'MIXED_MODALITY', 'UNEVEN_SLICE_SPACING'];
  const planted = new Set(manifest.seriesIssues.filter((i) => unfitCodes.includes(i.code)).map((i) => i.seriesInstanceUid));
  const ctSeries = new Set(manifest.instances.filter((i) => i.modality === 'CT').map((i) => i.seriesInstanceUid));
  expect(rows).toHaveLength(ctSeries.size);
  for (const row of rows) {
    const source = original.get(row[2]);
    expect(source && ctSeries.has(source)).toBe(true);
    if (planted.has(source!)) {
      // Skipped with the reason series_issues gives.
      expect({ status: row[4], unfit: unfitCodes.includes(row[5]), reason: row[10].startsWith(`${row[5]}: `), path: row[9] }).toEqual({ status: 'skipped', unfit: true, reason: true, path: '' });
    } else if (row[4] === 'skipped') {
      // The export's own checks (a one-slice series, ...): a code and a reason.
      expect(row[5]).toMatch(/^[A-Z_]+$/);
      expect(row[10]).not.toBe('');
    }
  }
  expect([...planted].filter((uid) => ctSeries.has(uid)).length).toBeGreaterThan(0);
  const exported = rows.filter((row) => row[4] === 'exported');
  expect(exported.length).toBeGreaterThan(0);
  for (const row of exported) {
    expect(row[9]).toMatch(/\.nii\.gz$/);
    expect(fs.existsSync(path.join(to, row[9]))).toBe(true);
    const sidecar = JSON.parse(fs.readFileSync(path.join(to, row[9].replace(/\.nii\.gz$/, '.json')), 'utf8'));
    expect(sidecar.PatientIdentityRemoved).toBe('YES');
    expect(sidecar.PatientID).toBeUndefined();
    expect(sidecar.SeriesInstanceUID).toBe(row[2]);
  }
});

test('without --deidentify the selected files are copied as they are; --to inside DIR is refused', async () => {
  const to = path.join(tmp, 'plain');
  const patient = manifest.instances.find((i) => i.modality === 'CT' && i.patientId)!.patientId!;
  const r = await runCli(['export', '--out', dir, '--to', to, '--patient', patient, '--modality', 'CT']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const db = await openCatalog({ outDir: dir });
  const rows = (await db('dicom_metadata').select('sop_instance_uid', 'file_path', 'series_instance_uid', 'study_instance_uid').where({ patient_id: patient, modality: 'CT' })) as { sop_instance_uid: string; file_path: string; series_instance_uid: string; study_instance_uid: string }[];
  await db.destroy();
  const files = tree(to);
  expect([...files.keys()].filter((f) => f.endsWith('.dcm'))).toHaveLength(rows.length);
  for (const row of rows) {
    const copy = [...files.entries()].find(([f]) => f.endsWith(`${row.sop_instance_uid}.dcm`));
    expect(copy).toBeDefined();
    expect(copy![0].split(path.sep).slice(1, 3)).toEqual([row.study_instance_uid, row.series_instance_uid]);
    expect(copy![1].equals(fs.readFileSync(path.resolve(dir, row.file_path)))).toBe(true);
  }
  const inside = await runCli(['export', '--out', dir, '--to', path.join(dir, 'exported')]);
  expect(inside.code).toBe(2);
  expect(inside.stderr).toContain('must be outside the catalog folder');
});
