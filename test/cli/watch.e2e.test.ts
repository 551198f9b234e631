/**
 * `dicomflow watch` (issue 8) on DIR's embedded Temporal dev server with a `dicomflow worker --out DIR` process: the
 * schedule's runs catalog the files dropped into the folder, a paused schedule starts none, a trigger while a run is
 * still going is skipped (overlap policy SKIP), and --list / --delete manage it.
 */
import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection, ScheduleOverlapPolicy } from '@temporalio/client';
import { writeSynthFolder } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { loadCodec } from '../../src/temporal/codec';
import { BIN, runCli } from '../helpers/cli';

jest.setTimeout(600_000);

let tmp: string;
let worker: ChildProcess | undefined;
const LOCAL = { TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined };

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-watch-'));
});

afterAll(async () => {
  if (worker && worker.exitCode === null) worker.kill('SIGKILL');
  await runCli(['server', 'stop', '--out', path.join(tmp, 'out')]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

function startWorker(dir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [BIN, 'worker', '--out', dir], { env: { ...process.env, ...LOCAL }, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (stdout.includes('dicomflow worker polling')) resolve(child);
    });
    child.on('close', (code) => reject(new Error(`worker exited with ${code}:\n${stdout}`)));
  });
}

interface RunRow {
  run_id: string;
  new_files: number | null;
  instances: number;
}

/** The runs table (SQLite in DIR), or [] before the first load made it. */
async function runs(dir: string): Promise<RunRow[]> {
  if (!fs.existsSync(path.join(dir, 'dicom.db'))) return [];
  const knex = await openCatalog({ outDir: dir });
  try {
    return (await knex('runs').select('run_id', 'new_files', 'instances').orderBy('loaded_at')) as RunRow[];
  } finally {
    await knex.destroy();
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('watch: a schedule ingests new files as they arrive; pause stops it; an overlapping trigger is skipped; --list and --delete', async () => {
  const folder = path.join(tmp, 'incoming');
  const m = await writeSynthFolder({ patients: 1, slices: 4, size: 32, seed: 61, outDir: folder });
  const more = await writeSynthFolder({ patients: 2, slices: 40, size: 64, seed: 62, outDir: path.join(tmp, 'more') });
  const dir = path.join(tmp, 'out');
  worker = await startWorker(dir);

  const created = await runCli(['watch', folder, '--out', dir, '--every', '2s'], { env: LOCAL });
  expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: '' });
  const scheduleId = /Schedule (dicomflow-watch-\S+) created/.exec(created.stdout)![1];
  expect(created.stdout).toContain('every 2s');
  expect(created.stdout).toContain(`dicomflow worker --out ${dir}`);

  // The first scheduled run catalogs the whole folder; later ones find nothing new.
  await waitFor('the first scheduled run', async () => ((await runs(dir)).find((r) => r.new_files === m.entries.length) ? true : undefined));
  // Files dropped in: the next run catalogs them, and only them.
  // (Made aside and moved in at once, so no run sees half of them.)
  const staging = path.join(tmp, 'staging');
  fs.mkdirSync(staging);
  const dropped = more.instances.slice(0, 2);
  dropped.forEach((i, k) => fs.copyFileSync(path.join(tmp, 'more', i.sourcePath), path.join(staging, `${k}.dcm`)));
  fs.renameSync(staging, path.join(folder, 'dropped'));
  const second = await waitFor('the run of the dropped files', async () => (await runs(dir)).find((r) => r.new_files === 2));
  expect(second.instances).toBe(2);
  expect(second.run_id.startsWith(scheduleId.replace('dicomflow-watch-', 'dicomflow-'))).toBe(true);
  const knex = await openCatalog({ outDir: dir });
  try {
    const catalogued = (await knex('dicom_metadata').select('sop_instance_uid')).map((r) => r.sop_instance_uid);
    expect(catalogued.sort()).toEqual([...m.instances, ...dropped].map((i) => i.sopInstanceUid).sort());
  } finally {
    await knex.destroy();
  }

  const listed = await runCli(['watch', '--list', '--out', dir], { env: LOCAL });
  expect(listed.stdout).toMatch(new RegExp(`${scheduleId}  active  every 2s  ${folder} -> ${dir}  runs \\d+`));

  // Paused: no run starts, whatever arrives.
  expect((await runCli(['watch', '--pause', folder, '--out', dir], { env: LOCAL })).stdout).toContain(`Schedule ${scheduleId} paused`);
  await new Promise((r) => setTimeout(r, 3000)); // a run started just before the pause finishes
  const before = (await runs(dir)).length;
  fs.copyFileSync(path.join(tmp, 'more', more.instances[2].sourcePath), path.join(folder, 'dropped', '2.dcm'));
  await new Promise((r) => setTimeout(r, 7000));
  expect((await runs(dir)).length).toBe(before);
  expect((await runCli(['watch', '--list', '--out', dir], { env: LOCAL })).stdout).toContain(`${scheduleId}  paused`);

  // A slow run (many new files) and a trigger while it goes: the trigger is skipped, not queued.
  more.instances.slice(3).forEach((i, k) => fs.copyFileSync(path.join(tmp, 'more', i.sourcePath), path.join(folder, 'dropped', `many-${k}.dcm`)));
  expect((await runCli(['watch', '--trigger', folder, '--out', dir], { env: LOCAL })).stdout).toContain(`Schedule ${scheduleId} triggered`);
  // The second trigger at once, from this process (a second command would take a moment to start).
  const { port } = JSON.parse(fs.readFileSync(path.join(dir, 'temporal', 'server.json'), 'utf8')) as { port: number };
  const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
  try {
    await new Client({ connection }).schedule.getHandle(scheduleId).trigger(ScheduleOverlapPolicy.SKIP);
  } finally {
    await connection.close();
  }
  const triggered = await waitFor('the triggered run', async () => (await runs(dir)).find((r) => r.new_files === more.instances.length - 2));
  expect(triggered.instances).toBe(more.instances.length - 2);
  await new Promise((r) => setTimeout(r, 3000));
  expect((await runs(dir)).length).toBe(before + 1);
  const after = await runCli(['watch', '--list', '--out', dir], { env: LOCAL });
  expect(Number(/skipped (\d+)/.exec(after.stdout)?.[1])).toBeGreaterThanOrEqual(1);

  expect((await runCli(['watch', '--delete', folder, '--out', dir], { env: LOCAL })).stdout).toContain(`Schedule ${scheduleId} deleted`);
  expect((await runCli(['watch', '--list', '--out', dir], { env: LOCAL })).stdout).toContain('No dicomflow schedules');
  const missing = await runCli(['watch', '--pause', folder, '--out', dir], { env: LOCAL });
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain(`no schedule ${scheduleId}`);
});

