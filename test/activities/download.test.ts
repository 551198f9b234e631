import * as crypto from 'crypto';
import * as fs from 'fs';
import * as http from 'http';
import * as os from 'os';
import * as path from 'path';
import { AddressInfo } from 'net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment as BaseEnv } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import * as yazl from 'yazl';
import { download, DownloadProgress } from '../../src/activities/download';

/** A real zip of ~300 KB, stored (not deflated) so its size is predictable. */
async function makeZip(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  zip.addBuffer(crypto.randomBytes(300_000), 'a/1.dcm', { compress: false });
  zip.addBuffer(Buffer.from('hello'), 'b.txt');
  zip.end();
  const chunks: Buffer[] = [];
  for await (const c of zip.outputStream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The activity environment, without the SDK's WARN line for every failure these tests expect. */
class MockActivityEnvironment extends BaseEnv {
  constructor(info?: ConstructorParameters<typeof BaseEnv>[0]) {
    super(info, { logger: new DefaultLogger('ERROR') });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let zipBytes: Buffer;
let zipSha: string;
let server: http.Server;
let base: string;
/** Every request the server saw: path and Range header. */
let seen: { url: string; range?: string }[];
let dir: string;

beforeAll(async () => {
  zipBytes = await makeZip();
  zipSha = crypto.createHash('sha256').update(zipBytes).digest('hex');
  server = http.createServer(async (req, res) => {
    seen.push({ url: req.url ?? '', range: req.headers.range });
    const url = new URL(req.url ?? '/', 'http://x');
    const half = Math.floor(zipBytes.length / 2);
    switch (url.pathname) {
      case '/ok':
        res.writeHead(200, { 'content-length': zipBytes.length, 'content-type': 'application/zip' });
        return res.end(zipBytes);
      case '/hop1':
        res.writeHead(302, { location: `${base}/hop2` });
        return res.end();
      case '/hop2':
        res.writeHead(301, { location: '/hop3' });
        return res.end();
      case '/hop3':
        res.writeHead(307, { location: 'ok?sig=x' }); // relative to /hop3
        return res.end();
      case '/loop':
        res.writeHead(302, { location: '/loop' });
        return res.end();
      case '/missing':
        res.writeHead(404);
        return res.end('nope');
      case '/busy':
        res.writeHead(503);
        return res.end('later');
      case '/slow-down':
        res.writeHead(429, { 'retry-after': '1' });
        return res.end();
      case '/html':
        res.writeHead(200, { 'content-type': 'text/html' });
        return res.end('<html>login page</html>');
      case '/drop':
      case '/drop-no-range': {
        const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
        if (m && url.pathname === '/drop') {
          const from = Number(m[1]);
          res.writeHead(206, {
            'content-length': zipBytes.length - from,
            'content-range': `bytes ${from}-${zipBytes.length - 1}/${zipBytes.length}`,
          });
          return res.end(zipBytes.subarray(from));
        }
        if (seen.filter((s) => s.url === req.url).length > 1) {
          // Later tries of the no-range variant: the whole file, as a server without Range support does.
          res.writeHead(200, { 'content-length': zipBytes.length });
          return res.end(zipBytes);
        }
        // First try: half the body, a pause long enough for a heartbeat, a little more, then the connection drops.
        res.writeHead(200, { 'content-length': zipBytes.length });
        res.write(zipBytes.subarray(0, half - 1000));
        await sleep(1100);
        res.write(zipBytes.subarray(half - 1000, half));
        await sleep(100);
        return res.destroy();
      }
      case '/lying-length':
        res.writeHead(200, { 'content-length': zipBytes.length + 500 });
        res.write(zipBytes);
        await sleep(50);
        return res.socket?.end();
      default:
        res.writeHead(500);
        return res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  seen = [];
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dl-'));
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const zipPathIn = (d: string) => path.join(d, 'download', 'source.zip');

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected the activity to fail');
}

test('downloads a zip, verifies sha256, and a second run returns at once without a request', async () => {
  const env = new MockActivityEnvironment();
  const result = await env.run(download, { url: `${base}/ok`, outDir: dir, sha256: zipSha.toUpperCase() });
  expect(result).toEqual({ zipPath: zipPathIn(dir), bytes: zipBytes.length, sha256: zipSha });
  expect(fs.readFileSync(zipPathIn(dir)).equals(zipBytes)).toBe(true);
  expect(fs.readdirSync(path.join(dir, 'download'))).toEqual(['source.zip']);

  const again = await new MockActivityEnvironment().run(download, { url: `${base}/ok`, outDir: dir, sha256: zipSha });
  expect(again).toEqual(result);
  expect(seen).toHaveLength(1);
});

test('follows a chain of redirects (absolute, root-relative, relative)', async () => {
  const result = (await new MockActivityEnvironment().run(download, { url: `${base}/hop1`, outDir: dir })) as Awaited<ReturnType<typeof download>>;
  expect(result.sha256).toBe(zipSha);
  expect(seen.map((s) => s.url)).toEqual(['/hop1', '/hop2', '/hop3', '/ok?sig=x']);
});

test('a redirect loop stops after 10 hops with a non-retryable failure', async () => {
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `${base}/loop`, outDir: dir }));
  expect(failure.type).toBe('TooManyRedirects');
  expect(failure.nonRetryable).toBe(true);
  expect(seen).toHaveLength(11);
});

test('404 fails at once, non-retryable, and the message hides the query string', async () => {
  const failure = await failureOf(
    new MockActivityEnvironment().run(download, { url: `${base}/missing?X-Amz-Signature=SECRET`, outDir: dir }),
  );
  expect(failure.type).toBe('HttpClientError');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toBe(`HTTP 404 Not Found from ${base}/missing`);
  expect(failure.message).not.toContain('SECRET');
});

test('503 is a retryable failure', async () => {
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `${base}/busy`, outDir: dir }));
  expect(failure.nonRetryable).toBe(false);
  expect(failure.type).toBe('HttpServerError');
  expect(failure.message).toContain('503');
});

test('429 Too Many Requests is retryable, not a client error', async () => {
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `${base}/slow-down`, outDir: dir }));
  expect(failure.nonRetryable).toBe(false);
  expect(failure.message).toBe(`HTTP 429 Too Many Requests from ${base}/slow-down`);
});

