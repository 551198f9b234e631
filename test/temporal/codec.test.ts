/**
 * The payload codec (AES-256-GCM) and its codec endpoint, on real payloads from the SDK's converter and a real HTTP
 * server on 127.0.0.1.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  AesGcmCodec,
  CODEC_KEY_ENV,
  CODEC_KEY_FILE_ENV,
  codecKeyId,
  embeddedKeyFile,
  ensureEmbeddedKey,
  loadCodecKeys,
  parseCodecKeys,
} from '../../src/temporal/codec';
import { startCodecServer } from '../../src/temporal/codec-server';

const SECRET = 'https://bucket.example/lidc.zip?X-Amz-Signature=0123456789abcdef';
const payload = () => defaultPayloadConverter.toPayload({ source: SECRET, count: 3 });
const keyOf = (key: Buffer) => ({ id: codecKeyId(key), key });

let tmp: string;
beforeAll(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dicomflow-codec-'))));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('encrypts every payload (nothing readable, the key id in the metadata) and decodes it back', async () => {
  const key = keyOf(randomBytes(32));
  const codec = new AesGcmCodec([key]);
  const [plain] = [payload()];
  const [encoded] = await codec.encode([plain]);
  expect(Buffer.from(encoded.metadata!.encoding!).toString()).toBe('binary/encrypted');
  expect(Buffer.from(encoded.metadata!['encryption-key-id']!).toString()).toBe(key.id);
  expect(Buffer.from(encoded.data!).toString('latin1')).not.toContain('X-Amz-Signature');
  expect(Buffer.from(encoded.data!).toString('latin1')).not.toContain('json/plain');
  const [decoded] = await codec.decode([encoded]);
  expect(defaultPayloadConverter.fromPayload(decoded)).toEqual({ source: SECRET, count: 3 });
  // A fresh IV each time: the same value never gives the same bytes.
  const [again] = await codec.encode([plain]);
  expect(Buffer.from(again.data!).equals(Buffer.from(encoded.data!))).toBe(false);
});

test('payloads written before encryption pass through decoding unchanged', async () => {
  const codec = new AesGcmCodec([keyOf(randomBytes(32))]);
  const plain = payload();
  const [decoded] = await codec.decode([plain]);
  expect(decoded).toBe(plain);
});

test('rotation: a new first key encrypts, the old one still decrypts; a missing key or an altered payload is an error', async () => {
  const oldKey = keyOf(randomBytes(32));
  const newKey = keyOf(randomBytes(32));
  const [byOld] = await new AesGcmCodec([oldKey]).encode([payload()]);
  const rotated = new AesGcmCodec([newKey, oldKey]);
  expect(defaultPayloadConverter.fromPayload((await rotated.decode([byOld]))[0])).toEqual({ source: SECRET, count: 3 });
  const [byNew] = await rotated.encode([payload()]);
  expect(Buffer.from(byNew.metadata!['encryption-key-id']!).toString()).toBe(newKey.id);

  await expect(new AesGcmCodec([newKey]).decode([byOld])).rejects.toThrow(new RegExp(`encrypted with codec key ${oldKey.id}, which this process does not have`));
  const altered = { ...byNew, data: Buffer.from(byNew.data!) };
  altered.data[20] ^= 1;
  await expect(rotated.decode([altered])).rejects.toThrow(/does not authenticate/);
  // The key id is authenticated too: a payload relabelled to another key does not decrypt.
  const relabelled = { ...byOld, metadata: { ...byOld.metadata, 'encryption-key-id': Buffer.from(newKey.id) } };
  await expect(rotated.decode([relabelled])).rejects.toThrow(/does not authenticate/);
});

test('keys: base64 or hex, several per file with comments; anything else is refused with the way to make one', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);
  const keys = parseCodecKeys(`# current\n${a.toString('base64')}\n# old\n${b.toString('hex')}\n`, 'test');
  expect(keys.map((k) => k.id)).toEqual([codecKeyId(a), codecKeyId(b)]);
  expect(() => parseCodecKeys('c2hvcnQ=', 'DICOMFLOW_CODEC_KEY')).toThrow(/DICOMFLOW_CODEC_KEY: key 1 is not a 256-bit key .*openssl rand -base64 32/);
  expect(() => parseCodecKeys('# nothing\n', 'f')).toThrow(/holds no key/);
});

test('the embedded key is generated once, private (0600), and the same for processes that race to make it', () => {
  const dir = path.join(tmp, 'out');
  const files = Array.from({ length: 5 }, () => ensureEmbeddedKey(dir));
  expect(new Set(files)).toEqual(new Set([embeddedKeyFile(dir)]));
  expect(fs.statSync(embeddedKeyFile(dir)).mode & 0o777).toBe(0o600);
  expect(fs.readdirSync(path.dirname(embeddedKeyFile(dir)))).toEqual(['codec.key']); // no temporary files left
  const first = loadCodecKeys({ outDir: dir, env: {} });
  expect(loadCodecKeys({ outDir: dir, create: true, env: {} }).keys[0].id).toBe(first.keys[0].id);
  expect(first.from).toBe(embeddedKeyFile(dir));
});

test('where keys come from: the key file variable, then the key variable, then DIR; none is a clear error', () => {
  const file = path.join(tmp, 'my.key');
  const fromFile = randomBytes(32);
  const inline = randomBytes(32);
  fs.writeFileSync(file, fromFile.toString('base64'));
  const dir = path.join(tmp, 'with-key');
  ensureEmbeddedKey(dir);
  expect(loadCodecKeys({ outDir: dir, env: { [CODEC_KEY_FILE_ENV]: file, [CODEC_KEY_ENV]: inline.toString('base64') } }).keys[0].id).toBe(codecKeyId(fromFile));
  expect(loadCodecKeys({ outDir: dir, env: { [CODEC_KEY_ENV]: inline.toString('base64') } }).keys[0].id).toBe(codecKeyId(inline));
  expect(() => loadCodecKeys({ env: { [CODEC_KEY_FILE_ENV]: path.join(tmp, 'missing.key') } })).toThrow(/cannot read the payload codec key file .*missing\.key .*ENOENT/);
  // An external cluster's worker (no DIR) or a client whose DIR has no key: no silent plaintext.
  expect(() => loadCodecKeys({ env: {} })).toThrow(/no payload codec key: .*DICOMFLOW_CODEC_KEY/);
  expect(() => loadCodecKeys({ outDir: path.join(tmp, 'no-key'), env: {} })).toThrow(/no payload codec key/);
  expect(fs.existsSync(path.join(tmp, 'no-key'))).toBe(false);
});

test('the codec endpoint decodes per the codec server protocol and answers the Web UI origin`s CORS preflight', async () => {
  const codec = new AesGcmCodec([keyOf(randomBytes(32))]);
  const ui = 'http://127.0.0.1:8233';
  const { server, url } = await startCodecServer(codec, { port: 0, origins: [ui] });
  try {
    const [encoded] = await codec.encode([payload()]);
    const asJson = (p: typeof encoded) => ({
      metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])),
      data: Buffer.from(p.data!).toString('base64'),
    });
    const preflight = await fetch(`${url}/decode`, {
      method: 'OPTIONS',
      headers: { Origin: ui, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type,x-namespace' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(ui);
    expect(preflight.headers.get('access-control-allow-headers')).toBe('content-type,x-namespace');
    expect(preflight.headers.get('access-control-allow-methods')).toContain('POST');

    const res = await fetch(`${url}/decode`, {
      method: 'POST',
      headers: { Origin: ui, 'Content-Type': 'application/json', 'X-Namespace': 'default' },
      body: JSON.stringify({ payloads: [asJson(encoded)] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe(ui);
    const body = (await res.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(body.payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(body.payloads[0].data, 'base64').toString())).toEqual({ source: SECRET, count: 3 });

    // /encode is the inverse; another origin gets no CORS grant; bad bodies are 400, other paths 404.
    const enc = await fetch(`${url}/default/encode`, { method: 'POST', body: JSON.stringify({ payloads: body.payloads }) });
    const reencoded = ((await enc.json()) as { payloads: { metadata: Record<string, string> }[] }).payloads[0];
    expect(Buffer.from(reencoded.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
    const foreign = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${url}/decode`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await fetch(`${url}/other`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect(server.address()).toMatchObject({ address: '127.0.0.1' });
  } finally {
    server.close();
  }
});