test('watch --cron: the schedule runs on the cron expression (next run at 02:00 UTC), --list shows it; --every with --cron is refused', async () => {
  const folder = path.join(tmp, 'nightly');
  await writeSynthFolder({ patients: 1, slices: 2, size: 32, seed: 63, outDir: folder });
  const dir = path.join(tmp, 'out-cron');
  try {
    const both = await runCli(['watch', folder, '--out', dir, '--every', '10m', '--cron', '0 2 * * *'], { env: LOCAL });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--every or --cron, not both');

    const created = await runCli(['watch', folder, '--out', dir, '--cron', '0 2 * * *'], { env: LOCAL });
    expect({ code: created.code, stderr: created.stderr }).toEqual({ code: 0, stderr: '' });
    expect(created.stdout).toContain('on cron "0 2 * * *"');
    const scheduleId = /Schedule (dicomflow-watch-\S+) created/.exec(created.stdout)![1];
    expect((await runCli(['watch', '--list', '--out', dir], { env: LOCAL })).stdout).toContain(`${scheduleId}  active  cron "0 2 * * *"`);

    const { port } = JSON.parse(fs.readFileSync(path.join(dir, 'temporal', 'server.json'), 'utf8')) as { port: number };
    const connection = await Connection.connect({ address: `127.0.0.1:${port}` });
    try {
      // The schedule's action (the run's input) is encrypted with DIR's key, as every payload.
      const client = new Client({ connection, dataConverter: { payloadCodecs: [loadCodec({ outDir: dir })] } });
      const described = await client.schedule.getHandle(scheduleId).describe();
      expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
      const next = described.info.nextActionTimes;
      expect(next.length).toBeGreaterThan(0);
      for (const at of next) expect([at.getUTCHours(), at.getUTCMinutes(), at.getUTCSeconds()]).toEqual([2, 0, 0]);
      // Consecutive runs a day apart.
      if (next.length > 1) expect(next[1].getTime() - next[0].getTime()).toBe(24 * 3600 * 1000);
    } finally {
      await connection.close();
    }
    expect((await runCli(['watch', '--delete', scheduleId, '--out', dir], { env: LOCAL })).stdout).toContain(`Schedule ${scheduleId} deleted`);
  } finally {
    await runCli(['server', 'stop', '--out', dir]);
  }
});
