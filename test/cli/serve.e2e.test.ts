/**
 * `dicomflow serve` as a user runs it (the built CLI, DIR's embedded Temporal server, real HTTP):
 * - a missing catalog is a clear error and nothing is created;
 * - on 127.0.0.1 it serves without a token, its worker runs a new run started by a client, Ctrl-C stops it cleanly;
 * - on any other host every request needs the token it printed (bearer or ?token= then a cookie);
 * - Operations: a run failed on purpose (a load into a PostgreSQL database that does not exist yet); `serve` started on
 *   that DIR (no catalog yet: 503); the database created; a Reset through the Temporal API (what the UI's Reset does)
 *   while serve runs: serve's worker runs it to completion and the catalog is right.
 */
import { spawn, type ChildProcess } from 'child_process';
import { randomBytes, randomUUID } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Client, Connection } from '@temporalio/client';
import knexFactory from 'knex';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { loadCodec } from '../../src/temporal/codec';
import type { IngestSummary } from '../../src/workflows/types';
import { BIN, runCli } from '../helpers/cli';
import { expectMatchesManifest } from '../helpers/dataset';
import { startPostgres, type TestPostgres } from '../helpers/postgres';
import { POSTGRES, requireTool } from '../helpers/tools';

jest.setTimeout(600_000);

/** No TEMPORAL_ADDRESS from the environment running the tests: the commands use DIR's own server. */
const LOCAL = { TEMPORAL_ADDRESS: undefined, TEMPORAL_UI_URL: undefined };

let tmp: string;
let zip: string;
let manifest: SynthManifest;
const outDirs: string[] = [];
const children: ChildProcess[] = [];

const out = (name: string) => {
  const dir = path.join(tmp, name);
  outDirs.push(dir);
  return dir;
};

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-serve-'));
  zip = path.join(tmp, 'lidc.zip');
  manifest = await synthesize({ patients: 2, slices: 4, size: 32, broken: true, seed: 21, out: zip });
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const dir of outDirs) await runCli(['server', 'stop', '--out', dir]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Serving {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** The first browser URL printed (http://host:port), without a token. */
  url: string;
  token?: string;
  exit: Promise<number | null>;
}

/** Starts `dicomflow serve ...` and resolves once it has printed its URLs. */
function serve(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Serving> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env: { ...process.env, ...LOCAL, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += d));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      stdout += d;
      if (!/^Ctrl-C stops it/m.test(stdout)) return;
      const url = /browser\s+(http:\/\/[^/\s]+)/.exec(stdout)?.[1];
      if (!url) return reject(new Error(`no browser URL in:\n${stdout}`));
      resolve({ child, stdout: () => stdout, stderr: () => stderr, url, token: /token\s+(\S+)/.exec(stdout)?.[1], exit });
    });
    void exit.then((code) => reject(new Error(`serve exited with ${code} before serving:\n${stdout}\n${stderr}`)));
  });
}

async function ingested(name: string): Promise<string> {
  const dir = out(name);
  const result = await runCli(['ingest', zip, '--out', dir], { env: LOCAL });
  expect(result.code).toBe(0);
  return dir;
}

const studyCount = () => new Set(manifest.instances.map((i) => i.studyInstanceUid)).size;

