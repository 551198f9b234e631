/**
 * No secret reaches the Temporal history. `dicomflow ingest` on the embedded default, from a presigned-style URL
 * (a real HTTP server on 127.0.0.1 that wants its X-Amz-Signature) into a PostgreSQL catalog whose user needs a
 * password: the run succeeds, and the history read back with the Temporal CLI holds neither the password nor the
 * signature, raw or base64-decoded; every payload is encrypted; the codec endpoint started with the server decodes
 * them (for the Web UI, and for `temporal workflow show --codec-endpoint`).
 * With DICOMFLOW_RECORD_HISTORIES=1 the history and its key are saved for replay.test.ts.
 */
import { execFileSync } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { synthesize, type SynthManifest } from '../../src/synth';
import { openCatalog } from '../../src/db/catalog';
import { resolveSource, workflowIdFor } from '../../src/client/source';
import { findTemporalCli } from '../../src/temporal/cli-binary';
import { embeddedKeyFile } from '../../src/temporal/codec';
import { workspace } from '../../src/workspace';
import { runCli } from '../helpers/cli';
import { expectMatchesManifest, listFiles } from '../helpers/dataset';
import { startPostgres, type TestPostgres } from '../helpers/postgres';

jest.setTimeout(300_000);

const PASSWORD = `pw${randomBytes(12).toString('hex')}`;
const SIGNATURE = `sig${randomBytes(16).toString('hex')}`;

let tmp: string;
let zip: string;
let manifest: SynthManifest;
let pg: TestPostgres;
let bucket: http.Server;
let url: string;
const dir = () => path.join(tmp, 'out');

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-secrets-'));
  zip = path.join(tmp, 'lidc.zip');
  [manifest, pg] = await Promise.all([
    synthesize({ patients: 2, slices: 6, size: 32, broken: true, seed: 13, out: zip }),
    startPostgres({ password: PASSWORD }),
  ]);
  // Like S3: the object only for a request that carries the signature.
  bucket = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://x');
    if (u.pathname !== '/bucket/lidc.zip') return void res.writeHead(404).end();
    if (u.searchParams.get('X-Amz-Signature') !== SIGNATURE) return void res.writeHead(403).end();
    const body = fs.readFileSync(zip);
    res.writeHead(200, { 'Content-Length': body.length, 'Content-Type': 'application/zip' });
    res.end(body);
  });
  await new Promise<void>((r) => bucket.listen(0, '127.0.0.1', r));
  const port = (bucket.address() as AddressInfo).port;
  url = `http://127.0.0.1:${port}/bucket/lidc.zip?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=3600&X-Amz-Signature=${SIGNATURE}`;
});