test('a connection refused is a retryable failure', async () => {
  const closed = http.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `http://127.0.0.1:${port}/x.zip`, outDir: dir }));
  expect(failure.nonRetryable).toBe(false);
  expect(failure.type).toBe('NetworkError');
  expect(failure.message).toContain('ECONNREFUSED');
});

test('a dropped connection is retryable; the retry resumes with Range from the heartbeat', async () => {
  const first = new MockActivityEnvironment();
  const beats: DownloadProgress[] = [];
  first.on('heartbeat', (d: DownloadProgress) => beats.push(d));
  const failure = await failureOf(first.run(download, { url: `${base}/drop`, outDir: dir, sha256: zipSha }));
  expect(failure.nonRetryable).toBe(false);
  expect(failure.type).toBe('DownloadInterrupted');
  expect(fs.existsSync(zipPathIn(dir))).toBe(false);
  expect(beats.length).toBeGreaterThan(0);
  const last = beats[beats.length - 1];
  expect(last.bytes).toBeGreaterThan(0);
  expect(last.total).toBe(zipBytes.length);

  const second = new MockActivityEnvironment({ heartbeatDetails: last });
  const result = await second.run(download, { url: `${base}/drop`, outDir: dir, sha256: zipSha });
  expect(seen[1].range).toBe(`bytes=${last.bytes}-`);
  expect(result).toEqual({ zipPath: zipPathIn(dir), bytes: zipBytes.length, sha256: zipSha });
  expect(fs.readFileSync(zipPathIn(dir)).equals(zipBytes)).toBe(true);
});

test('a server that ignores Range gets a clean restart from byte 0', async () => {
  const first = new MockActivityEnvironment();
  let last: DownloadProgress | undefined;
  first.on('heartbeat', (d: DownloadProgress) => (last = d));
  await failureOf(first.run(download, { url: `${base}/drop-no-range`, outDir: dir }));
  expect(last?.bytes).toBeGreaterThan(0);
  const result = (await new MockActivityEnvironment({ heartbeatDetails: last }).run(download, {
    url: `${base}/drop-no-range`,
    outDir: dir,
  })) as Awaited<ReturnType<typeof download>>;
  expect(seen[1].range).toBe(`bytes=${last!.bytes}-`);
  expect(result.sha256).toBe(zipSha);
  expect(fs.readFileSync(zipPathIn(dir)).equals(zipBytes)).toBe(true);
});

test('a body shorter than Content-Length is a retryable failure naming both sizes', async () => {
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `${base}/lying-length`, outDir: dir }));
  expect(failure.nonRetryable).toBe(false);
  expect(failure.message).toMatch(/KiB of .*KiB|got \d+ bytes, Content-Length says \d+/);
  expect(fs.existsSync(zipPathIn(dir))).toBe(false);
});

test('sha256 mismatch is non-retryable and leaves no file behind', async () => {
  const wrong = '0'.repeat(64);
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `${base}/ok`, outDir: dir, sha256: wrong }));
  expect(failure.type).toBe('Sha256Mismatch');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toContain(zipSha);
  expect(fs.readdirSync(path.join(dir, 'download'))).toEqual([]);
});

test('a source.zip already there with another sha256 is downloaded again', async () => {
  fs.mkdirSync(path.join(dir, 'download'));
  fs.writeFileSync(zipPathIn(dir), Buffer.concat([Buffer.from('PK\x03\x04'), Buffer.alloc(10)]));
  const result = (await new MockActivityEnvironment().run(download, { url: `${base}/ok`, outDir: dir, sha256: zipSha })) as Awaited<ReturnType<typeof download>>;
  expect(result.sha256).toBe(zipSha);
  expect(seen).toHaveLength(1);
});

test('content that is not a zip is non-retryable NotAZip', async () => {
  const failure = await failureOf(new MockActivityEnvironment().run(download, { url: `${base}/html`, outDir: dir }));
  expect(failure.type).toBe('NotAZip');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toContain('<htm');
  expect(fs.readdirSync(path.join(dir, 'download'))).toEqual([]);
});