test('a missing catalog is a clear error; nothing is created', async () => {
  const none = path.join(tmp, 'no-such-dir');
  const a = await runCli(['serve', '--out', none, '--port', '0'], { env: LOCAL });
  expect(a.code).toBe(1);
  expect(a.stderr).toMatch(/^dicomflow: no catalog at .*no-such-dir\/dicom\.db \(run `dicomflow ingest` into that folder first/);
  expect(fs.existsSync(none)).toBe(false);

  const empty = path.join(tmp, 'empty');
  fs.mkdirSync(empty);
  const file = path.join(tmp, 'nothing.db');
  const b = await runCli(['serve', '--out', empty, '--db', file, '--port', '0'], { env: LOCAL });
  expect(b.code).toBe(1);
  expect(b.stderr).toContain(`no catalog at ${file}`);
  expect(fs.existsSync(file)).toBe(false);
  expect(fs.readdirSync(empty)).toEqual([]);
});

test('on 127.0.0.1: no token needed, URLs printed, a run started by a client executes on its worker, Ctrl-C stops it', async () => {
  const dir = await ingested('local');
  const s = await serve(['--out', dir]);
  expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(s.stdout()).toContain(`DICOMweb     ${s.url}/dicomweb`);
  expect(s.stdout()).toContain(`viewer       ${s.url}/viewer`);
  expect(s.stdout()).toMatch(/Temporal UI {2}http:\/\/127\.0\.0\.1:\d+/);
  expect(s.token).toBeUndefined();
  const res = await fetch(`${s.url}/dicomweb/studies`);
  expect(res.status).toBe(200);
  expect(((await res.json()) as unknown[]).length).toBe(studyCount());

  // A new run from a pure client (no worker of its own): serve's worker runs it.
  const zip2 = path.join(tmp, 'second.zip');
  const second = await synthesize({ patients: 1, slices: 3, size: 32, broken: false, seed: 22, out: zip2 });
  const address = `127.0.0.1:${JSON.parse(fs.readFileSync(path.join(dir, 'temporal', 'server.json'), 'utf8')).port}`;
  const client = await runCli(['ingest', zip2, '--out', dir], { env: { TEMPORAL_ADDRESS: address, TEMPORAL_UI_URL: undefined } });
  expect(client.stderr).toBe('');
  expect(client.code).toBe(0);
  const after = (await (await fetch(`${s.url}/dicomweb/studies`)).json()) as unknown[];
  expect(after.length).toBe(studyCount() + new Set(second.instances.map((i) => i.studyInstanceUid)).size);

  s.child.kill('SIGINT');
  expect(await s.exit).toBe(0);
  expect(s.stdout()).toMatch(/dicomflow serve stopped\n$/);
  await expect(fetch(`${s.url}/dicomweb/studies`)).rejects.toThrow();
});

test('off loopback every request needs the printed token: bearer, or ?token= once and then the cookie', async () => {
  const dir = await ingested('remote');
  const s = await serve(['--out', dir, '--host', '0.0.0.0']);
  expect(s.token).toMatch(/^[A-Za-z0-9_-]{20,}$/);
  const token = s.token!;
  const studies = `${s.url}/dicomweb/studies`;
  expect((await fetch(studies)).status).toBe(401);
  expect((await fetch(studies, { headers: { authorization: 'Bearer wrong-token-value' } })).status).toBe(401);
  expect((await fetch(`${studies}?token=wrong`)).status).toBe(401);
  expect((await fetch(studies, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
  const viaQuery = await fetch(`${studies}?token=${encodeURIComponent(token)}`);
  expect(viaQuery.status).toBe(200);
  const cookie = viaQuery.headers.get('set-cookie')!.split(';')[0];
  expect((await fetch(studies, { headers: { cookie } })).status).toBe(200);
  // Written nowhere but the command's own output.
  for (const sub of ['logs', 'temporal']) {
    for (const f of fs.readdirSync(path.join(dir, sub))) {
      const p = path.join(dir, sub, f);
      if (fs.statSync(p).isFile() && !f.endsWith('.db') && !f.endsWith('.db-wal')) expect([p, fs.readFileSync(p, 'utf8').includes(token)]).toEqual([p, false]);
    }
  }
  s.child.kill('SIGTERM');
  expect(await s.exit).toBe(0);

  // A token of one's own.
  const own = await serve(['--out', dir, '--host', '0.0.0.0', '--token', 'my-own-token-123']);
  expect(own.token).toBe('my-own-token-123');
  expect((await fetch(`${own.url}/dicomweb/studies`, { headers: { authorization: 'Bearer my-own-token-123' } })).status).toBe(200);
  expect((await fetch(`${own.url}/dicomweb/studies`)).status).toBe(401);
  own.child.kill('SIGINT');
  expect(await own.exit).toBe(0);
});

const postgres = requireTool(POSTGRES);

postgres.test('a failed load, then Reset through the Temporal API while serve runs: the run completes on serve\'s worker', async () => {
  const password = `pw${randomBytes(6).toString('hex')}`;
  let pg: TestPostgres | undefined;
  try {
    pg = await startPostgres({ password });
    const fresh = pg.url.replace(/\/postgres$/, '/fresh');
    const dir = out('operations');

    // The run fails at load: the database does not exist yet.
    const failed = await runCli(['ingest', zip, '--out', dir, '--db', fresh], { env: LOCAL });
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/run dicomflow-\w+ failed: stage load failed: .*"fresh" does not exist/);
    const workflowId = /run (dicomflow-\w+) failed/.exec(failed.stderr)![1];

    // serve on that DIR: no catalog yet, so the site says so; its worker serves DIR's runs with the catalog's password.
    const s = await serve(['--out', dir, '--db', fresh]);
    expect(s.stdout()).toMatch(/no catalog yet/);
    expect(s.stdout()).not.toContain(password);
    const before = await fetch(`${s.url}/dicomweb/studies`);
    expect(before.status).toBe(503);
    expect(await before.text()).toMatch(/No catalog yet at PostgreSQL postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/fresh/);

    // The cause fixed: the database created.
    const admin = knexFactory({ client: 'pg', connection: pg.url });
    try {
      await admin.raw('CREATE DATABASE fresh');
    } finally {
      await admin.destroy();
    }

    // The UI's Reset: to the workflow task that scheduled the load.
    const address = `127.0.0.1:${JSON.parse(fs.readFileSync(path.join(dir, 'temporal', 'server.json'), 'utf8')).port}`;
    const connection = await Connection.connect({ address });
    try {
      const client = new Client({ connection, dataConverter: { payloadCodecs: [loadCodec({ outDir: dir })] } });
      const handle = client.workflow.getHandle(workflowId);
      const { runId, status } = await handle.describe();
      expect(status.name).toBe('FAILED');
      const { events } = await handle.fetchHistory();
      const load = events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'loadDatabase')!;
      const { runId: resetRunId } = await client.workflowService.resetWorkflowExecution({
        namespace: 'default',
        workflowExecution: { workflowId, runId },
        workflowTaskFinishEventId: load.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId,
        requestId: randomUUID(),
        reason: 'the database exists now',
      });
      const summary = (await client.workflow.getHandle(workflowId, resetRunId!).result()) as IngestSummary;
      expect(summary.counts.instances).toBe(manifest.instances.length);
    } finally {
      await connection.close();
    }

    const knex = await openCatalog({ dbUrl: fresh });
    try {
      await expectMatchesManifest(knex, dir, manifest);
    } finally {
      await knex.destroy();
    }
    // The site opens the catalog once it is there (it looks again every 2 s at most).
    let after = await fetch(`${s.url}/dicomweb/studies`);
    for (let k = 0; k < 50 && after.status === 503; k++) {
      await new Promise((r) => setTimeout(r, 200));
      after = await fetch(`${s.url}/dicomweb/studies`);
    }
    expect(after.status).toBe(200);
    expect(((await after.json()) as unknown[]).length).toBe(studyCount());

    s.child.kill('SIGINT');
    expect(await s.exit).toBe(0);
    expect(s.stdout() + s.stderr()).not.toContain(password);
  } finally {
    await pg?.stop();
  }
});