afterAll(async () => {
  if (tmp) await runCli(['server', 'stop', '--out', dir()]);
  bucket?.close();
  await pg?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Every place a secret could hide in a JSON text: the text itself and every base64 string in it, decoded (twice). */
function leaks(text: string, secrets: string[]): string[] {
  const found = new Set<string>();
  const look = (s: string, depth: number) => {
    for (const secret of secrets) if (s.includes(secret) || s.includes(encodeURIComponent(secret))) found.add(secret);
    if (depth > 2) return;
    for (const m of s.matchAll(/[A-Za-z0-9+/_-]{8,}={0,2}/g)) {
      const decoded = Buffer.from(m[0], m[0].includes('-') || m[0].includes('_') ? 'base64url' : 'base64').toString('latin1');
      look(decoded, depth + 1);
    }
  };
  look(text, 0);
  return [...found];
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** The payloads under a value of the history JSON (objects with metadata.encoding). */
function payloadsIn(value: unknown, out: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(value)) for (const v of value) payloadsIn(v, out);
  else if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (o.metadata && typeof o.metadata === 'object' && 'encoding' in (o.metadata as object)) out.push(o as JsonPayload);
    else for (const v of Object.values(o)) payloadsIn(v, out);
  }
  return out;
}

const encodingOf = (p: JsonPayload) => Buffer.from(p.metadata!.encoding, 'base64').toString();

test('a run from a presigned URL into a password-protected PostgreSQL leaves no secret in the history', async () => {
  const out = dir();
  const result = await runCli(['ingest', url, '--out', out, '--db', pg.url]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  expect(leaks(result.stdout, [PASSWORD, SIGNATURE])).toEqual([]);

  // The run is right: the catalog (read with the password) holds exactly the valid instances.
  const knex = await openCatalog({ dbUrl: pg.url });
  try {
    await expectMatchesManifest(knex, out, manifest);
  } finally {
    await knex.destroy();
  }

  // The embedded default made its key: private, under DIR/temporal.
  expect(fs.statSync(embeddedKeyFile(out)).mode & 0o777).toBe(0o600);

  // The history, as anyone who can reach the server reads it.
  const server = JSON.parse(fs.readFileSync(path.join(workspace(out).temporalDir, 'server.json'), 'utf8')) as { port: number; uiPort: number; codecPort: number; codecPid: number };
  const address = `127.0.0.1:${server.port}`;
  const temporal = (...args: string[]) => execFileSync(findTemporalCli(), [...args, '--address', address], { encoding: 'utf8' });
  const workflowId = workflowIdFor(resolveSource(url), out);
  const historyText = temporal('workflow', 'show', '--workflow-id', workflowId, '--output', 'json');
  const listText = temporal('workflow', 'list', '--output', 'json');
  expect(listText).toContain(workflowId);
  expect(leaks(historyText, [PASSWORD, SIGNATURE])).toEqual([]);
  expect(leaks(listText, [PASSWORD, SIGNATURE])).toEqual([]);
  // The test can see them when they are there: the same search finds the password in the URL given to --db.
  expect(leaks(JSON.stringify({ a: Buffer.from(pg.url).toString('base64') }), [PASSWORD])).toEqual([PASSWORD]);

  // Every payload the run wrote is encrypted: input, activity inputs and results, the result.
  const history = JSON.parse(historyText) as { events: Record<string, unknown>[] };
  const typesWithPayloads = ['WORKFLOW_EXECUTION_STARTED', 'ACTIVITY_TASK_SCHEDULED', 'ACTIVITY_TASK_COMPLETED', 'WORKFLOW_EXECUTION_COMPLETED'];
  const written = history.events.filter((e) => typesWithPayloads.some((t) => String(e.eventType).endsWith(t)));
  expect(written.length).toBeGreaterThanOrEqual(10);
  const payloads = payloadsIn(written);
  expect(payloads.length).toBeGreaterThanOrEqual(written.length);
  expect(new Set(payloads.map(encodingOf))).toEqual(new Set(['binary/encrypted']));

  // Nor in the server's own database: its history blobs hold ciphertext.
  const historyDb = fs.readdirSync(workspace(out).temporalDir).filter((f) => f.startsWith('history.db'));
  expect(historyDb.length).toBeGreaterThanOrEqual(1);
  for (const f of historyDb) {
    const bytes = fs.readFileSync(path.join(workspace(out).temporalDir, f)).toString('latin1');
    expect({ file: f, password: bytes.includes(PASSWORD), signature: bytes.includes(SIGNATURE) }).toEqual({ file: f, password: false, signature: false });
  }

  // Nor in the logs of DIR (structured log, worker log, server logs).
  for (const f of listFiles(out).filter((f) => /\.(log|jsonl|json|csv|html)$/.test(f))) {
    expect({ file: f, leaks: leaks(fs.readFileSync(path.join(out, f), 'utf8'), [PASSWORD, SIGNATURE]) }).toEqual({ file: f, leaks: [] });
  }

  // The codec endpoint started with the server decodes them: the input has the signed URL and the redacted --db.
  const started = history.events[0] as { workflowExecutionStartedEventAttributes: { input: { payloads: JsonPayload[] } } };
  const res = await fetch(`http://127.0.0.1:${server.codecPort}/decode`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: `http://127.0.0.1:${server.uiPort}` },
    body: JSON.stringify({ payloads: started.workflowExecutionStartedEventAttributes.input.payloads }),
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('access-control-allow-origin')).toBe(`http://127.0.0.1:${server.uiPort}`);
  const decoded = ((await res.json()) as { payloads: JsonPayload[] }).payloads;
  const input = JSON.parse(Buffer.from(decoded[0].data!, 'base64').toString());
  expect(input.source).toBe(url);
  expect(input.dbUrl).toBe(`postgres://postgres@127.0.0.1:${pg.port}/postgres`);

  // The Web UI was started with it as its codec endpoint (its settings, which the UI's pages read).
  const settings = (await (await fetch(`http://127.0.0.1:${server.uiPort}/api/v1/settings`)).json()) as { Codec: { Endpoint: string } };
  expect(settings.Codec.Endpoint).toBe(`http://127.0.0.1:${server.codecPort}`);

  // Temporal's own tools decode through it too (what the Web UI does with --ui-codec-endpoint).
  const viaCodec = temporal('workflow', 'show', '--workflow-id', workflowId, '--output', 'json', '--codec-endpoint', `http://127.0.0.1:${server.codecPort}`);
  expect(leaks(viaCodec, [SIGNATURE])).toEqual([SIGNATURE]);
  expect(leaks(viaCodec, [PASSWORD])).toEqual([]); // the password was never there

  if (process.env.DICOMFLOW_RECORD_HISTORIES) {
    const fixtures = path.join(__dirname, '..', 'fixtures', 'histories');
    fs.writeFileSync(path.join(fixtures, 'ingest-encrypted-url-postgres.json'), historyText);
    // The key of that history, so replay.test.ts can decode it (a test key: it protects nothing else).
    fs.copyFileSync(embeddedKeyFile(out), path.join(fixtures, 'ingest-encrypted-url-postgres.key'));
  }

  // The codec endpoint goes with the server.
  await runCli(['server', 'stop', '--out', out]);
  let alive = true;
  for (let i = 0; i < 50 && alive; i++) {
    try {
      process.kill(server.codecPid, 0);
      await new Promise((r) => setTimeout(r, 100));
    } catch {
      alive = false;
    }
  }
  expect(alive).toBe(false);
});

test('with an existing cluster and no key, the client and the worker refuse to start rather than write plaintext', async () => {
  const env = { TEMPORAL_ADDRESS: '127.0.0.1:1', DICOMFLOW_CODEC_KEY: '', DICOMFLOW_CODEC_KEY_FILE: '' };
  const worker = await runCli(['worker', '--task-queue', 'no-key'], { env });
  expect(worker.code).toBe(2);
  expect(worker.stderr.trim()).toMatch(/^dicomflow: no payload codec key: .*Set DICOMFLOW_CODEC_KEY .* or DICOMFLOW_CODEC_KEY_FILE/);
  const client = await runCli(['ingest', 'http://127.0.0.1:1/lidc.zip', '--out', path.join(tmp, 'no-key')], { env });
  expect(client.code).toBe(2);
  expect(client.stderr.trim()).toMatch(/^dicomflow: no payload codec key: .*no-key\/temporal\/codec\.key$/);
  const badKey = await runCli(['worker'], { env: { ...env, DICOMFLOW_CODEC_KEY: 'too-short' } });
  expect(badKey.stderr.trim()).toMatch(/^dicomflow: DICOMFLOW_CODEC_KEY: key 1 is not a 256-bit key/);
});
